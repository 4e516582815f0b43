package tamper

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"eidkiosk/internal/clock"
)

func TestLockSurvivesARestartUntilCleared(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)
	l := New(dir, key, "KT-TEST0001", clock.NewFake(at))
	if l.Locked() {
		t.Fatal("locked before any tamper")
	}
	if err := l.Lock(); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, File))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v %v", st, err)
	}
	// A second opening keeps the first time.
	if err := New(dir, key, "KT-TEST0001", clock.NewFake(at.Add(time.Hour))).Lock(); err != nil {
		t.Fatal(err)
	}
	// "Restart": a new Lock on the same directory.
	again := New(dir, key, "KT-TEST0001", nil)
	if !again.Locked() {
		t.Fatal("the lock did not survive a restart")
	}
	r, ok, err := again.Record()
	if err != nil || !ok || !r.LockedAt.Equal(at) || r.DeviceID != "KT-TEST0001" {
		t.Fatalf("record %+v ok=%v err=%v", r, ok, err)
	}
	if err := r.Verify(key.Public()); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if err := again.Clear(); err != nil {
		t.Fatal(err)
	}
	if New(dir, key, "KT-TEST0001", nil).Locked() {
		t.Fatal("still locked after a technician cleared it")
	}
}

func TestEditedRecordStaysLockedButFailsVerification(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	l := New(dir, key, "KT-TEST0001", nil)
	if err := l.Lock(); err != nil {
		t.Fatal(err)
	}
	r, _, _ := l.Record()
	r.LockedAt = r.LockedAt.Add(-24 * time.Hour)
	if err := r.Verify(key.Public()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("edited record verified: %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	r2, _, _ := l.Record()
	if err := r2.Verify(other.Public()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("record verified with another terminal's key: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, File), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !l.Locked() {
		t.Fatal("a damaged record must still lock (fail closed)")
	}
	if _, ok, err := l.Record(); !ok || err == nil {
		t.Fatalf("damaged record: ok=%v err=%v", ok, err)
	}
}

func TestUnprovisionedLockIsUnsigned(t *testing.T) {
	dir := t.TempDir()
	l := New(dir, nil, "", nil)
	if err := l.Lock(); err != nil {
		t.Fatal(err)
	}
	r, ok, err := l.Record()
	if err != nil || !ok || len(r.Sig) != 0 {
		t.Fatalf("%+v %v %v", r, ok, err)
	}
	if !New(dir, nil, "", nil).Locked() {
		t.Fatal("not locked")
	}
}
