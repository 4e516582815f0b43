// Package facematchtest gives tests a real Matcher on the fetched models and
// the shared face pictures (<repo>/../shared/testdata/faces). It is imported
// by tests only; no shipped binary links it.
package facematchtest

import (
	"eidkiosk/internal/repotest"

	"os"
	"path/filepath"
	"testing"

	"eidkiosk/facematch"
)

// Root is the repository root above the working directory.
func Root(t testing.TB) string {
	t.Helper()
	return repotest.Root(t)
}

// Faces is the shared faces folder; the test fails when it is missing.
func Faces(t testing.TB) string {
	t.Helper()
	p := filepath.Join(Root(t), "..", "shared", "testdata", "faces")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("facematchtest: shared test data missing: %v", err)
	}
	return p
}

// Face is the path of one shared face file.
func Face(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(Faces(t), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("facematchtest: %v", err)
	}
	return p
}

// Matcher opens a Matcher on the verified models and closes it with the
// test. A missing or altered model fails the test with the fix.
func Matcher(t testing.TB) *facematch.Matcher {
	t.Helper()
	m, err := facematch.Open(facematch.DefaultQuality)
	if err != nil {
		t.Fatalf("facematchtest: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
