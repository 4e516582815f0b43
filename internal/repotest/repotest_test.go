package repotest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRoot(t *testing.T) {
	root := Root(t)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("root %s has no go.mod", root)
	}
	if filepath.Base(filepath.Dir(filepath.Join(root, "internal", "repotest"))) != "internal" {
		t.Fatal("unexpected layout")
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "repotest", "repotest.go")); err != nil {
		t.Fatalf("root %s is not this repository: %v", root, err)
	}
}

func TestFindRootOutside(t *testing.T) {
	t.Chdir(t.TempDir())
	if _, err := FindRoot(); err != ErrNoRoot {
		t.Fatalf("FindRoot outside a repository: %v, want ErrNoRoot", err)
	}
}
