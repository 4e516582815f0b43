// Package facematch is 1:1 face matching: is the face in front of the kiosk
// the face on the ID card (or the photo the ministry holds)? It runs three
// ONNX models through OpenCV's DNN module (gocv): fr_detect finds face boxes,
// fr_landmark places 68 points in a box, and fr_feature turns a face aligned
// to a 112×112 crop into a 512-d embedding. The alignment is a least-squares
// similarity on five points (package align, pure Go), warped with
// cv::warpAffine. Scores are plain cosines; a live capture is the median of
// at least five frames' embeddings; package score turns a score into
// match / refer / no_match.
//
// It does not judge liveness (a photo of the card holder matches: that is
// kiosk/face's job), does not decode the card's WLT photo (a licensed
// decoder does), and keeps no picture or embedding after a call. The
// thresholds and the score distributions behind them are in
// docs/matching.md; the models, their licences and what is known of their
// training are in facemodel.
package facematch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
	"sync"

	"gocv.io/x/gocv"

	"eidkiosk/facematch/align"
	"eidkiosk/facematch/score"
)

// Sentinel errors callers act on.
var (
	// ErrNoFace: a picture or capture has no usable face.
	ErrNoFace = errors.New("facematch: no usable face")
	// ErrUnreadable: the bytes are not a picture or video OpenCV decodes.
	ErrUnreadable = errors.New("facematch: unreadable picture")
)

// Models are the ONNX files' bytes (facemodel.Load verifies them).
type Models struct {
	Detect, Landmark, Feature []byte
}

// Quality bounds what counts as a usable face for matching.
type Quality struct {
	// MinFace is the smallest face box side in pixels (the 68-frame
	// Jesper webcam clip has 63–67 px faces; a 102×126 chip photo's face
	// is about 60 px).
	MinFace int
	// MaxAlignRMS bounds the residual of the five-point fit in crop pixels
	// (112×112): above it the landmarks do not describe a near-frontal
	// face. Webcam frames of the shared videos stay at 1.7–5.0, frontal
	// portraits at 1.3–4.6, a turned head (Wayne) 6.2, a three-quarter view
	// in the bar photo 9.9.
	MaxAlignRMS float64
}

// DefaultQuality keeps every face of the shared set that a person would
// compare, and drops detections too small for the embedding model and
// faces in three-quarter view.
var DefaultQuality = Quality{MinFace: 40, MaxAlignRMS: 8}

// Matcher holds the three networks. Its methods are safe for concurrent
// use (they take turns: one core's worth of work at a time).
type Matcher struct {
	mu                        sync.Mutex
	detect, landmark, feature gocv.Net
	q                         Quality
	closed                    bool
}

// New loads the networks from their bytes.
func New(m Models, q Quality) (*Matcher, error) {
	if len(m.Detect) == 0 || len(m.Landmark) == 0 || len(m.Feature) == 0 {
		return nil, errors.New("facematch: a model is missing")
	}
	if q.MinFace <= 0 {
		q.MinFace = DefaultQuality.MinFace
	}
	if q.MaxAlignRMS <= 0 {
		q.MaxAlignRMS = DefaultQuality.MaxAlignRMS
	}
	var nets [3]gocv.Net
	for i, b := range [][]byte{m.Detect, m.Landmark, m.Feature} {
		n, err := gocv.ReadNetFromONNXBytes(b)
		if err != nil || n.Empty() {
			for _, p := range nets[:i] {
				p.Close()
			}
			if err == nil {
				err = errors.New("empty network")
			}
			return nil, fmt.Errorf("facematch: load %s: %w", [3]string{"detect", "landmark", "feature"}[i], err)
		}
		nets[i] = n
	}
	return &Matcher{detect: nets[0], landmark: nets[1], feature: nets[2], q: q}, nil
}

// Close frees the networks.
func (m *Matcher) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	return errors.Join(m.detect.Close(), m.landmark.Close(), m.feature.Close())
}

// Face is one detected face.
type Face struct {
	Box   image.Rectangle // squared to its height, clipped to the picture
	Score float32         // detector confidence, ≥ 0.65
	// Points are the five alignment points (eyes, nose tip, mouth corners)
	// in picture pixels; RMS is the residual of their fit to the reference
	// in crop pixels. Both are set by Landmarks.
	Points [5]align.Point
	RMS    float64
}

// detector constants of fr_detect (version-RFB-320): the input size, the
// score threshold and the suppression overlap of the package's own NMS.
const (
	detW, detH   = 320, 240
	detMinScore  = 0.65
	detNMSThresh = 0.4
)

// Detect returns every face in img (BGR), largest first.
func (m *Matcher) Detect(img gocv.Mat) ([]Face, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.detectLocked(img)
}

