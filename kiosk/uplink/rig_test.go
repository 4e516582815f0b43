package uplink_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/kiosk/session"
	"eidkiosk/kiosk/submit"
	"eidkiosk/kiosk/uplink"
)

// rig is one kiosk (state dir, outbox, submitter, uplink) and an authority
// on loopback.
type rig struct {
	pki      *intaketest.PKI
	reg      *intaketest.Registry
	auth     *intaketest.Authority
	dev      *intaketest.Device
	stateDir string
	kioskLog *intaketest.SyncBuffer
	box      *outbox.Outbox
	sub      *submit.Submitter
	up       *uplink.Uplink
	rnd      *rand.Rand
}

func newRig(t *testing.T, serve bool) *rig {
	t.Helper()
	r := &rig{rnd: rand.New(rand.NewPCG(7, 8)), kioskLog: &intaketest.SyncBuffer{}}
	var err error
	if r.pki, err = intaketest.NewPKI(); err != nil {
		t.Fatal(err)
	}
	r.reg = intaketest.NewRegistry()
	if r.dev, err = r.pki.NewDevice("KT-TEST1", "NS-PSB-001"); err != nil {
		t.Fatal(err)
	}
	r.reg.Add(r.dev)
	r.auth = intaketest.NewAuthority(t, t.TempDir(), r.pki, r.reg, intake.Options{})
	r.auth.Serve(t, "127.0.0.1:0")
	if !serve {
		r.auth.Stop()
	}
	r.stateDir = t.TempDir()
	r.box, err = outbox.Open(context.Background(), filepath.Join(r.stateDir, "outbox"), config.Default().Outbox, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.box.Close() })
	sealer, err := r.dev.Sealer(r.auth.Intake.IntakePublicKey())
	if err != nil {
		t.Fatal(err)
	}
	r.sub = submit.NewSubmitter(sealer, r.box, "test-1.0", nil, nil)
	r.up, err = uplink.New(uplink.Options{
		URL: r.auth.URL, Certificate: r.dev.TLS, Roots: r.pki.Roots,
		ReceiptKey: r.auth.Intake.ReceiptPublicKey(), Queue: r.box,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Timeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(r.kioskLog, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// run starts the uplink until the test ends.
func (r *rig) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.up.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func (r *rig) visit(t *testing.T, name, number string) session.Receipt {
	t.Helper()
	e, err := intaketest.Enrollment(name, number, r.rnd)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := r.sub.Submit(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// drained waits until nothing is pending (or fails after a generous limit:
// this is a liveness bound, not a timing assertion).
func (r *rig) drained(t *testing.T) {
	t.Helper()
	ch, stop := r.box.Subscribe()
	defer stop()
	limit := time.After(60 * time.Second)
	for r.box.Stats().Pending > 0 {
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
		case <-limit:
			t.Fatalf("outbox not drained: %+v, uplink %+v", r.box.Stats(), r.up.Status())
		}
	}
}

// grepDir fails when a file under dir holds one of the values in clear
// (UTF-8 or UCS-2LE, as in the card's raw text block).
func grepDir(t *testing.T, dir string, secrets ...string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		grepBytes(t, p, b, secrets...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func grepBytes(t *testing.T, what string, b []byte, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if containsAny(b, []byte(s), intaketest.UCS2(s)) {
			t.Errorf("%s holds a personal value in clear", what)
		}
	}
}

func containsAny(b []byte, subs ...[]byte) bool {
	for _, s := range subs {
		if len(s) > 0 && bytesIndex(b, s) >= 0 {
			return true
		}
	}
	return false
}
