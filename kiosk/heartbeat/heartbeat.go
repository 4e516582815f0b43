// Package heartbeat sends the kiosk's periodic heartbeat to the authority's
// fleet module (authority/fleet): version, slot, health, outbox depth, last
// errors, update state and the visit lease, as JSON over the kiosk's mTLS
// client. The authority identifies the terminal by its client certificate,
// so the report carries no identity of its own.
//
// Its health checks are the kiosk's one health model (internal/health); the
// report carries them as they are. It carries no personal data: the kiosk
// must put only error codes and messages without names, ID numbers or
// images in LastErrors and in the checks' details.
// It does not retry a failed heartbeat: the next one supersedes it.
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
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/internal/health"
)

// Path is where the authority receives heartbeats.
const Path = "/fleet/v1/heartbeat"

// Report is one heartbeat.
type Report struct {
	SentAt      time.Time      `json:"sent_at"`
	Version     string         `json:"version"`
	Slot        string         `json:"slot"`
	Channel     string         `json:"channel"`
	Healthy     bool           `json:"healthy"`
	Checks      []health.Check `json:"checks,omitempty"`
	OutboxDepth int            `json:"outbox_depth"`
	LastErrors  []string       `json:"last_errors,omitempty"`
	Update      Update         `json:"update"`
	Lease       Lease          `json:"lease"`
	UptimeSec   int64          `json:"uptime_sec"`
}

// Update is the update agent's state.
type Update struct {
	Phase       string    `json:"phase"`
	Floor       string    `json:"floor"`
	Available   string    `json:"available,omitempty"`
	Trial       string    `json:"trial,omitempty"`        // version on trial
	LastTrial   string    `json:"last_trial,omitempty"`   // "3.0.0 unhealthy"
	LastRefusal string    `json:"last_refusal,omitempty"` // reason code
	LastError   string    `json:"last_error,omitempty"`
	LastFresh   time.Time `json:"last_fresh"`
	Stale       bool      `json:"stale"`
	Config      int64     `json:"config_version"`
}

// Lease is the visit lease.
type Lease struct {
	Holder string    `json:"holder,omitempty"`
	Expiry time.Time `json:"expiry,omitempty"`
}

// Sender posts heartbeats every Interval.
type Sender struct {
	Authority string       // https://host:port of the authority
	Client    *http.Client // the kiosk's mTLS client
	Collect   func() Report
	Interval  time.Duration // default 1 minute
	Clock     clock.Clock   // default clock.Real
	Log       *slog.Logger
}

// Send posts one report.
func (s *Sender) Send(ctx context.Context, r Report) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(s.Authority, "/")+Path, bytes.NewReader(body))
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
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 200))
		return fmt.Errorf("heartbeat: authority answered %s: %s", res.Status, strings.TrimSpace(string(msg)))
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
		}
		cancel()
		done := make(chan struct{})
		t := clk.AfterFunc(every, func() { close(done) })
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-done:
		}
	}
}
