package review

import (
	"context"
	"errors"
	"fmt"
	"time"

	"eidkiosk/authority/intake"
	"eidkiosk/enroll"
	"eidkiosk/internal/pii"
)

// Source opens stored enrollments: authority/intake's *Intake.
type Source interface {
	// Show returns the stored row, its flags (with details) and the record
	// with personal fields masked and pictures dropped.
	Show(ctx context.Context, idOrShort string, reveal bool) (*intake.Detail, error)
	// Record opens the whole record; the caller wipes it.
	Record(ctx context.Context, id string) (*enroll.Record, error)
	// Photo is the holder's registered reference photo (intake.ErrNoPhoto).
	Photo(ctx context.Context, number string) ([]byte, error)
}

// Case is what an officer sees of one enrollment: nothing more than the
// decision needs. The ID number and name are masked; the address is not
// here (Address, audited); the pictures are fetched one by one (Picture).
type Case struct {
	EnrollmentID string       `json:"enrollment_id"`
	Short        string       `json:"short"`
	Status       Status       `json:"status"`
	StationID    string       `json:"station"`
	DeviceID     string       `json:"device"`
	Received     time.Time    `json:"received"`
	Name         string       `json:"name"`   // masked
	Number       string       `json:"number"` // masked
	Flags        []string     `json:"flags"`
	FlagDetails  []string     `json:"flag_details"` // "kind: detail" (the authority's face score among them)
	KioskMatch   *KioskMatch  `json:"kiosk_match"`  // nil: the kiosk could not compare (no decoded card photo)
	Live         bool         `json:"live"`
	Challenges   []Challenge  `json:"liveness"`
	Quality      []Metric     `json:"quality"`
	Evidence     int          `json:"evidence_frames"`
	HasReference bool         `json:"has_reference_photo"`
	HasCardPhoto bool         `json:"has_card_photo"` // the chip's WLT photo (shown only decoded)
	History      []Transition `json:"history"`
	Purged       time.Time    `json:"purged,omitzero"`    // review material removed (retention)
	PurgeDue     time.Time    `json:"purge_due,omitzero"` // when it will be, once decided
}

// KioskMatch is the kiosk's comparison with the decoded card photo.
type KioskMatch struct {
	Decision string  `json:"decision"`
	Score    float64 `json:"score"`
	Frames   int     `json:"frames"`
}

// Challenge is one liveness challenge and its outcome.
type Challenge struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
}

// Metric is one quality value of the portrait.
type Metric struct {
	Name      string  `json:"name"`
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	Pass      bool    `json:"pass"`
}

func (s *Store) source() (Source, error) {
	if s.opts.Source == nil {
		return nil, errors.New("review: no enrollment source configured")
	}
	return s.opts.Source, nil
}

// Case returns one enrollment for review (by ID or short number) and
// audits the view by actor.
func (s *Store) Case(ctx context.Context, idOrShort, actor string) (*Case, error) {
	src, err := s.source()
	if err != nil {
		return nil, err
	}
	d, err := src.Show(ctx, idOrShort, false)
	if errors.Is(err, intake.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, idOrShort)
	}
	if err != nil {
		return nil, fmt.Errorf("review: open enrollment: %w", err)
	}
	defer d.Record.Wipe()
	c := &Case{EnrollmentID: d.EnrollmentID, Short: d.Short, StationID: d.StationID, DeviceID: d.DeviceID,
		Received: d.Received.UTC(), Name: d.Name, Number: d.Number, Flags: d.Flags, FlagDetails: d.FlagDetails,
		Evidence: d.Evidence, HasCardPhoto: d.PhotoSz > 0}
	if c.FlagDetails == nil {
		c.FlagDetails = []string{}
	}
	r := d.Record
	if m := r.FaceMatch; m != nil {
		c.KioskMatch = &KioskMatch{Decision: m.Decision, Score: m.Score, Frames: m.Frames}
	}
	c.Live = r.Liveness.Live
	for i, ch := range r.Liveness.Challenges {
		c.Challenges = append(c.Challenges, Challenge{Name: ch, Passed: i < len(r.Liveness.Passed) && r.Liveness.Passed[i]})
	}
	for _, m := range r.Quality {
		c.Quality = append(c.Quality, Metric{Name: m.Name, Value: m.Value, Threshold: m.Threshold, Pass: m.Pass})
	}
	var since time.Time
	if c.Status, since, c.Purged, err = s.decided(ctx, c.EnrollmentID); err != nil {
		return nil, err
	}
	if (c.Status == Approved || c.Status == Rejected) && c.Purged.IsZero() && s.opts.Retention > 0 {
		c.PurgeDue = since.Add(s.opts.Retention)
	}
	if c.History, err = s.History(ctx, c.EnrollmentID); err != nil {
		return nil, err
	}
	if c.Purged.IsZero() {
		full, err := src.Record(ctx, c.EnrollmentID)
		if err != nil {
			return nil, fmt.Errorf("review: open enrollment: %w", err)
		}
		_, perr := src.Photo(ctx, full.Card.Number)
		c.HasReference = perr == nil
		full.Wipe()
	}
	if err := s.audit(ctx, s.db, actor, "view", c.EnrollmentID, ""); err != nil {
		return nil, err
	}
	return c, nil
}

// Picture kinds.
const (
	PicturePortrait  = "portrait"  // the live portrait
	PictureReference = "reference" // the holder's reference photo at the authority
	PictureEvidence  = "evidence"  // a liveness evidence frame (index)
)

// Picture returns one picture of an enrollment (JPEG, PNG or BMP bytes)
// unless the material was purged (ErrPurged). Not audited per picture: the
// view that shows them is.
func (s *Store) Picture(ctx context.Context, id, kind string, index int) ([]byte, error) {
	src, err := s.source()
	if err != nil {
		return nil, err
	}
	_, _, purged, err := s.decided(ctx, id)
	if err != nil {
		return nil, err
	}
	if !purged.IsZero() {
		return nil, ErrPurged
	}
	r, err := src.Record(ctx, id)
	if errors.Is(err, intake.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("review: open enrollment: %w", err)
	}
	defer r.Wipe()
	var out []byte
	switch kind {
	case PicturePortrait:
		out = r.Portrait
	case PictureEvidence:
		if index >= 0 && index < len(r.Liveness.Evidence) {
			out = r.Liveness.Evidence[index]
		}
	case PictureReference:
		b, err := src.Photo(ctx, r.Card.Number)
		if err != nil {
			return nil, fmt.Errorf("%w: no reference photo", ErrNotFound)
		}
		return b, nil
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no %s picture", ErrNotFound, kind)
	}
	return append([]byte(nil), out...), nil
}

// Address returns the holder's address, for an officer who asked for it
// explicitly; every call is audited.
func (s *Store) Address(ctx context.Context, id, actor string) (pii.Text, error) {
	src, err := s.source()
	if err != nil {
		return "", err
	}
	r, err := src.Record(ctx, id)
	if errors.Is(err, intake.ErrNotFound) {
		return "", fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return "", fmt.Errorf("review: open enrollment: %w", err)
	}
	defer r.Wipe()
	if err := s.audit(ctx, s.db, actor, "reveal_address", id, ""); err != nil {
		return "", err
	}
	return pii.Text(r.Card.Address), nil
}
