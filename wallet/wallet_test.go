package wallet_test

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority/binding"
	"eidkiosk/authority/binding/bindingtest"
	"eidkiosk/eidcred"
	"eidkiosk/enroll"
	"eidkiosk/wallet"
)

var t0 = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

const enrollmentID = "0190a0a0-0000-7000-8000-000000000002"

func setup(t *testing.T) (*bindingtest.Server, *wallet.Wallet, string) {
	s := bindingtest.Start(t, t0, binding.Options{})
	code, err := enroll.NewBindingCode(strings.NewReader(strings.Repeat("x", 13)))
	if err != nil {
		t.Fatal(err)
	}
	s.Enrollments.Add(enrollmentID, code, "张*", t0, binding.StatusNeedsReview)
	w, err := wallet.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w.Clock = s.Clock
	return s, w, enroll.QR(enrollmentID, code)
}

func TestBindRefreshShow(t *testing.T) {
	s, w, receipt := setup(t)
	ctx := t.Context()
	bs, err := w.Bind(ctx, s.URL, s.CAFingerprint, receipt)
	if err != nil || bs.State != eidcred.StatePending {
		t.Fatalf("bind: %+v %v", bs, err)
	}
	if _, err := w.Refresh(ctx); !errors.Is(err, wallet.ErrPending) {
		t.Fatalf("refresh while pending: %v", err)
	}
	s.Enrollments.SetStatus(enrollmentID, binding.StatusVerified)
	// The state survives reopening the directory.
	w2, err := wallet.Open(w.Dir)
	if err != nil {
		t.Fatal(err)
	}
	w2.Clock = s.Clock
	if st, err := w2.Status(ctx); err != nil || st.State != eidcred.StateActive {
		t.Fatalf("status: %+v %v", st, err)
	}
	c, err := w2.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "张*" || len(c.Holder) != 33 {
		t.Fatalf("credential %+v", c)
	}
	qr, err := w2.Present(t0)
	if err != nil {
		t.Fatal(err)
	}
	q, err := wallet.Encode(qr)
	if err != nil {
		t.Fatal(err)
	}
	b, err := q.PNG(600)
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Dx() != 600 {
		t.Fatalf("PNG: %v", err)
	}
	if !strings.Contains(q.Terminal(), "█") {
		t.Fatal("terminal rendering has no blocks")
	}
	t.Logf("payload %d characters, QR version %d", len(qr), q.Version())
	// The key never leaves the directory in the clear to anyone else.
	if fi, err := os.Stat(filepath.Join(w.Dir, wallet.KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
}

func TestPinnedFingerprint(t *testing.T) {
	s, w, receipt := setup(t)
	wrong := strings.Repeat("ab", 32)
	if _, err := w.Bind(t.Context(), s.URL, wrong, receipt); !errors.Is(err, wallet.ErrPin) {
		t.Fatalf("bind with a wrong pin: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	s, w, receipt := setup(t)
	if _, err := w.Bind(t.Context(), s.URL, s.CAFingerprint, "garbage"); err == nil {
		t.Fatal("garbage receipt accepted")
	}
	if _, err := w.Bind(t.Context(), s.URL, s.CAFingerprint, receipt); err != nil {
		t.Fatal(err)
	}
	w2, _ := wallet.Open(t.TempDir())
	var re *wallet.RefusedError
	if _, err := w2.Bind(t.Context(), s.URL, s.CAFingerprint, receipt); !errors.As(err, &re) || re.Reason != eidcred.ReasonCodeUsed {
		t.Fatalf("second phone with the same code: %v", err)
	}
	if _, err := w2.Refresh(t.Context()); !errors.Is(err, wallet.ErrNotBound) {
		t.Fatalf("refresh unbound: %v", err)
	}
}
