// Package techpin keeps the technician PIN of one terminal: set at
// provisioning (`kioskctl provision --technician-pin-file`, or asked), stored
// as an argon2id hash (RFC 9106, golang.org/x/crypto/argon2) with a random
// salt in STATE/identity/technician-pin (0600, written atomically), and
// checked in constant time when a technician opens technician mode.
//
// There is no default PIN: until one is set, Load returns ErrNoPIN and
// technician mode stays closed. It does not count wrong PINs or lock out
// (the session engine does), and never logs or returns a PIN.
package techpin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/argon2"

	"eidkiosk/internal/atomicfile"
)

// File is the PIN hash's path under the state directory.
const File = "identity/technician-pin"

// Minimum and maximum PIN lengths, in digits.
const (
	MinLen = 6
	MaxLen = 12
)

// argon2id parameters (RFC 9106 §4, the second recommended option with less
// memory, for a small board): 64 MiB, 3 passes, 1 lane. One check takes
// about 0.1-0.3 s, which is what makes guessing a 6-digit PIN offline slow.
const (
	memKiB  = 64 * 1024
	passes  = 3
	lanes   = 1
	keyLen  = 32
	saltLen = 16
)

var (
	// ErrNoPIN means no technician PIN was set: technician mode is closed.
	ErrNoPIN = errors.New("techpin: no technician PIN set (set one with kioskctl provision pin)")
	// ErrBadPIN is a PIN that is not MinLen to MaxLen digits.
	ErrBadPIN = fmt.Errorf("techpin: the technician PIN must be %d to %d digits", MinLen, MaxLen)
	// ErrCorrupt is a PIN file that cannot be read as a hash.
	ErrCorrupt = errors.New("techpin: the technician PIN file is damaged; set the PIN again")
)

// Validate checks a PIN's form: MinLen to MaxLen ASCII digits, not all
// the same digit and not a run like 123456.
func Validate(pin string) error {
	if len(pin) < MinLen || len(pin) > MaxLen {
		return ErrBadPIN
	}
	for _, r := range pin {
		if r < '0' || r > '9' {
			return ErrBadPIN
		}
	}
	same, up, down := true, true, true
	for i := 1; i < len(pin); i++ {
		same = same && pin[i] == pin[0]
		up = up && pin[i] == pin[i-1]+1
		down = down && pin[i] == pin[i-1]-1
	}
	if same || up || down {
		return fmt.Errorf("%w, not one digit repeated or a run like 123456", ErrBadPIN)
	}
	return nil
}

// Set hashes pin and stores it in stateDir, replacing any PIN before.
func Set(stateDir, pin string) error {
	if err := Validate(pin); err != nil {
		return err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return fmt.Errorf("techpin: salt: %w", err)
	}
	line := encode(salt, argon2.IDKey([]byte(pin), salt, passes, memKiB, lanes, keyLen))
	path := filepath.Join(stateDir, File)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("techpin: %w", err)
	}
	if err := atomicfile.Write(path, []byte(line+"\n"), 0o600); err != nil {
		return fmt.Errorf("techpin: saving the PIN hash: %w", err)
	}
	return nil
}

// Hash is a stored technician PIN; it checks candidate PINs.
type Hash struct {
	salt, key   []byte
	mem, passes uint32
	lanes       uint8
}

// Load reads the PIN hash of stateDir: ErrNoPIN when none was set.
func Load(stateDir string) (*Hash, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, File))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoPIN
	}
	if err != nil {
		return nil, fmt.Errorf("techpin: %w", err)
	}
	return decode(strings.TrimSpace(string(b)))
}

// CheckPIN reports whether pin is the technician PIN, in constant time
// over the hash.
func (h *Hash) CheckPIN(pin string) bool {
	if h == nil || len(pin) > MaxLen {
		return false
	}
	got := argon2.IDKey([]byte(pin), h.salt, h.passes, h.mem, h.lanes, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// encode writes the PHC string format that argon2 tools use:
// $argon2id$v=19$m=65536,t=3,p=1$<salt>$<key> (unpadded base64).
func encode(salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memKiB, passes, lanes,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

func decode(s string) (*Hash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return nil, ErrCorrupt
	}
	h := &Hash{}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.mem, &h.passes, &h.lanes); err != nil {
		return nil, ErrCorrupt
	}
	var err1, err2 error
	h.salt, err1 = base64.RawStdEncoding.DecodeString(parts[4])
	h.key, err2 = base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(h.salt) < 8 || len(h.key) < 16 ||
		h.mem < 8*1024 || h.mem > 1<<21 || h.passes < 1 || h.passes > 16 || h.lanes < 1 {
		return nil, ErrCorrupt
	}
	return h, nil
}
