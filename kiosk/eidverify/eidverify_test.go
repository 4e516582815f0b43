package eidverify_test

import (
	"errors"
	"image"
	"image/color"
	"image/draw"
	"os"
	"path/filepath"
	"testing"
	"time"

	"eidkiosk/authority/binding"
	"eidkiosk/authority/binding/bindingtest"
	"eidkiosk/eidcred"
	"eidkiosk/kiosk/eidverify"
	"eidkiosk/wallet"
)

var t0 = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

// qrImage draws a presentation as the wallet does (PNG, decoded back).
func qrImage(t *testing.T, payload string) image.Image {
	t.Helper()
	q, err := wallet.Encode(payload)
	if err != nil {
		t.Fatal(err)
	}
	b, err := q.PNG(480)
	if err != nil {
		t.Fatal(err)
	}
	img, err := eidverify.DecodeFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func updated(t *testing.T, s *bindingtest.Server) string {
	t.Helper()
	state := t.TempDir()
	if _, err := eidverify.Update(t.Context(), s.Client, s.URL, state); err != nil {
		t.Fatal(err)
	}
	return state
}

func TestUpdateThenVerifyImage(t *testing.T) {
	s := bindingtest.Start(t, t0, binding.Options{})
	ph := s.NewPhone(t, "张*")
	state := updated(t, s)
	p, err := eidverify.LoadPolicy(state)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Keys) != 1 || p.Revocation == nil || !p.Revocation.IssuedAt().Equal(t0) {
		t.Fatalf("policy %+v", p)
	}
	qr, _ := eidcred.Present(ph.Credential, ph.Key, t0)
	r, err := eidverify.VerifyImage(qrImage(t, qr), t0.Add(5*time.Second), p)
	if err != nil || r.Status != eidcred.Valid || r.Name.Reveal() != "张*" {
		t.Fatalf("%+v %v", r, err)
	}

	// Revoked at the authority: valid until the kiosk's list says so.
	if err := s.Module.Revoke(t.Context(), ph.EID); err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(time.Minute)
	if _, err := eidverify.Update(t.Context(), s.Client, s.URL, state); err != nil {
		t.Fatal(err)
	}
	p, _ = eidverify.LoadPolicy(state)
	at := t0.Add(time.Minute)
	qr, _ = eidcred.Present(ph.Credential, ph.Key, at)
	if r, _ := eidverify.VerifyImage(qrImage(t, qr), at, p); r.Status != eidcred.Revoked {
		t.Fatalf("after revocation: %s %s", r.Status, r.Reason)
	}
}

func TestGarbageImages(t *testing.T) {
	blank := image.NewGray(image.Rect(0, 0, 640, 480))
	draw.Draw(blank, blank.Bounds(), image.NewUniform(color.Gray{128}), image.Point{}, draw.Src)
	if _, err := eidverify.Decode(blank); !errors.Is(err, eidverify.ErrNoQR) {
		t.Fatalf("blank frame: %v", err)
	}
	if _, err := eidverify.DecodeFile([]byte("not an image")); !errors.Is(err, eidverify.ErrNoQR) {
		t.Fatalf("not an image: %v", err)
	}
	// A QR code that is not a presentation: read, then refused.
	img := qrImage(t, "HELLO WORLD")
	if r, err := eidverify.VerifyImage(img, t0, eidcred.Policy{}); err != nil || r.Status != eidcred.NotGenuine || r.Reason != eidcred.ReasonMalformed {
		t.Fatalf("a foreign QR code: %+v %v", r, err)
	}
}

func TestStateFiles(t *testing.T) {
	if _, err := eidverify.LoadPolicy(t.TempDir()); !errors.Is(err, eidverify.ErrNoIssuers) {
		t.Fatalf("empty state: %v", err)
	}
	s := bindingtest.Start(t, t0, binding.Options{})
	state := updated(t, s)
	// An older list never replaces a newer one.
	old, err := s.Module.RevocationList(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.Clock.Advance(time.Hour)
	if _, err := eidverify.Update(t.Context(), s.Client, s.URL, state); err != nil {
		t.Fatal(err)
	}
	l, err := eidverify.SaveRevocation(state, old)
	if err != nil || !l.IssuedAt().Equal(t0.Add(time.Hour)) {
		t.Fatalf("older list: %v, kept %v", err, l.IssuedAt())
	}
	// A list altered on disk is ignored: no list, so never "valid".
	path := filepath.Join(state, eidverify.RevocationFile)
	b, _ := os.ReadFile(path)
	b[len(b)-1] ^= 1
	os.WriteFile(path, b, 0o644)
	if p, err := eidverify.LoadPolicy(state); err != nil || p.Revocation != nil {
		t.Fatalf("altered list loaded: %v", err)
	}
}