func (m *Matcher) detectLocked(img gocv.Mat) ([]Face, error) {
	if m.closed {
		return nil, errors.New("facematch: matcher closed")
	}
	if img.Empty() || img.Channels() != 3 {
		return nil, fmt.Errorf("%w: want a 3-channel picture", ErrUnreadable)
	}
	// The detector's input is 4:3. The package stretches any picture to it;
	// a portrait-shaped picture (a 102×126 chip photo) is then squeezed
	// three times across and its face is missed, so it is letterboxed
	// here with mid-grey instead.
	pic, off := img, image.Point{}
	if w, h := img.Cols(), img.Rows(); w*detH != h*detW {
		pw, ph := max(w, (h*detW+detH-1)/detH), max(h, (w*detH+detW-1)/detW)
		off = image.Pt((pw-w)/2, (ph-h)/2)
		pic = gocv.NewMat()
		defer pic.Close()
		gocv.CopyMakeBorder(img, &pic, off.Y, ph-h-off.Y, off.X, pw-w-off.X, gocv.BorderConstant, color.RGBA{127, 127, 127, 0})
	}
	// The package's JavaScript hands the detector B,G,R (its conversions
	// are named for BGR but run on RGBA): OpenCV's BGR order as is.
	blob := gocv.BlobFromImage(pic, 1.0/128, image.Pt(detW, detH), gocv.NewScalar(127, 127, 127, 0), false, false)
	defer blob.Close()
	m.detect.SetInput(blob, "")
	outs := m.detect.ForwardLayers([]string{"scores", "boxes"})
	defer func() {
		for _, o := range outs {
			o.Close()
		}
	}()
	if len(outs) != 2 {
		return nil, fmt.Errorf("facematch: detector gave %d outputs", len(outs))
	}
	scores, err := outs[0].DataPtrFloat32()
	if err != nil {
		return nil, fmt.Errorf("facematch: detector scores: %w", err)
	}
	boxes, err := outs[1].DataPtrFloat32()
	if err != nil {
		return nil, fmt.Errorf("facematch: detector boxes: %w", err)
	}
	n := len(scores) / 2
	if len(boxes) != 4*n {
		return nil, fmt.Errorf("facematch: detector gave %d scores and %d box values", n, len(boxes))
	}
	type cand struct {
		x1, y1, x2, y2 float64
		s              float32
	}
	var cs []cand
	for i := 0; i < n; i++ {
		s := scores[2*i+1]
		if s < detMinScore {
			continue
		}
		c := cand{float64(boxes[4*i]) * detW, float64(boxes[4*i+1]) * detH, float64(boxes[4*i+2]) * detW, float64(boxes[4*i+3]) * detH, s}
		if c.x2 > c.x1 && c.y2 > c.y1 {
			cs = append(cs, c)
		}
	}
	// The package's suppression: by bottom edge, dropping boxes that lie
	// for 40 % of their own area inside a kept one.
	slices.SortStableFunc(cs, func(a, b cand) int { return cmpF(a.y2, b.y2) })
	var kept []cand
	for len(cs) > 0 {
		k := cs[0]
		kept = append(kept, k)
		rest := cs[:0:0]
		for _, c := range cs[1:] {
			w := math.Max(0, math.Min(c.x2, k.x2)-math.Max(c.x1, k.x1)+1)
			h := math.Max(0, math.Min(c.y2, k.y2)-math.Max(c.y1, k.y1)+1)
			if w*h/((c.x2-c.x1)*(c.y2-c.y1)) < detNMSThresh {
				rest = append(rest, c)
			}
		}
		cs = rest
	}
	sx, sy := float64(pic.Cols())/detW, float64(pic.Rows())/detH
	ox, oy := float64(off.X), float64(off.Y)
	faces := make([]Face, 0, len(kept))
	for _, k := range kept {
		x1, y1, x2, y2 := k.x1*sx-ox, k.y1*sy-oy, k.x2*sx-ox, k.y2*sy-oy
		side := y2 - y1 // squared to its height, as the package does
		cx, cy := (x1+x2)/2, (y1+y2)/2
		r := image.Rect(int(cx-side/2), int(cy-side/2), int(cx+side/2), int(cy+side/2)).
			Intersect(image.Rect(0, 0, img.Cols(), img.Rows()))
		if r.Empty() {
			continue
		}
		faces = append(faces, Face{Box: r, Score: k.s})
	}
	slices.SortStableFunc(faces, func(a, b Face) int {
		return b.Box.Dx()*b.Box.Dy() - a.Box.Dx()*a.Box.Dy()
	})
	return faces, nil
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// landmarks places the 68 points in f.Box and sets f.Points and f.RMS.
func (m *Matcher) landmarksLocked(img gocv.Mat, f *Face) error {
	roi := img.Region(f.Box)
	defer roi.Close()
	grey := gocv.NewMat()
	defer grey.Close()
	// The package feeds grey made with the red and blue weights swapped.
	gocv.CvtColor(roi, &grey, gocv.ColorRGBToGray)
	blob := gocv.BlobFromImage(grey, 1.0/256, image.Pt(64, 64), gocv.NewScalar(0, 0, 0, 0), false, false)
	defer blob.Close()
	v, err := forward(&m.landmark, blob, "landmark", 136)
	if err != nil {
		return err
	}
	lm := make([]align.Point, 68)
	w, h := float64(f.Box.Dx()), float64(f.Box.Dy())
	for i := range lm {
		lm[i] = align.Point{X: float64(f.Box.Min.X) + float64(v[2*i])*w, Y: float64(f.Box.Min.Y) + float64(v[2*i+1])*h}
	}
	p, err := align.FivePoints(lm)
	if err != nil {
		return err
	}
	s, err := align.Fit(p[:], align.Reference112[:])
	if err != nil {
		return err
	}
	f.Points, f.RMS = p, align.RMS(s, p[:], align.Reference112[:])
	return nil
}

// usable reports whether f is good enough to compare.
func (m *Matcher) usable(f Face) bool {
	return min(f.Box.Dx(), f.Box.Dy()) >= m.q.MinFace && f.RMS <= m.q.MaxAlignRMS
}

// embedLocked warps f to the 112×112 crop and runs the feature model.
func (m *Matcher) embedLocked(img gocv.Mat, f Face) (score.Embedding, error) {
	s, err := align.Fit(f.Points[:], align.Reference112[:])
	if err != nil {
		return nil, err
	}
	mv := s.Matrix()
	mat := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer mat.Close()
	for i, x := range mv {
		mat.SetDoubleAt(i/3, i%3, x)
	}
	crop := gocv.NewMat()
	defer crop.Close()
	gocv.WarpAffineWithParams(img, &crop, mat, image.Pt(112, 112), gocv.InterpolationLinear, gocv.BorderConstant, color.RGBA{})
	// fr_feature takes R,G,B.
	blob := gocv.BlobFromImage(crop, 1.0/128, image.Pt(112, 112), gocv.NewScalar(127, 127, 127, 0), true, false)
	defer blob.Close()
	v, err := forward(&m.feature, blob, "feature", 512)
	if err != nil {
		return nil, err
	}
	return score.Normalize(v), nil
}

// forward runs net on blob and returns its output, which must hold want
// values (read before the output Mat is freed).
func forward(net *gocv.Net, blob gocv.Mat, model string, want int) ([]float32, error) {
	net.SetInput(blob, "")
	out := net.Forward("")
	defer out.Close()
	v, err := out.DataPtrFloat32()
	if err != nil {
		return nil, fmt.Errorf("facematch: %s model output: %w", model, err)
	}
	if len(v) != want {
		return nil, fmt.Errorf("facematch: %s model gave %d values, want %d", model, len(v), want)
	}
	return slices.Clone(v), nil
}

// Embed returns the embedding of the largest face in img (BGR) and that
// face, or ErrNoFace when the largest face is missing, too small or not
// frontal enough.
func (m *Matcher) Embed(img gocv.Mat) (score.Embedding, Face, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	faces, err := m.detectLocked(img)
	if err != nil {
		return nil, Face{}, err
	}
	if len(faces) == 0 {
		return nil, Face{}, fmt.Errorf("%w: no face found", ErrNoFace)
	}
	return m.embedFaceLocked(img, faces[0])
}

// EmbedFace is Embed for a face the caller chose among Detect's.
func (m *Matcher) EmbedFace(img gocv.Mat, f Face) (score.Embedding, Face, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, f, errors.New("facematch: matcher closed")
	}
	return m.embedFaceLocked(img, f)
}

