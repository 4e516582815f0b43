// Package heartbeat sends the kiosk's periodic heartbeat to the authority's
// fleet module (authority/fleet): version, slot, health, outbox depth, last
// errors, update state and the visit lease, as JSON over the kiosk's mTLS
// client. The messages are fleetproto's (the wire format the authority
// imports too); this package only sends them.
//
// Its health checks are the kiosk's one health model (internal/health); the
// report carries them as they are. It carries no personal data: the kiosk
// must put only error codes and messages without names, ID numbers or
// images in LastErrors and in the checks' details.
// It does not retry a failed heartbeat: the next one supersedes it. That
// holds for the audit log's entries a report carries too (Collect fills
// fleetproto.Report.Audit with those the authority has not acknowledged;
// the answer's AuditAck, passed to OnAnswer, moves that on).
package heartbeat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"eidkiosk/fleetproto"
	"eidkiosk/internal/clock"
)

// RefusedError is an answer other than 200 or 204. A 403 means the
// authority no longer accepts this terminal; Message says why (replaced,
// revoked, deprovisioned), for its log and technician screen.
type RefusedError struct {
	Status  int
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("heartbeat: authority answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Sender posts heartbeats every Interval.
type Sender struct {
	Authority string       // https://host:port of the authority
	Client    *http.Client // the kiosk's mTLS client
	Collect   func() fleetproto.Report
	Interval  time.Duration // default 1 minute
	Clock     clock.Clock   // default clock.Real
	Log       *slog.Logger
	// OnAnswer, if not nil, is called with each answer that asks something.
	OnAnswer func(fleetproto.Answer)
	// OnError, if not nil, is called with each heartbeat not delivered.
	OnError func(error)

	kickOnce sync.Once
	kick     chan struct{}
}

func (s *Sender) kicks() chan struct{} {
	s.kickOnce.Do(func() { s.kick = make(chan struct{}, 1) })
	return s.kick
}

// Kick makes Run send the next heartbeat now instead of at the end of its
// interval (an update committed or rolled back: the fleet view must not
// lag a heartbeat behind). It never blocks.
func (s *Sender) Kick() {
	select {
	case s.kicks() <- struct{}{}:
	default:
	}
}

// Send posts one report.
func (s *Sender) Send(ctx context.Context, r fleetproto.Report) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(s.Authority, "/")+fleetproto.Path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	res, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusNoContent && res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 500))
		return &RefusedError{Status: res.StatusCode, Message: strings.TrimSpace(string(msg))}
	}
	if res.StatusCode == http.StatusOK {
		var a fleetproto.Answer
		if err := json.NewDecoder(io.LimitReader(res.Body, 4096)).Decode(&a); err != nil {
			return fmt.Errorf("heartbeat: the authority's answer: %w", err)
		}
		if s.OnAnswer != nil && a != (fleetproto.Answer{}) {
			s.OnAnswer(a)
		}
	}
	return nil
}

// Run sends a heartbeat at once and then every Interval until ctx ends.
func (s *Sender) Run(ctx context.Context) error {
	clk := s.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	every := s.Interval
	if every <= 0 {
		every = time.Minute
	}
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		r := s.Collect()
		if r.SentAt.IsZero() {
			r.SentAt = clk.Now()
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := s.Send(sctx, r); err != nil && ctx.Err() == nil {
			log.Warn("heartbeat not delivered", "err", err)
			if s.OnError != nil {
				s.OnError(err)
			}
		}
		cancel()
		done := make(chan struct{})
		t := clk.AfterFunc(every, func() { close(done) })
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-done:
		case <-s.kicks():
			t.Stop()
		}
	}
}
