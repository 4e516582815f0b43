// Package repotest finds the repository and the shared test material for
// tests: the directory holding go.mod above the working directory, and
// ../shared beside it (face pictures and recordings, protocol references).
//
// It is for tests only; no shipped binary links it (the kiosk's dependency
// rule forbids *test packages).
package repotest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// ErrNoRoot is returned when no go.mod is found above the working directory.
var ErrNoRoot = errors.New("repotest: no go.mod above the working directory")

// FindRoot returns the directory holding go.mod, walking up from the
// working directory.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoRoot
		}
		dir = parent
	}
}

// Root is FindRoot for a test: it fails the test when there is no root.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Shared returns <root>/../shared/ELEM..., failing the test when it is
// missing.
func Shared(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{Root(t), "..", "shared"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared test material missing: %v", err)
	}
	return p
}

// Faces returns the shared face pictures and recordings directory, or the
// named file in it.
func Faces(t testing.TB, name ...string) string {
	t.Helper()
	return Shared(t, append([]string{"testdata", "faces"}, name...)...)
}