func (m *Matcher) embedFaceLocked(img gocv.Mat, f Face) (score.Embedding, Face, error) {
	if err := m.landmarksLocked(img, &f); err != nil {
		return nil, f, err
	}
	if !m.usable(f) {
		return nil, f, fmt.Errorf("%w: face of %d px, alignment residual %.1f px", ErrNoFace, f.Box.Dy(), f.RMS)
	}
	e, err := m.embedLocked(img, f)
	return e, f, err
}

// DecodeImage decodes a JPEG, PNG or BMP into a BGR Mat (the caller closes
// it).
func DecodeImage(b []byte) (gocv.Mat, error) {
	img, err := gocv.IMDecode(b, gocv.IMReadColor)
	if err != nil || img.Empty() {
		img.Close()
		return gocv.NewMat(), ErrUnreadable
	}
	return img, nil
}

// MatFromImage copies a Go image into a BGR Mat (the caller closes it).
func MatFromImage(img image.Image) (gocv.Mat, error) {
	b := img.Bounds()
	if b.Empty() {
		return gocv.NewMat(), fmt.Errorf("%w: empty picture", ErrUnreadable)
	}
	buf := make([]byte, 0, b.Dx()*b.Dy()*3)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			buf = append(buf, byte(bl>>8), byte(g>>8), byte(r>>8))
		}
	}
	defer clear(buf)
	mat, err := gocv.NewMatFromBytes(b.Dy(), b.Dx(), gocv.MatTypeCV8UC3, buf)
	if err != nil {
		return mat, fmt.Errorf("facematch: %w", err)
	}
	// NewMatFromBytes shares buf's memory: hand back an owned copy.
	out := mat.Clone()
	mat.Close()
	return out, nil
}

