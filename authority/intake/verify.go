package intake

import (
	"context"
	"errors"
	"fmt"

	"eidkiosk/enroll"
	"eidkiosk/facematch/score"
	"eidkiosk/internal/pii"
)

// Flag kinds.
const (
	FlagDuplicateNumber = "duplicate_id_number" // another enrollment carries the same ID number
	FlagFaceMismatch    = "face_mismatch"       // the live face is not the reference photo's (no_match)
	FlagFaceRefer       = "face_refer"          // the comparison is inconclusive: an officer must look
	FlagFaceUnchecked   = "face_unchecked"      // no reference, or the matcher failed; a person must look
	FlagKioskFaceRefer  = "kiosk_face_refer"    // the kiosk's comparison with the card photo was inconclusive
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

// FaceMatcher compares a live capture with a reference picture. reference
// is an encoded picture (JPEG, PNG or BMP); capture is the kiosk's frames
// (the portrait and the liveness evidence, JPEGs). Score is a cosine in
// [−1, 1]; frames is how many capture frames held a usable face.
// facematch.Matcher is the reference implementation.
type FaceMatcher interface {
	Match(ctx context.Context, reference []byte, capture [][]byte) (score float64, frames int, err error)
}

// PhotoDecoder decodes the card chip's 1,024-byte WLT photo (a licensed
// vendor decoder; the authority ships none) into an encoded picture.
type PhotoDecoder interface {
	DecodePhoto(ctx context.Context, wlt []byte) ([]byte, error)
}

// References looks up the registered reference photo of an ID number
// (Intake.Photo); ErrNoPhoto when there is none.
type References interface {
	Photo(ctx context.Context, number string) ([]byte, error)
}

// FaceCheck is the Verifier that compares the enrollment's live capture
// with the holder's reference photo (the registry), or with the decoded card
// photo when no reference is registered and a decoder is configured. It
// flags face_mismatch below Thresholds.Refer, face_refer below
// Thresholds.Match, and face_unchecked when nothing could be compared. The
// score goes into the flag's detail (for officers), never to the citizen.
type FaceCheck struct {
	Matcher    FaceMatcher
	Thresholds score.Thresholds
	References References   // nil: no registry
	CardPhotos PhotoDecoder // nil: the WLT photo is not decoded
}

// Name implements Verifier.
func (FaceCheck) Name() string { return "face" }

// Verify implements Verifier.
func (f FaceCheck) Verify(ctx context.Context, r *enroll.Record) ([]Flag, error) {
	ref, source, err := f.reference(ctx, r)
	if err != nil {
		return []Flag{{Kind: FlagFaceUnchecked, Detail: err.Error()}}, nil
	}
	defer pii.Zero(ref)
	capture := Capture(r)
	s, n, err := f.Matcher.Match(ctx, ref, capture)
	if err != nil {
		return []Flag{{Kind: FlagFaceUnchecked, Detail: "matcher failed against the " + source}}, nil
	}
	detail := fmt.Sprintf("score %.3f against the %s over %d frames (match ≥ %.2f, refer ≥ %.2f)", s, source, n, f.Thresholds.Match, f.Thresholds.Refer)
	switch f.Thresholds.Decide(s) {
	case score.NoMatch:
		return []Flag{{Kind: FlagFaceMismatch, Detail: detail}}, nil
	case score.Refer:
		return []Flag{{Kind: FlagFaceRefer, Detail: detail}}, nil
	}
	return nil, nil
}

// maxMatchFrames bounds the match frames a record may carry.
const maxMatchFrames = 16

// Capture is an enrollment's live capture for the face comparison: the
// portrait, the liveness evidence and the match frames.
func Capture(r *enroll.Record) [][]byte {
	out := append([][]byte{r.Portrait}, r.Liveness.Evidence...)
	return append(out, r.MatchFrames...)
}

// reference finds the picture to compare with and names its source.
func (f FaceCheck) reference(ctx context.Context, r *enroll.Record) ([]byte, string, error) {
	if f.References != nil {
		b, err := f.References.Photo(ctx, r.Card.Number)
		if err == nil {
			return b, "reference photo", nil
		}
		if !errors.Is(err, ErrNoPhoto) {
			return nil, "", errors.New("reference photo registry failed")
		}
	}
	if f.CardPhotos == nil || len(r.Card.Photo) == 0 {
		return nil, "", errors.New("no reference photo and no decoded card photo")
	}
	b, err := f.CardPhotos.DecodePhoto(ctx, r.Card.Photo)
	if err != nil {
		return nil, "", errors.New("no reference photo; the card photo did not decode")
	}
	return b, "card photo", nil
}

// KioskMatchCheck flags enrollments whose kiosk referred its comparison
// with the card photo to an officer (a no_match never reaches the
// authority: the kiosk ends the visit). It always runs.
type KioskMatchCheck struct{}

// Name implements Verifier.
func (KioskMatchCheck) Name() string { return "kiosk-face" }

// Verify implements Verifier.
func (KioskMatchCheck) Verify(ctx context.Context, r *enroll.Record) ([]Flag, error) {
	if m := r.FaceMatch; m != nil && m.Decision != string(score.Match) {
		return []Flag{{Kind: FlagKioskFaceRefer, Detail: fmt.Sprintf("kiosk decision %s, score %.3f over %d frames against the card photo", m.Decision, m.Score, m.Frames)}}, nil
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

// reportChecked tells Reviews the stored flags of a new enrollment. A
// failure is logged and leaves the enrollment received (an officer sees it
// in the counts); it does not undo the intake.
func (in *Intake) reportChecked(ctx context.Context, id string) {
	if in.reviews == nil {
		return
	}
	kinds, err := in.flags(ctx, id)
	if err == nil {
		err = in.reviews.Checked(ctx, id, kinds)
	}
	if err != nil {
		in.log.Warn("intake: record status", "enrollment", id, "err", err)
	}
}
