package xvfb

import (
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestXvfbParallel starts several virtual displays at once: each gets its
// own number from the server (no race on lock files) and can be captured.
func TestXvfbParallel(t *testing.T) {
	if _, err := exec.LookPath("Xvfb"); err != nil {
		t.Skip("Xvfb not installed (make deps)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 3
	xs := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range xs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			xs[i], errs[i] = Start(ctx, 320, 240)
		}(i)
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, x := range xs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		defer x.Stop()
		if seen[x.Display] {
			t.Fatalf("display %s handed out twice", x.Display)
		}
		seen[x.Display] = true
	}
	p := filepath.Join(t.TempDir(), "root.png")
	if err := xs[0].Screenshot(ctx, p); err != nil {
		t.Skipf("no screenshot tools: %v", err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 240 {
		t.Fatalf("screenshot is %v, want 320x240", b)
	}
}