// EmbedBytes is Embed on an encoded picture.
func (m *Matcher) EmbedBytes(b []byte) (score.Embedding, error) {
	img, err := DecodeImage(b)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	e, _, err := m.Embed(img)
	return e, err
}

// Capture is the embeddings of a live capture's usable frames.
type Capture struct {
	Frames []score.Embedding
	Seen   int // frames looked at
}

// Add embeds the largest face of a frame when it is usable; it reports
// whether the frame counted. Errors other than ErrNoFace are returned.
func (c *Capture) Add(m *Matcher, frame gocv.Mat) (bool, error) {
	c.Seen++
	e, _, err := m.Embed(frame)
	if errors.Is(err, ErrNoFace) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	c.Frames = append(c.Frames, e)
	return true, nil
}

// Template is the capture's median template (score.MinFrames at least).
func (c *Capture) Template() (score.Embedding, error) {
	t, err := score.Template(c.Frames, score.MinFrames)
	if errors.Is(err, score.ErrTooFewFrames) {
		return nil, fmt.Errorf("%w: %d usable frames of %d, want %d", ErrNoFace, len(c.Frames), c.Seen, score.MinFrames)
	}
	return t, err
}

// Result is one comparison. Score is for officers and technicians only.
type Result struct {
	Decision score.Decision `json:"decision"`
	Score    float64        `json:"score"`
	Frames   int            `json:"frames"` // usable probe frames in the template
}

// Match implements authority/intake.FaceMatcher: the cosine between the
// largest face of reference (an encoded picture) and the median template of
// the capture's frames (JPEGs: a kiosk's portrait and liveness evidence),
// with the number of frames that held a usable face (score.MinFrames at
// least, or an error wrapping ErrNoFace).
func (m *Matcher) Match(ctx context.Context, reference []byte, frames [][]byte) (float64, int, error) {
	ref, err := m.EmbedBytes(reference)
	if err != nil {
		return 0, 0, fmt.Errorf("facematch: reference: %w", err)
	}
	return m.matchFrames(ctx, ref, frames)
}

// MatchPicture is Match with a decoded reference picture (the card photo
// from a WLT decoder).
func (m *Matcher) MatchPicture(ctx context.Context, reference image.Image, frames [][]byte) (float64, int, error) {
	img, err := MatFromImage(reference)
	if err != nil {
		return 0, 0, fmt.Errorf("facematch: reference: %w", err)
	}
	ref, _, err := m.Embed(img)
	img.Close()
	if err != nil {
		return 0, 0, fmt.Errorf("facematch: reference: %w", err)
	}
	return m.matchFrames(ctx, ref, frames)
}

func (m *Matcher) matchFrames(ctx context.Context, ref score.Embedding, frames [][]byte) (float64, int, error) {
	var c Capture
	for _, f := range frames {
		if err := ctx.Err(); err != nil {
			return 0, 0, fmt.Errorf("facematch: %w", err)
		}
		img, err := DecodeImage(f)
		if err != nil {
			c.Seen++
			continue
		}
		_, err = c.Add(m, img)
		img.Close()
		if err != nil {
			return 0, 0, err
		}
	}
	tpl, err := c.Template()
	if err != nil {
		return 0, 0, fmt.Errorf("facematch: capture: %w", err)
	}
	return score.Cosine(ref, tpl), len(c.Frames), nil
}

// jpegBytes encodes img as a JPEG of the given quality, optimised.
func jpegBytes(img gocv.Mat, quality int) ([]byte, error) {
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, img, []int{gocv.IMWriteJpegQuality, quality, gocv.IMWriteJpegOptimize, 1})
	if err != nil {
		return nil, fmt.Errorf("facematch: encode: %w", err)
	}
	defer buf.Close()
	return bytes.Clone(buf.GetBytes()), nil
}
