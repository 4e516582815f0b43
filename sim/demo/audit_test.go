package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"eidkiosk/fleetproto"
	"eidkiosk/kiosk/audit"
)

// TestAuditReachesTheAuthority: one visit on the whole simulated chain; the
// kiosk's audit log records the start, the visit's outcome and the stop,
// its heartbeat carries the entries to the authority over mTLS, the
// authority's copy verifies, the kiosk's own log verifies with the device
// key, and neither holds the citizen's name or number.
func TestAuditReachesTheAuthority(t *testing.T) {
	ctx := context.Background()
	env, rctx, cancel, done := firstVisit(t)
	id := env.System.Identity.DeviceID
	fl := env.Stack.Authority.Fleet
	var held []fleetproto.AuditEntry
	var err error
	for !slices.ContainsFunc(held, func(e fleetproto.AuditEntry) bool {
		return e.Event == audit.EventVisitEnded && e.Fields["outcome"] == "completed"
	}) {
		if rctx.Err() != nil {
			t.Fatalf("the authority holds %+v, no completed visit", held)
		}
		if err := env.System.FlushAudit(rctx); err != nil {
			t.Fatal(err)
		}
		if err := env.System.SendHeartbeat(rctx); err != nil {
			t.Fatal(err)
		}
		if held, err = fl.AuditEntries(ctx, id, 0, 1000); err != nil {
			t.Fatal(err)
		}
	}
	// Provisioning (imported from the provisioning log), then the start.
	events := map[string]bool{}
	for _, e := range held {
		events[e.Event+" "+e.Fields["what"]] = true
	}
	for _, want := range []string{"provisioning provision.done", audit.EventStart + " "} {
		if !events[want] {
			t.Errorf("the authority's copy lacks %q: %v", want, events)
		}
	}
	rep, err := fl.VerifyAudit(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("authority: %+v", rep)

	cancel()
	<-done
	stateDir := env.System.Config.State.Dir
	pub := env.System.Identity.Signer.Public()
	if err := env.System.Close(); err != nil {
		t.Fatal(err)
	}
	keys, _ := audit.KeysOf(pub)
	s, err := audit.Verify(audit.DirIn(stateDir), keys)
	if err != nil {
		t.Fatal(err)
	}
	es, _, _ := audit.Read(audit.DirIn(stateDir))
	if s.Signed != s.Last || es[len(es)-2].Event != audit.EventStop {
		t.Fatalf("at stop: %+v, last entries %+v", s, es[len(es)-2:])
	}
	deck := env.Stack.Reader.Deck()
	secrets := [][]byte{[]byte(deck[0].Number.Reveal()), []byte(deck[0].Name.Reveal())}
	files, _ := filepath.Glob(filepath.Join(audit.DirIn(stateDir), "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, sec := range secrets {
			if len(sec) > 0 && bytes.Contains(b, sec) {
				t.Errorf("%s holds the citizen's data", f)
			}
		}
	}
	for _, e := range held {
		for _, v := range e.Fields {
			for _, sec := range secrets {
				if len(sec) > 0 && bytes.Contains([]byte(v), sec) {
					t.Errorf("the authority's copy holds the citizen's data in %+v", e)
				}
			}
		}
	}
}

// firstVisit sets up the simulated chain with a still face, runs the
// system and walks one visit that must reach the authority; cancel stops
// the system, whose Run result arrives on done.
func firstVisit(t *testing.T) (*Env, context.Context, context.CancelFunc, <-chan error) {
	t.Helper()
	ctx := context.Background()
	env, err := Setup(ctx, Options{Dir: t.TempDir(), Face: stillFace{sharedFace(t)}, Timeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- env.System.Run(rctx) }()
	res, err := env.Citizen(rctx)
	if err != nil || !res.AtAuthority {
		t.Fatalf("first visit: %v %+v", err, res)
	}
	return env, rctx, cancel, done
}
