package uplink_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/enroll"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/kiosk/session"
	"eidkiosk/kiosk/uplink"
)

var bytesIndex = bytes.Index

// TestEndToEnd: seal, outbox and uplink against a running authority over
// real TLS; the authority holds each enrollment exactly once, every field
// intact; nothing personal is left in the kiosk's state or log.
func TestEndToEnd(t *testing.T) {
	r := newRig(t, true)
	r.run(t)
	ctx := context.Background()
	numbers := []string{intaketest.CitizenNumber, intaketest.RandomNumber(r.rnd), intaketest.RandomNumber(r.rnd)}
	var rcs []session.Receipt
	for _, n := range numbers {
		rcs = append(rcs, r.visit(t, intaketest.CitizenName, n))
	}
	r.drained(t)
	if n, _ := r.auth.Intake.Count(ctx); n != len(numbers) {
		t.Fatalf("authority holds %d enrollments, want %d", n, len(numbers))
	}
	want, _ := intaketest.Enrollment(intaketest.CitizenName, intaketest.CitizenNumber, r.rnd)
	for i, rc := range rcs {
		got, err := r.auth.Intake.Record(ctx, rc.EnrollmentID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Card.Number != numbers[i] || got.Card.Name != intaketest.CitizenName ||
			!bytes.Equal(got.Portrait, want.Face.Portrait) || got.DeviceID != "KT-TEST1" ||
			got.StationID != "NS-PSB-001" || got.Software != "test-1.0" || len(got.Liveness.Evidence) != 3 ||
			!bytes.Equal(got.Card.Text, intaketest.TextBlock(intaketest.CitizenName, numbers[i], intaketest.CitizenAddress)) {
			t.Errorf("enrollment %d not intact at the authority", i)
		}
		state, receipt, err := r.box.State(ctx, rc.EnrollmentID)
		if err != nil || state != outbox.Acked || len(receipt) == 0 {
			t.Errorf("outbox item %d: %s %v", i, state, err)
		}
		if !strings.HasPrefix(rc.Short, "NS01-") || !strings.HasPrefix(rc.QR, enroll.QRPrefix) {
			t.Errorf("receipt %q %q", rc.Short, rc.QR)
		}
	}
	st := r.up.Status()
	if !st.Online || st.Backlog != 0 || st.Sent != uint64(len(numbers)) || st.LastError != "" {
		t.Errorf("status %+v", st)
	}
	if err := r.box.Admit(); err != nil {
		t.Errorf("gate: %v", err)
	}
	r.box.Close()
	secrets := append([]string{intaketest.CitizenName, intaketest.CitizenAddress}, numbers...)
	if n := grepDir(t, r.stateDir, secrets...); n == 0 {
		t.Fatal("no state files")
	}
	grepBytes(t, "kiosk log", r.kioskLog.Bytes(), secrets...)
	grepBytes(t, "authority log", r.auth.Log.Bytes(), secrets...)
	grepDir(t, r.auth.Dir, secrets...)
}

// TestOutage: authority down, 50 visits, authority back: all drain, in
// order, none lost.
func TestOutage(t *testing.T) {
	r := newRig(t, false)
	r.run(t)
	ctx := context.Background()
	var ids []string
	for range 50 {
		ids = append(ids, r.visit(t, intaketest.CitizenName, intaketest.RandomNumber(r.rnd)).EnrollmentID)
	}
	st := r.up.Status()
	if st.Online || st.LastError == "" || st.Backlog == 0 {
		t.Errorf("while down: %+v", st)
	}
	if n, _ := r.auth.Intake.Count(ctx); n != 0 {
		t.Fatal("stored while down")
	}
	r.auth.Serve(t, r.auth.Addr())
	r.up.Kick()
	r.drained(t)
	got, err := r.auth.Intake.IDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, "\n") != strings.Join(ids, "\n") {
		t.Fatalf("authority holds %d enrollments, not the 50 in visit order", len(got))
	}
	if st := r.up.Status(); !st.Online || st.Backlog != 0 || st.Failures == 0 {
		t.Errorf("after: %+v", st)
	}
	l := string(r.kioskLog.Bytes())
	if strings.Count(l, "authority unreachable") != 1 || strings.Count(l, "authority reachable") != 1 {
		t.Errorf("outage not logged once each way:\n%s", l)
	}
}

// TestRevokedDisables: a revoked terminal learns it from the refusal; the
// gate answers ErrDisabled and subscribers hear of it; nothing is deleted.
func TestRevokedDisables(t *testing.T) {
	r := newRig(t, true)
	r.reg.Revoke(r.dev)
	ch, stop := r.box.Subscribe()
	defer stop()
	rc := r.visit(t, intaketest.CitizenName, intaketest.CitizenNumber)
	<-ch
	r.run(t)
	deadline := time.After(30 * time.Second)
	for !errors.Is(r.box.Admit(), session.ErrDisabled) {
		select {
		case <-ch:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("gate still open: %v %+v", r.box.Admit(), r.up.Status())
		}
	}
	if st := r.up.Status(); st.Disabled != enroll.CodeDeviceRevoked || st.LastCode != enroll.CodeDeviceRevoked {
		t.Errorf("status %+v", st)
	}
	if state, _, _ := r.box.State(context.Background(), rc.EnrollmentID); state == outbox.Acked || state == "" {
		t.Errorf("item state %q", state)
	}
	// Reinstated: the next try succeeds and the gate opens again.
	r.reg.Reinstate(r.dev)
	r.drained(t)
	for r.box.Admit() != nil {
		select {
		case <-ch:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("gate still closed after reinstatement: %v", r.box.Admit())
		}
	}
}

