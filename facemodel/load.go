package facemodel

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// ErrUnavailable is wrapped by every error saying a model cannot be used:
// unknown, missing or altered. The kiosk shows "face check unavailable"
// on it; it never substitutes another model.
var ErrUnavailable = errors.New("face model unavailable")

// EnvDir names the environment variable that overrides the models
// directory. When set, it is the only directory searched.
const EnvDir = "EIDKIOSK_MODELS"

// SystemDir is where the kiosk and authority packages install the models.
const SystemDir = "/usr/share/eidkiosk/models"

// Fix is what an operator does about a missing or altered model.
const Fix = `run "make models" in a source tree, or reinstall the eidkiosk package`

// Error says which model cannot be used, where it was looked for and why.
type Error struct {
	Model  string // manifest name
	Path   string // file looked at ("" when no models directory exists)
	Reason string
}

func (e *Error) Error() string {
	where := e.Path
	if where == "" {
		where = e.Model
	}
	return fmt.Sprintf("facemodel: %s: %s; %s", where, e.Reason, Fix)
}

// Unwrap makes errors.Is(err, ErrUnavailable) hold.
func (e *Error) Unwrap() error { return ErrUnavailable }

// Dirs lists the candidate models directories in search order: $EIDKIOSK_MODELS
// alone when set; otherwise the system directory, then the source tree's
// fetched copy (<repo>/out/models, found above the working directory or above
// this source file) for tests and `go run`.
func Dirs() []string {
	if d := os.Getenv(EnvDir); d != "" {
		return []string{d}
	}
	dirs := []string{SystemDir}
	seen := map[string]bool{SystemDir: true}
	add := func(root string) {
		if root == "" {
			return
		}
		d := filepath.Join(root, "out", "models")
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	if wd, err := os.Getwd(); err == nil {
		add(repoRoot(wd))
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		add(repoRoot(filepath.Dir(file)))
	}
	return dirs
}

// repoRoot walks up from dir to the directory whose go.mod declares module
// eidkiosk, or returns "".
func repoRoot(dir string) string {
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte("module eidkiosk\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Dir returns the models directory: the first of Dirs that exists. The error
// wraps ErrUnavailable.
func Dir() (string, error) {
	dirs := Dirs()
	for _, d := range dirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d, nil
		}
	}
	return "", &Error{Model: "models directory", Reason: fmt.Sprintf("none of %v exists", dirs)}
}

// Load returns the bytes of the named model from the models directory,
// after checking its size and SHA-256 against the manifest.
func Load(name string) ([]byte, error) {
	m, ok := Lookup(name)
	if !ok {
		return nil, &Error{Model: name, Reason: "not in the manifest"}
	}
	dir, err := Dir()
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Model = m.File
			e.Reason = "no models directory (" + e.Reason + ")"
		}
		return nil, err
	}
	return LoadFrom(dir, m)
}

// LoadFrom returns the bytes of m from dir, verified against the manifest.
func LoadFrom(dir string, m Model) ([]byte, error) {
	path := filepath.Join(dir, m.File)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &Error{Model: m.Name, Path: path, Reason: "missing"}
	}
	if err != nil {
		return nil, &Error{Model: m.Name, Path: path, Reason: "unreadable: " + err.Error()}
	}
	if err := check(m, b); err != nil {
		return nil, &Error{Model: m.Name, Path: path, Reason: err.Error()}
	}
	return b, nil
}

// check compares b with the manifest's size and hash.
func check(m Model, b []byte) error {
	if m.Size > 0 && int64(len(b)) != m.Size {
		return fmt.Errorf("altered: %d bytes, the manifest says %d", len(b), m.Size)
	}
	if got := Sum(b); got != m.SHA256 {
		return fmt.Errorf("altered: sha256 %s, the manifest says %s", got, m.SHA256)
	}
	return nil
}

// Sum is the lower-case hex SHA-256 of b.
func Sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Status is one model's state in a models directory.
type Status struct {
	Model
	Path string
	Err  error // nil when the file verifies
}

// Verify checks every model of models in dir (all of them, not stopping at
// the first failure), for `kioskctl face models` and start-up checks.
func Verify(dir string, models []Model) []Status {
	out := make([]Status, 0, len(models))
	for _, m := range models {
		_, err := LoadFrom(dir, m)
		out = append(out, Status{Model: m, Path: filepath.Join(dir, m.File), Err: err})
	}
	return out
}
