package app

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/audit"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/session"
	"eidkiosk/kiosk/update"
)

type pinIs string

func (p pinIs) CheckPIN(pin string) bool { return pin == string(p) }

// The hooks turn the engine's views, the PIN checks, the update agent's
// statuses and the tamper switch into the entries city IT reads.
func TestAuditHooks(t *testing.T) {
	cfg := config.Default()
	cfg.State.Dir = t.TempDir()
	clk := clock.NewFake(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	s := &System{Config: cfg, log: slog.New(slog.DiscardHandler), clk: clk, started: clk.Now()}
	s.openAudit()
	if s.AuditLog() == nil {
		t.Fatalf("no audit log: %v", s.lastErr)
	}
	s.auditStart()
	view := s.auditView()
	for _, v := range []session.View{
		{State: session.Attract}, {State: session.CardWait}, {State: session.CardReading}, {State: session.DataShown},
		{State: session.Consent}, {State: session.FaceCapture}, {State: session.Review}, {State: session.Sealing},
		{State: session.ReceiptShown}, {State: session.Attract},
		{State: session.CardWait}, {State: session.DataShown}, {State: session.Failed, Fault: session.FaultTimeout}, {State: session.Attract},
		{State: session.CardWait}, {State: session.Attract}, // walked away before the card
		{State: session.Attract, Tampered: true}, {State: session.Unavailable, Tampered: true},
		{State: session.Technician, Tampered: true}, {State: session.Technician}, {State: session.Attract},
	} {
		view(v)
	}
	pin := s.auditedPIN(pinIs("2468"))
	pin.CheckPIN("1111")
	pin.CheckPIN("2468")
	if s.auditedPIN(nil) != nil {
		t.Fatal("no PIN set must stay nil: the engine says technician mode is closed")
	}
	s.onTamper(false, clk.Now()) // closed at start: nothing to record
	s.onTamper(true, clk.Now())
	s.onTamper(false, clk.Now())
	up := s.auditUpdate()
	up(update.Status{Phase: update.PhaseChecking})
	up(update.Status{Phase: update.PhaseDownloading, Available: "2.1.0", Version: "2.0.0"})
	up(update.Status{Phase: update.PhaseDownloading, Available: "2.1.0", Version: "2.0.0"})
	up(update.Status{Phase: update.PhaseIdle, LastTrial: &update.TrialResult{Version: "2.1.0", Outcome: "committed", At: clk.Now()}})
	s.auditStop()
	if err := s.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	es, _, err := audit.Read(audit.DirIn(cfg.State.Dir))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		line := e.Event
		for _, k := range []string{"outcome", "state", "phase", "release"} {
			if v, ok := e.Fields[k]; ok {
				line += " " + v
			}
		}
		got = append(got, line)
	}
	want := []string{
		"kiosk.start",
		"visit.ended completed", "visit.ended timeout", "visit.ended abandoned",
		"technician.login", "tamper cleared", "technician.logout",
		"technician.pin_failed",
		"tamper opened", "tamper closed",
		"update.step downloading 2.1.0", "update.step committed trial-ended 2.1.0",
		"kiosk.stop",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A second start with another configuration records the change.
	cfg.UI.Language = "en"
	s2 := &System{Config: cfg, log: slog.New(slog.DiscardHandler), clk: clk, started: clk.Now()}
	s2.openAudit()
	s2.auditStart()
	s2.FlushAudit(context.Background())
	s2.Close()
	es, _, _ = audit.Read(audit.DirIn(cfg.State.Dir))
	if n := len(es); es[n-2].Event != audit.EventConfigChanged || es[n-2].Fields["from"] == es[n-2].Fields["to"] || es[n-1].Event != audit.EventStart {
		t.Fatalf("second start: %+v", es[n-2:])
	}
}
