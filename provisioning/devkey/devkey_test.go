package devkey_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2/transport"

	"eidkiosk/provisioning/devkey"
	"eidkiosk/provisioning/devkey/swtpmtest"
)

func checkSigns(t *testing.T, k devkey.Key) {
	t.Helper()
	pub, ok := k.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("public key %T is not ECDSA P-256", k.Public())
	}
	d := sha256.Sum256([]byte("enrollment"))
	sig, err := k.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(pub, d[:], sig) {
		t.Fatal("SHA-256 signature does not verify")
	}
	d2 := sha256.Sum256([]byte("other"))
	if ecdsa.VerifyASN1(pub, d2[:], sig) {
		t.Fatal("signature verifies for another digest")
	}
	d384 := sha512.Sum384([]byte("enrollment"))
	sig, err = k.Sign(rand.Reader, d384[:], crypto.SHA384)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(pub, d384[:], sig) {
		t.Fatal("SHA-384 signature does not verify")
	}
}

func TestFileKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "device.key")
	k, err := devkey.CreateFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkSigns(t, k)
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	k2, err := devkey.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Public().(*ecdsa.PublicKey).Equal(k.Public()) {
		t.Fatal("reloaded key differs")
	}
	if k2.Kind() != devkey.KindFile {
		t.Fatalf("kind %q", k2.Kind())
	}
	checkSigns(t, k2)
}

func TestFileKeyLoosePermissionsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "device.key")
	if _, err := devkey.CreateFile(path, nil); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		os.Chmod(path, mode)
		_, err := devkey.OpenFile(path)
		if !errors.Is(err, devkey.ErrPermissions) {
			t.Fatalf("mode %04o: err %v, want ErrPermissions", mode, err)
		}
		if !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("error does not say the fix: %v", err)
		}
	}
	os.Chmod(path, 0o400)
	if _, err := devkey.OpenFile(path); err != nil {
		t.Fatalf("0400 refused: %v", err)
	}
}

func TestFileKeyCorruptAndMissing(t *testing.T) {
	dir := t.TempDir()
	if _, err := devkey.OpenFile(filepath.Join(dir, "none")); !errors.Is(err, devkey.ErrNoKey) {
		t.Fatalf("missing: %v", err)
	}
	p := filepath.Join(dir, "bad.key")
	os.WriteFile(p, []byte("not a key"), 0o600)
	if _, err := devkey.OpenFile(p); err == nil || !strings.Contains(err.Error(), "no PEM private key") {
		t.Fatalf("corrupt: %v", err)
	}
}

func TestDestroy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "device.key")
	devkey.CreateFile(path, nil)
	if err := devkey.Destroy(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("key still there: %v", err)
	}
	if err := devkey.Destroy(path); err != nil {
		t.Fatalf("destroying a missing key: %v", err)
	}
}

func TestTPMKey(t *testing.T) {
	open := swtpmtest.Start(t)
	path := filepath.Join(t.TempDir(), "device.tpmkey")
	tpm, err := open()
	if err != nil {
		t.Fatal(err)
	}
	k, err := devkey.CreateTPM(tpm, path)
	if err != nil {
		t.Fatal(err)
	}
	if k.Kind() != devkey.KindTPM || len(k.TPMPublic()) == 0 {
		t.Fatalf("kind %q, public area %d bytes", k.Kind(), len(k.TPMPublic()))
	}
	checkSigns(t, k)
	pub := k.Public()
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Sign(rand.Reader, make([]byte, 32), crypto.SHA256); err == nil {
		t.Fatal("sign after Close succeeded")
	}
	// The blob file holds no usable private key: it loads only into the TPM.
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "PRIVATE KEY-----") && !strings.Contains(string(b), "TPM2B PRIVATE") {
		t.Fatal("a plain private key was written")
	}
	tpm, _ = open()
	k2, err := devkey.OpenTPM(tpm, path)
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	if !k2.Public().(*ecdsa.PublicKey).Equal(pub) {
		t.Fatal("reloaded TPM key differs")
	}
	checkSigns(t, k2)

	os.Chmod(path, 0o644)
	tpm3, _ := open()
	if _, err := devkey.OpenTPM(tpm3, path); !errors.Is(err, devkey.ErrPermissions) {
		t.Fatalf("loose TPM blob: %v", err)
	}
}

func TestTPMKeyOtherTPMRefuses(t *testing.T) {
	openA, openB := swtpmtest.Start(t), swtpmtest.Start(t)
	path := filepath.Join(t.TempDir(), "device.tpmkey")
	a, _ := openA()
	k, err := devkey.CreateTPM(a, path)
	if err != nil {
		t.Fatal(err)
	}
	k.Close()
	b, _ := openB()
	if _, err := devkey.OpenTPM(b, path); err == nil {
		t.Fatal("a key blob loaded into another TPM")
	}
	b.Close()
}

func BenchmarkSign(b *testing.B) {
	d := sha256.Sum256([]byte("x"))
	b.Run("file", func(b *testing.B) {
		k, _ := devkey.CreateFile(filepath.Join(b.TempDir(), "k"), nil)
		for b.Loop() {
			k.Sign(rand.Reader, d[:], crypto.SHA256)
		}
	})
	b.Run("swtpm", func(b *testing.B) {
		open := swtpmtest.Start(b)
		tpm, _ := open()
		k, err := devkey.CreateTPM(tpm, filepath.Join(b.TempDir(), "k"))
		if err != nil {
			b.Fatal(err)
		}
		defer k.Close()
		for b.Loop() {
			if _, err := k.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The endorsement key's hash is the same on every call on one TPM and
// differs between two TPMs: a serial for boxes imaged from one disk.
func TestEKHash(t *testing.T) {
	openA, openB := swtpmtest.Start(t), swtpmtest.Start(t)
	hash := func(open func() (transport.TPMCloser, error)) string {
		tp, err := open()
		if err != nil {
			t.Fatal(err)
		}
		defer tp.Close()
		h, err := devkey.EKHash(tp)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	a1, a2, b := hash(openA), hash(openA), hash(openB)
	if a1 != a2 || len(a1) != 64 {
		t.Fatalf("EK hash not stable on one TPM: %s %s", a1, a2)
	}
	if a1 == b {
		t.Fatalf("two TPMs share an EK hash %s", a1)
	}
}
