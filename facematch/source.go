package facematch

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gocv.io/x/gocv"

	"eidkiosk/facematch/score"
)

// MaxVideoFrames bounds the frames of a video judged as a capture: they are
// spread evenly over the whole recording (a kiosk capture keeps about as
// many).
const MaxVideoFrames = 25

// videoExts are the files read as videos; anything else is a picture.
var videoExts = map[string]bool{".mp4": true, ".avi": true, ".mkv": true, ".webm": true, ".mov": true, ".mjpeg": true}

// IsVideo reports whether path names a video by its extension.
func IsVideo(path string) bool { return videoExts[strings.ToLower(filepath.Ext(path))] }

// EmbedFile returns the template of a picture (its largest face) or of a
// video judged as a capture (the median over up to max usable frames spread
// over the recording, at least score.MinFrames), with the number of frames
// in it. The file is read, never written or copied.
func (m *Matcher) EmbedFile(path string, max int) (score.Embedding, int, error) {
	if !IsVideo(path) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, 0, fmt.Errorf("facematch: %w", err)
		}
		e, err := m.EmbedBytes(b)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		return e, 1, nil
	}
	c, err := m.CaptureVideo(path, max)
	if err != nil {
		return nil, 0, err
	}
	t, err := c.Template()
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return t, len(c.Frames), nil
}

// CaptureVideo embeds up to max frames spread evenly over a video (all of
// them for max ≤ 0).
func (m *Matcher) CaptureVideo(path string, max int) (*Capture, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("facematch: %w", err)
	}
	vc, err := gocv.VideoCaptureFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreadable, filepath.Base(path), err)
	}
	defer vc.Close()
	if !vc.IsOpened() {
		return nil, fmt.Errorf("%w: %s", ErrUnreadable, filepath.Base(path))
	}
	total := int(vc.Get(gocv.VideoCaptureFrameCount))
	step := 1
	if max > 0 && total > max {
		step = (total + max - 1) / max
	}
	frame := gocv.NewMat()
	defer frame.Close()
	c := &Capture{}
	for i := 0; vc.Read(&frame); i++ {
		if frame.Empty() {
			break
		}
		if i%step != 0 {
			continue
		}
		if _, err := c.Add(m, frame); err != nil {
			return nil, err
		}
	}
	if c.Seen == 0 {
		return nil, fmt.Errorf("%w: %s: no frames", ErrUnreadable, filepath.Base(path))
	}
	return c, nil
}

// CompareFiles compares a reference and a probe, each a picture or a video
// (a video is judged as a capture of up to max frames). A picture probe
// counts as one frame. An error says which side has no usable face.
func (m *Matcher) CompareFiles(reference, probe string, th score.Thresholds, max int) (Result, error) {
	ref, _, err := m.EmbedFile(reference, max)
	if err != nil {
		return Result{}, fmt.Errorf("reference %w", err)
	}
	p, n, err := m.EmbedFile(probe, max)
	if err != nil {
		return Result{}, fmt.Errorf("probe %w", err)
	}
	s := score.Cosine(ref, p)
	return Result{Decision: th.Decide(s), Score: s, Frames: n}, nil
}
