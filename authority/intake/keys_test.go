package intake_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
)

func TestKeysPersistAndArePrivate(t *testing.T) {
	dir := t.TempDir()
	reg := intaketest.NewRegistry()
	a, err := intake.New(intake.Options{DataDir: dir, Devices: reg})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{intake.IntakeKeyFile, intake.ReceiptKeyFile, intake.NumberHMACKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi.Mode(), err)
		}
	}
	pub, _ := os.ReadFile(filepath.Join(dir, intake.IntakePubFile))
	if !bytes.Equal(pub, a.IntakePublicKey()) || len(pub) != 1216 {
		t.Fatal("intake public key file differs")
	}
	b, err := intake.New(intake.Options{DataDir: dir, Devices: reg})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.IntakePublicKey(), b.IntakePublicKey()) || !bytes.Equal(a.ReceiptPublicKey(), b.ReceiptPublicKey()) {
		t.Fatal("keys changed across restarts")
	}
	os.Chmod(filepath.Join(dir, intake.ReceiptKeyFile), 0o644)
	if _, err := intake.New(intake.Options{DataDir: dir, Devices: reg}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("key readable by others: %v", err)
	}
}
