package enroll

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/session"
)

// Queue is the durable outbox as the Submitter uses it (kiosk/outbox).
// Enqueue returns only once the package survives a power cut.
type Queue interface {
	Enqueue(ctx context.Context, id string, pkg []byte) error
}

// Submitter seals a finished visit and writes it to the outbox: the
// session.Submitter of the kiosk.
type Submitter struct {
	sealer   *Sealer
	queue    Queue
	software string
	clock    clock.Clock
	rand     io.Reader
}

var _ session.Submitter = (*Submitter)(nil)

// NewSubmitter returns a Submitter. software is the kiosk's version, recorded
// in every enrollment. clk and rnd may be nil for the real clock and
// crypto/rand.
func NewSubmitter(s *Sealer, q Queue, software string, clk clock.Clock, rnd io.Reader) *Submitter {
	if clk == nil {
		clk = clock.Real{}
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	return &Submitter{sealer: s, queue: q, software: software, clock: clk, rand: rnd}
}

// Submit builds the record, seals it and writes it to the outbox. When it
// returns nil the enrollment is durable. It keeps no reference to e and
// wipes its own copies of the personal data before returning.
func (s *Submitter) Submit(ctx context.Context, e *session.Enrollment) (session.Receipt, error) {
	if e == nil {
		return session.Receipt{}, errors.New("enroll: no enrollment")
	}
	if err := ctx.Err(); err != nil {
		return session.Receipt{}, fmt.Errorf("enroll: %w", err)
	}
	u, err := uuid.NewV7FromReader(s.rand)
	if err != nil {
		return session.Receipt{}, fmt.Errorf("enroll: enrollment id: %w", err)
	}
	id := u.String()
	code, err := NewBindingCode(s.rand)
	if err != nil {
		return session.Receipt{}, err
	}
	now := s.clock.Now()
	rec := FromEnrollment(e, id, s.sealer.deviceID, s.sealer.stationID, s.software, now, code)
	pkg, err := s.sealer.Seal(rec, now.UnixMilli())
	rec.Wipe()
	if err != nil {
		return session.Receipt{}, err
	}
	if err := s.queue.Enqueue(ctx, id, pkg); err != nil {
		return session.Receipt{}, fmt.Errorf("enroll: %w", err)
	}
	return session.Receipt{
		EnrollmentID: id, Short: Short(s.sealer.stationID, id), QR: QR(id, code), Queued: now,
	}, nil
}
