package systest

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPruneKeepsTheCurrentLayers(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, age time.Duration) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Join(p, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		when := time.Now().Add(-age)
		os.Chtimes(p, when, when)
		return p
	}
	base, root := mk("base-new", 0), mk("root-new", 0)
	mk("base-old", 48*time.Hour)
	mk("root-old", time.Hour)
	mk("run-123", 48*time.Hour)
	running := mk("run-456", time.Minute)
	other := mk("unrelated", 72*time.Hour)
	prune(dir, io.Discard, base, root)
	ents, _ := os.ReadDir(dir)
	var left []string
	for _, e := range ents {
		left = append(left, filepath.Join(dir, e.Name()))
	}
	want := map[string]bool{base: true, root: true, running: true, other: true}
	if len(left) != len(want) {
		t.Fatalf("left %v, want %v", left, want)
	}
	for _, p := range left {
		if !want[p] {
			t.Errorf("%s not pruned", p)
		}
	}
}
