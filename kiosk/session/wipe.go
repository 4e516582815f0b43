package session

import (
	"image"

	"eidkiosk/idcard"
	"eidkiosk/internal/pii"
)

// endVisitData cancels work in flight and wipes every personal byte the
// engine holds. A sealing goroutine wipes its own enrollment.
func (e *Engine) endVisitData() {
	e.cancelFace()
	if e.visit != nil {
		if !e.visit.sealing {
			wipeEnrollment(&e.visit.enr)
		}
		wipeImage(e.visit.photo)
		e.visit = nil
		e.gen++ // late results of this visit are dropped (and wiped)
	}
	if e.sealCancel != nil {
		e.sealCancel()
		e.sealCancel = nil
	}
	e.face = FaceProgress{}
	e.retry = false
}

func (e *Engine) cancelFace() {
	if e.faceCancel != nil {
		e.faceCancel()
		e.faceCancel = nil
	}
}

func wipeCard(c *idcard.Card, photo image.Image) {
	c.Wipe()
	wipeImage(photo)
}

func wipeFace(f *FaceResult) {
	pii.Zero(f.Portrait)
	for _, b := range f.Liveness.Evidence {
		pii.Zero(b)
	}
	for _, b := range f.MatchFrames {
		pii.Zero(b)
	}
	*f = FaceResult{}
}

func wipeEnrollment(e *Enrollment) {
	e.Card.Wipe()
	wipeFace(&e.Face)
	*e = Enrollment{}
}

// wipeImage zeroes the pixels of the image types the kiosk produces.
func wipeImage(img image.Image) {
	switch m := img.(type) {
	case *image.RGBA:
		clear(m.Pix)
	case *image.NRGBA:
		clear(m.Pix)
	case *image.Gray:
		clear(m.Pix)
	case *image.YCbCr:
		clear(m.Y)
		clear(m.Cb)
		clear(m.Cr)
	}
}
