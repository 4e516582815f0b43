package face

import (
	"context"
	"image"
	"sort"
	"time"

	"gocv.io/x/gocv"

	"eidkiosk/kiosk/face/measure"
)

// Sample is one quality-passing frame of a capture, for 1:1 matching
// against the card holder's photo.
type Sample struct {
	Frame     gocv.Mat          // the whole BGR frame; valid only during the OnSamples call (zeroed after)
	T         time.Time         // frame time
	Box       image.Rectangle   // the face, frame pixels
	Landmarks measure.Landmarks // 68 landmarks, frame pixels; Landmarks.Five() gives the 5 alignment points
	Score     float64           // the quality gate's score (higher: sharper, more frontal)
}

// SamplesFunc receives the samples of a live capture before they are
// wiped. An error ends the capture with it.
type SamplesFunc func(ctx context.Context, s []Sample) error

// sampleSpan: samples are spread over the capture, the best frame of each
// span kept, so that a template is not five copies of one moment.
const sampleSpan = 400 * time.Millisecond

// samples keeps the best quality-passing frame of each sampleSpan, at most
// max spans (the lowest-scoring span's frame is dropped for a better one).
type samples struct {
	max  int
	keep []Sample
}

func (s *samples) offer(frame gocv.Mat, f *measure.Frame, score float64) {
	if s.max <= 0 {
		return
	}
	span := f.T.Truncate(sampleSpan)
	for i := range s.keep {
		if s.keep[i].T.Truncate(sampleSpan).Equal(span) {
			if score > s.keep[i].Score {
				s.set(&s.keep[i], frame, f, score)
			}
			return
		}
	}
	if len(s.keep) < s.max {
		s.keep = append(s.keep, Sample{Frame: gocv.NewMat()})
		s.set(&s.keep[len(s.keep)-1], frame, f, score)
		return
	}
	worst := 0
	for i := range s.keep {
		if s.keep[i].Score < s.keep[worst].Score {
			worst = i
		}
	}
	if score > s.keep[worst].Score {
		s.set(&s.keep[worst], frame, f, score)
	}
}

func (s *samples) set(dst *Sample, frame gocv.Mat, f *measure.Frame, score float64) {
	frame.CopyTo(&dst.Frame)
	dst.T, dst.Box, dst.Landmarks, dst.Score = f.T, f.Box, f.Landmarks, score
}

// sorted returns the samples in time order.
func (s *samples) sorted() []Sample {
	out := append([]Sample(nil), s.keep...)
	sort.Slice(out, func(i, j int) bool { return out[i].T.Before(out[j].T) })
	return out
}

// wipe zeroes and frees the kept frames and forgets the landmarks.
func (s *samples) wipe() {
	for i := range s.keep {
		m := &s.keep[i].Frame
		if !m.Empty() {
			m.SetTo(gocv.NewScalar(0, 0, 0, 0))
		}
		m.Close()
	}
	s.keep = nil
}
