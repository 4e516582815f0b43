package main

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority/binding"
	"eidkiosk/authority/binding/bindingtest"
	"eidkiosk/enroll"
	"eidkiosk/internal/cli"
	"eidkiosk/kiosk/eidverify"
	"eidkiosk/wallet"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	app.Stdout, app.Stderr = &out, &errb
	defer func() { app.Stdout, app.Stderr = nil, nil }()
	err := app.Run(context.Background(), args)
	return out.String() + errb.String(), err
}

// TestCommands: bind with the receipt text, refresh while pending (an
// error naming it), status, refresh once accepted, show --png: a PNG
// whose QR code the kiosk's decoder reads back as a presentation.
func TestCommands(t *testing.T) {
	s := bindingtest.Start(t, time.Now(), binding.Options{})
	const id = "0190a0a0-0000-7000-8000-000000000003"
	code, _ := enroll.NewBindingCode(strings.NewReader(strings.Repeat("k", 13)))
	s.Enrollments.Add(id, code, "李*", time.Now(), binding.StatusNeedsReview)
	dir := t.TempDir()
	out, err := run(t, "bind", "--dir", dir, "--authority", s.URL, "--ca-fingerprint", s.CAFingerprint, "--receipt", enroll.QR(id, code))
	if err != nil || !strings.Contains(out, "pending") {
		t.Fatalf("bind: %q %v", out, err)
	}
	if _, err := run(t, "refresh", "--dir", dir); !errors.Is(err, wallet.ErrPending) {
		t.Fatalf("refresh while pending: %v", err)
	}
	s.Enrollments.SetStatus(id, binding.StatusApproved)
	if out, err := run(t, "status", "--dir", dir); err != nil || strings.TrimSpace(out) != "active" {
		t.Fatalf("status: %q %v", out, err)
	}
	if out, err := run(t, "refresh", "--dir", dir); err != nil || !strings.HasPrefix(out, "credential valid until ") {
		t.Fatalf("refresh: %q %v", out, err)
	}
	file := filepath.Join(dir, "qr.png")
	if out, err := run(t, "show", "--dir", dir, "--png", file); err != nil || !strings.Contains(out, "QR version") {
		t.Fatalf("show: %q %v", out, err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	text, err := eidverify.Decode(img)
	if err != nil || !strings.HasPrefix(text, "EID1:") {
		t.Fatalf("decoded %q %v", text, err)
	}
	if _, err := run(t, "bind", "--dir", dir); !errors.Is(err, cli.ErrUsage) {
		t.Fatalf("bind without flags: %v", err)
	}
}
