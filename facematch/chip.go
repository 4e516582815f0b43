package facematch

import (
	"fmt"
	"image"
	"image/color"

	"gocv.io/x/gocv"
)

// Chip-photo geometry: the card chip holds a 102×126 portrait compressed to
// at most 1,024 bytes (GA 467 reference §8).
const (
	ChipW, ChipH = 102, 126
	ChipMaxBytes = 1024
)

// Chip makes an ID-chip-like copy of face f of img: cropped as an ID photo
// (head and shoulders, the face box 70 % of the width, its centre a
// little above the middle), scaled to 102×126 and stored as an optimised
// JPEG of at most 1,024 bytes (the highest quality that fits). It stands in
// for the decoded WLT photo, which no open codec produces, in calibration
// and in the simulator's test deck.
func Chip(img gocv.Mat, f Face) ([]byte, error) { return ChipWithin(img, f, ChipMaxBytes) }

// ChipWithin is Chip with another size limit (a container with a header
// leaves less room).
func ChipWithin(img gocv.Mat, f Face, maxBytes int) ([]byte, error) {
	side := float64(f.Box.Dy())
	w := side / chipFaceFrac
	h := w * ChipH / ChipW
	cx := float64(f.Box.Min.X+f.Box.Max.X) / 2
	cy := float64(f.Box.Min.Y+f.Box.Max.Y)/2 + 0.05*h
	r := image.Rect(int(cx-w/2), int(cy-h/2), int(cx+w/2), int(cy+h/2))
	// Pad with the edge pixels where the crop leaves the picture.
	pad := max(0, -r.Min.X, -r.Min.Y, r.Max.X-img.Cols(), r.Max.Y-img.Rows())
	src := img
	if pad > 0 {
		src = gocv.NewMat()
		defer src.Close()
		gocv.CopyMakeBorder(img, &src, pad, pad, pad, pad, gocv.BorderReplicate, color.RGBA{})
		r = r.Add(image.Pt(pad, pad))
	}
	roi := src.Region(r)
	defer roi.Close()
	small := gocv.NewMat()
	defer small.Close()
	gocv.Resize(roi, &small, image.Pt(ChipW, ChipH), 0, 0, gocv.InterpolationArea)
	for q := 95; q >= 2; q-- {
		b, err := jpegBytes(small, q)
		if err != nil {
			return nil, err
		}
		if len(b) <= maxBytes {
			return b, nil
		}
	}
	return nil, fmt.Errorf("facematch: chip photo does not fit in %d bytes", maxBytes)
}

// chipFaceFrac is the face box's share of the chip photo's width. ID photos
// show the head at about 0.54–0.62 of the width (hair and ears included);
// the detector's box is narrower than the head. Matching at 102 px is
// sensitive to it: on the shared faces 0.5 loses two of the four
// same-person pairs, 0.6 one (Jesper's bar face, 0.25), 0.7 and 0.8 none
// (docs/matching.md). Recalibrate on real chip photos.
const chipFaceFrac = 0.7
