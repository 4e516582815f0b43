// Package submit turns a finished visit into an enrollment record, seals it
// with enroll's Sealer and writes it to the durable outbox: the
// session.Submitter of the kiosk. The record's card dates are the chip's own
// strings, carried as read.
//
// It does not send anything (kiosk/uplink does) and keeps no copy of the
// personal data after Submit returns. It is the kiosk's side of the wire
// format; enroll itself knows nothing of the visit.
package submit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	"github.com/google/uuid"

	"eidkiosk/enroll"
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
	sealer   *enroll.Sealer
	queue    Queue
	software string
	clock    clock.Clock
	rand     io.Reader
}

var _ session.Submitter = (*Submitter)(nil)

// NewSubmitter returns a Submitter. software is the kiosk's version, recorded
// in every enrollment. clk and rnd may be nil for the real clock and
// crypto/rand.
func NewSubmitter(s *enroll.Sealer, q Queue, software string, clk clock.Clock, rnd io.Reader) *Submitter {
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
		return session.Receipt{}, errors.New("submit: no enrollment")
	}
	if err := ctx.Err(); err != nil {
		return session.Receipt{}, fmt.Errorf("submit: %w", err)
	}
	u, err := uuid.NewV7FromReader(s.rand)
	if err != nil {
		return session.Receipt{}, fmt.Errorf("submit: enrollment id: %w", err)
	}
	id := u.String()
	code, err := enroll.NewBindingCode(s.rand)
	if err != nil {
		return session.Receipt{}, err
	}
	now := s.clock.Now()
	rec := Record(e, id, s.sealer.DeviceID(), s.sealer.StationID(), s.software, now, code)
	pkg, err := s.sealer.Seal(rec, now.UnixMilli())
	rec.Wipe()
	if err != nil {
		return session.Receipt{}, err
	}
	if err := s.queue.Enqueue(ctx, id, pkg); err != nil {
		return session.Receipt{}, fmt.Errorf("submit: %w", err)
	}
	return session.Receipt{
		EnrollmentID: id, Short: enroll.Short(s.sealer.StationID(), id), QR: enroll.QR(id, code), Queued: now,
	}, nil
}
