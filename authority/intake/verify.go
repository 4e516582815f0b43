package intake

import (
	"context"
	"fmt"

	"eidkiosk/enroll"
)

// Flag kinds.
const (
	FlagDuplicateNumber = "duplicate_id_number" // another enrollment carries the same ID number
	FlagFaceMismatch    = "face_mismatch"       // the portrait does not match the card photo
	FlagFaceUnchecked   = "face_unchecked"      // the face matcher failed; a person must look
	FlagNotLive         = "not_live"            // the kiosk's liveness verdict was negative
)

// Flag marks an enrollment for a person to look at. Detail must not carry
// personal data.
type Flag struct {
	Kind   string
	Detail string
}

// Verifier is one of the authority's own checks, run after an enrollment is
// stored. It must not keep the record, which is wiped after the call.
type Verifier interface {
	Name() string
	Verify(ctx context.Context, r *enroll.Record) ([]Flag, error)
}

// FaceMatcher compares the live portrait with the card's photo. cardPhoto
// is the raw WLT block from the chip (decoding it needs the Ministry's
// licensed decoder); portrait is a JPEG. Score is in [0,1].
type FaceMatcher interface {
	Match(ctx context.Context, cardPhoto, portrait []byte) (score float64, err error)
}

// FaceCheck is the Verifier that runs a FaceMatcher: below Threshold it
// flags face_mismatch, on error face_unchecked.
type FaceCheck struct {
	Matcher   FaceMatcher
	Threshold float64
}

// Name implements Verifier.
func (FaceCheck) Name() string { return "face" }

// Verify implements Verifier.
func (f FaceCheck) Verify(ctx context.Context, r *enroll.Record) ([]Flag, error) {
	score, err := f.Matcher.Match(ctx, r.Card.Photo, r.Portrait)
	if err != nil {
		return []Flag{{Kind: FlagFaceUnchecked, Detail: "matcher failed"}}, nil
	}
	if score < f.Threshold {
		return []Flag{{Kind: FlagFaceMismatch, Detail: fmt.Sprintf("score %.3f below %.3f", score, f.Threshold)}}, nil
	}
	return nil, nil
}

// LivenessCheck flags enrollments whose kiosk judged the presentation not
// live (the kiosk normally stops such visits; this catches a modified one).
type LivenessCheck struct{}

// Name implements Verifier.
func (LivenessCheck) Name() string { return "liveness" }

// Verify implements Verifier.
func (LivenessCheck) Verify(ctx context.Context, r *enroll.Record) ([]Flag, error) {
	if !r.Liveness.Live {
		return []Flag{{Kind: FlagNotLive, Detail: "kiosk verdict: not live"}}, nil
	}
	return nil, nil
}

// runVerifiers runs the pluggable checks and stores their flags. A failing
// check is logged (by name, never with data) and does not undo the intake.
func (in *Intake) runVerifiers(ctx context.Context, r *enroll.Record) {
	now := in.clock.Now().UnixMilli()
	for _, v := range in.verifiers {
		flags, err := v.Verify(ctx, r)
		if err != nil {
			in.log.Warn("intake: verifier failed", "verifier", v.Name(), "enrollment", r.EnrollmentID, "err", err)
			continue
		}
		for _, f := range flags {
			if err := insertFlag(ctx, in.db, in.db.Rebind, r.EnrollmentID, f, now); err != nil {
				in.log.Warn("intake: store flag", "verifier", v.Name(), "enrollment", r.EnrollmentID, "err", err)
			}
		}
	}
}
