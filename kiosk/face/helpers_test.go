package face

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedFaces finds <repo root>/../shared/testdata/faces.
func sharedFaces(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "testdata", "faces")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared test data missing: %v", err)
	}
	return p
}