// TestDisabledIdleProbes: a terminal marked disabled with nothing to send
// asks the authority, and opens its gate when the authority accepts it.
func TestDisabledIdleProbes(t *testing.T) {
	r := newRig(t, true)
	if err := r.box.SetDisabled(context.Background(), "device_unknown"); err != nil {
		t.Fatal(err)
	}
	r.run(t)
	deadline := time.After(30 * time.Second)
	for r.box.Admit() != nil {
		select {
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("still disabled: %+v", r.up.Status())
		}
	}
}

// TestRefusedPackageKept: a package the authority refuses (bad check
// digit) is kept as refused; the queue moves on.
func TestRefusedPackageKept(t *testing.T) {
	r := newRig(t, true)
	bad := r.visit(t, intaketest.CitizenName, "990101199003071238")
	good := r.visit(t, intaketest.CitizenName, intaketest.CitizenNumber)
	r.run(t)
	r.drained(t)
	ctx := context.Background()
	if s, _, _ := r.box.State(ctx, bad.EnrollmentID); s != outbox.Refused {
		t.Errorf("bad package: %s", s)
	}
	if s, _, _ := r.box.State(ctx, good.EnrollmentID); s != outbox.Acked {
		t.Errorf("good package: %s", s)
	}
	if st := r.box.Stats(); st.Refused != 1 || st.LastRefusal != enroll.CodeCheckDigit {
		t.Errorf("stats %+v", st)
	}
	dir := t.TempDir()
	if n, err := r.box.Export(ctx, dir, nil); err != nil || n != 1 {
		t.Fatalf("export of the refused package: %d %v", n, err)
	}
}

// TestRetryAfterAndBadReceipt uses a fake clock: a 503 with Retry-After 7
// holds the next attempt 7 s back; a 201 whose receipt does not verify
// leaves the package queued.
func TestRetryAfterAndBadReceipt(t *testing.T) {
	r := newRig(t, true)
	var calls atomic.Int32
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Idempotency-Key") == "" || len(req.TLS.PeerCertificates) == 0 {
			t.Error("no idempotency key or client certificate")
		}
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		case 2:
			// A proxy's untyped 403: retried, not taken as a refusal.
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte("not a receipt"))
	}))
	s.TLS = r.pki.ServerTLS()
	s.StartTLS()
	defer s.Close()
	fake := clock.NewFake(time.Now())
	up, err := uplink.New(uplink.Options{URL: s.URL, Certificate: r.dev.TLS, Roots: r.pki.Roots,
		ReceiptKey: r.auth.Intake.ReceiptPublicKey(), Queue: r.box, Clock: fake,
		MinBackoff: time.Second, MaxBackoff: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	rc := r.visit(t, intaketest.CitizenName, intaketest.CitizenNumber)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { up.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor := func(what string, f func(uplink.Status) bool) uplink.Status {
		t.Helper()
		limit := time.Now().Add(30 * time.Second)
		for {
			st := up.Status()
			if f(st) {
				return st
			}
			if time.Now().After(limit) {
				t.Fatalf("%s: %+v", what, st)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	st := waitFor("first attempt", func(s uplink.Status) bool { return !s.NextAttempt.IsZero() })
	if d := st.NextAttempt.Sub(fake.Now()); d < 7*time.Second {
		t.Errorf("next attempt in %s, Retry-After said 7s", d)
	}
	if st.LastCode != "http_503" {
		t.Errorf("last code %q", st.LastCode)
	}
	fake.Advance(6 * time.Second)
	if calls.Load() != 1 {
		t.Fatal("retried before Retry-After")
	}
	fake.Advance(2 * time.Second)
	st = waitFor("untyped 403", func(s uplink.Status) bool { return s.LastCode == "http_403" && !s.NextAttempt.IsZero() })
	if s, _, _ := r.box.State(context.Background(), rc.EnrollmentID); s == outbox.Refused {
		t.Fatal("an untyped 403 refused the package")
	}
	if r.box.Admit() != nil {
		t.Fatal("an untyped 403 disabled the terminal")
	}
	fake.Advance(st.NextAttempt.Sub(fake.Now()) + time.Millisecond)
	waitFor("bad receipt", func(s uplink.Status) bool { return s.LastCode == "bad_receipt" })
	if s, _, _ := r.box.State(context.Background(), rc.EnrollmentID); s == outbox.Acked {
		t.Fatal("acknowledged on an unverified receipt")
	}
}
