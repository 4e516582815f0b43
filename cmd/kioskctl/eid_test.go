package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority/binding"
	"eidkiosk/authority/binding/bindingtest"
	"eidkiosk/eidcred"
	"eidkiosk/kiosk/eidverify"
	"eidkiosk/wallet"
)

// TestEIDVerifyCommand: `kioskctl eid verify` on a QR PNG: valid now,
// expired with --at 25 h later, presented too late 2 minutes later, not
// genuine for a foreign QR code, an error for a picture without one; every
// decision but valid exits non-zero.
func TestEIDVerifyCommand(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	s := bindingtest.Start(t, now, binding.Options{})
	ph := s.NewPhone(t, "张*")
	state := t.TempDir()
	if _, err := eidverify.Update(t.Context(), s.Client, s.URL, state); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeQR := func(name, payload string) string {
		q, err := wallet.Encode(payload)
		if err != nil {
			t.Fatal(err)
		}
		b, err := q.PNG(400)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	payload, err := eidcred.Present(ph.Credential, ph.Key, now)
	if err != nil {
		t.Fatal(err)
	}
	good := writeQR("good.png", payload)
	out, err := runCmd(t, "eid", "verify", "--state", state, "--at", now.Add(5*time.Second).Format(time.RFC3339), good)
	if err != nil || !strings.HasPrefix(out, "valid: 张*") {
		t.Fatalf("valid: %q %v", out, err)
	}
	for _, c := range []struct {
		at, want string
		img      string
	}{
		{now.Add(25 * time.Hour).Format(time.RFC3339), "expired", good},
		{now.Add(2 * time.Minute).Format(time.RFC3339), "presented_late", good},
		{"", "not_genuine (malformed)", writeQR("foreign.png", "HTTPS://EXAMPLE.COM")},
	} {
		args := []string{"eid", "verify", "--state", state}
		if c.at != "" {
			args = append(args, "--at", c.at)
		}
		out, err := runCmd(t, append(args, c.img)...)
		if !errors.Is(err, errNotValid) || !strings.HasPrefix(out, c.want) {
			t.Errorf("%s: %q %v", c.want, out, err)
		}
	}
	junk := filepath.Join(dir, "junk.png")
	os.WriteFile(junk, []byte("garbage"), 0o644)
	if _, err := runCmd(t, "eid", "verify", "--state", state, junk); !errors.Is(err, eidverify.ErrNoQR) {
		t.Errorf("garbage: %v", err)
	}
}

func TestParseAt(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{"": now, "+25h": now.Add(25 * time.Hour), "-2m": now.Add(-2 * time.Minute),
		"2027-01-01T00:00:00Z": time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if got, err := parseAt(in, now); err != nil || !got.Equal(want) {
			t.Errorf("%q: %s %v", in, got, err)
		}
	}
	if _, err := parseAt("tomorrow", now); err == nil {
		t.Error("tomorrow: no error")
	}
}
