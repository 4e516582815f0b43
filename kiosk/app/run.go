package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/audit"
	"eidkiosk/kiosk/eidverify"
	"eidkiosk/kiosk/heartbeat"
	"eidkiosk/kiosk/lease"
	"eidkiosk/kiosk/metrics"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/kiosk/peripherals"
	"eidkiosk/kiosk/sdnotify"
	"eidkiosk/kiosk/session"
	"eidkiosk/kiosk/update"
	"eidkiosk/provisioning"
)

// Run runs every loop until ctx ends; it returns the first unexpected error.
func (s *System) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) && ctx.Err() == nil {
				errc <- fmt.Errorf("app: %s: %w", name, err)
			}
		}()
	}
	s.auditStart()
	defer s.auditStop()
	if s.AuditLog() != nil {
		run("audit", s.auditCheckpoints)
	}
	run("session", s.Engine.Run)
	run("reader", func(ctx context.Context) error { return s.Poller.Run(ctx, s.readerEvent) })
	run("gpio", func(ctx context.Context) error { return s.GPIO.Watch(ctx, peripherals.Inputs(s.Engine.Send)) })
	run("outbox-watch", s.watchOutbox)
	if s.Uplink != nil {
		run("uplink", s.Uplink.Run)
		run("heartbeat", s.heartbeatSender().Run)
		run("renewal", s.renewLoop)
		run("eid-keys", s.eidKeysLoop)
	}
	if s.Update != nil {
		run("update", s.Update.Run)
	}
	if s.Config.Metrics.Addr != "" {
		run("metrics", func(ctx context.Context) error {
			if err := s.Metrics.Serve(ctx, s.Config.Metrics.Addr, nil); err != nil && ctx.Err() == nil {
				s.noteError("metrics", err) // optional: never stops the kiosk
			}
			return nil
		})
	}
	if n := sdnotify.New(); n.Enabled() {
		defer n.Stopping()
		run("systemd", func(ctx context.Context) error { return s.superviseSystemd(ctx, n) })
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		cancel()
	}
	wg.Wait()
	return err
}

// newMetrics builds the Prometheus registry over the System's parts (read
// at each scrape, so parts built later are seen) and its Recorder, which
// Build wires to the engine's views, the face capturer, the card matcher,
// the uplink's queue and the heartbeat client.
func (s *System) newMetrics() *metrics.Metrics {
	return metrics.New(metrics.Sources{
		Version: Version,
		Clock:   s.clk,
		Lease: func() lease.State {
			if s.Lease == nil {
				return lease.State{}
			}
			return s.Lease.Snapshot()
		},
		Outbox: func() outbox.Stats {
			if s.Outbox == nil {
				return outbox.Stats{}
			}
			return s.Outbox.Stats()
		},
		Update: func() update.Status {
			if s.Update == nil {
				return update.Status{}
			}
			return s.Update.Status()
		},
		Devices: s.devicesUp,
	})
}

// devicesUp says which devices answer: the reader and the camera as the
// engine knows them, the GPIO board when it has pins, the printer when one
// is configured (down when it could not be opened or the last receipt
// failed).
func (s *System) devicesUp() map[string]bool {
	up := map[string]bool{}
	if s.Engine != nil {
		v := s.Engine.View()
		up["reader"], up["camera"] = v.ReaderOK, v.CameraOK
	}
	if s.GPIO != nil && s.GPIO.Present() {
		up["gpio"] = true
	}
	if s.Config.Printer.Port != "" {
		up["printer"] = s.Printer != nil && !s.printerFault.Load()
	}
	return up
}

// watchOutbox asks the engine to re-check admission whenever the outbox changes.
func (s *System) watchOutbox(ctx context.Context) error {
	ch, stop := s.Outbox.Subscribe()
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
			s.Engine.Send(session.Recheck{})
		}
	}
}

func (s *System) renewLoop(ctx context.Context) error {
	r := &provisioning.Renewer{Identity: s.Identity, URL: s.uplinkURL(), Clock: s.clk, Log: s.log}
	t := time.NewTicker(6 * time.Hour)
	defer t.Stop()
	for {
		renewed, err := r.Check(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.noteError("renewal", err)
			s.record(audit.EventRenewal, "outcome", "failed", "detail", err.Error())
		case renewed:
			s.record(audit.EventRenewal, "outcome", "renewed", "until", s.Identity.Expires().UTC().Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// eidKeysLoop keeps the phone e-ID verifier's issuer keys and revocation
// list (kiosk/eidverify, in the state directory) fresh: at start, then every
// EIDRefreshEvery, and again after EIDRetry when the authority cannot be
// reached. A list older than the policy's maximum age makes the verifier
// answer "stale", never "valid", so a terminal cut off from the authority
// stops vouching for e-IDs instead of trusting an old list.
func (s *System) eidKeysLoop(ctx context.Context) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		_, err := eidverify.Refresh(rctx, s.Config.State.Dir)
		cancel()
		wait := EIDRefreshEvery
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.noteError("eid-keys", err)
			wait = EIDRetry
		}
		if err := clock.Sleep(ctx, s.clk, wait); err != nil {
			return err
		}
	}
}

// How often the kiosk refreshes the e-ID issuer keys and revocation list.
const (
	EIDRefreshEvery = 6 * time.Hour
	EIDRetry        = 5 * time.Minute
)

func (s *System) heartbeatSender() *heartbeat.Sender {
	return s.heartbeat()
}

// Healthy is nil while the kiosk can serve citizens or says why it cannot
// (systemd's watchdog is fed only while healthy; a dead reader is shown on
// screen instead, so it does not count here).
func (s *System) Healthy() error {
	if s.Engine.View().Seq == 0 {
		return errors.New("session engine not running")
	}
	return nil
}

// sealGuard lets a sealing that started finish when the kiosk stops: the
// citizen confirmed, so the enrollment is sealed and in the outbox before
// the outbox closes (the uplink sends it after the restart). It is bounded
// by the sealing timeout, as the engine's own wait is.
type sealGuard struct {
	inner   session.Submitter
	timeout time.Duration
	wg      sync.WaitGroup
}

func (g *sealGuard) Submit(ctx context.Context, enr *session.Enrollment) (session.Receipt, error) {
	g.wg.Add(1)
	defer g.wg.Done()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.timeout)
	defer cancel()
	return g.inner.Submit(ctx, enr)
}

// wait waits for the sealings under way (System.Close, before the outbox
// closes).
func (g *sealGuard) wait() error {
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(g.timeout + time.Second):
		return errors.New("app: a sealing did not finish before the stop")
	}
}
