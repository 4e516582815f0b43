package techpin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNoPINUntilSet(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); !errors.Is(err, ErrNoPIN) {
		t.Fatalf("Load of a fresh state directory: %v, want ErrNoPIN", err)
	}
	var none *Hash
	if none.CheckPIN("246810") {
		t.Fatal("a nil hash accepted a PIN")
	}
}

func TestSetThenCheck(t *testing.T) {
	dir := t.TempDir()
	if err := Set(dir, "731946"); err != nil {
		t.Fatal(err)
	}
	h, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !h.CheckPIN("731946") {
		t.Fatal("the PIN that was set is refused")
	}
	for _, wrong := range []string{"731947", "", "7319460", "246810"} {
		if h.CheckPIN(wrong) {
			t.Fatalf("wrong PIN %q accepted", wrong)
		}
	}
	path := filepath.Join(dir, File)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "731946") || !strings.HasPrefix(string(b), "$argon2id$v=19$m=65536,t=3,p=1$") {
		t.Fatalf("stored %q: want an argon2id hash and never the PIN", b)
	}
	// A second Set replaces the PIN, with a fresh salt.
	if err := Set(dir, "582039"); err != nil {
		t.Fatal(err)
	}
	h2, _ := Load(dir)
	if h2.CheckPIN("731946") || !h2.CheckPIN("582039") {
		t.Fatal("the PIN was not replaced")
	}
	b2, _ := os.ReadFile(path)
	if string(b2[:40]) == string(b[:40]) && string(b2) == string(b) {
		t.Fatal("same hash line after a new PIN")
	}
}

func TestValidateRefusesWeakPINs(t *testing.T) {
	for _, pin := range []string{"", "12345", "1234567890123", "12a456", "000000", "123456", "987654", "٣٣٣٣٣٣"} {
		if err := Validate(pin); !errors.Is(err, ErrBadPIN) {
			t.Errorf("Validate(%q) = %v, want ErrBadPIN", pin, err)
		}
		if err := Set(t.TempDir(), pin); !errors.Is(err, ErrBadPIN) {
			t.Errorf("Set(%q) = %v, want ErrBadPIN", pin, err)
		}
	}
	for _, pin := range []string{"731946", "246810", "582039174611"} {
		if err := Validate(pin); err != nil {
			t.Errorf("Validate(%q) = %v", pin, err)
		}
	}
}

func TestDamagedFile(t *testing.T) {
	dir := t.TempDir()
	if err := Set(dir, "731946"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, File)
	b, _ := os.ReadFile(path)
	for _, bad := range []string{"", "246810", strings.Replace(string(b), "argon2id", "argon2i", 1),
		strings.Replace(string(b), "m=65536", "m=1", 1), string(b[:len(b)/2])} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Load of %q: %v, want ErrCorrupt", bad, err)
		}
	}
}
