package shots

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// TestWritePNGIsWholeAndDurable: a screenshot is written through the durable
// writer: it decodes to the same pixels, is world-readable and leaves no
// temporary file beside it; a failed encode keeps the old file.
func TestWritePNGIsWholeAndDurable(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s.png")
	img := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.NRGBA{R: 200, G: 10, B: 30, A: 255})
	if err := writePNG(p, img); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got.Bounds() != img.Bounds() || color.NRGBAModel.Convert(got.At(1, 1)) != img.At(1, 1) {
		t.Fatalf("decoded %v, pixel %v", got.Bounds(), got.At(1, 1))
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode().Perm())
	}
	// An empty image cannot be encoded: the old screenshot stays whole.
	if err := writePNG(p, image.NewNRGBA(image.Rect(0, 0, 0, 0))); err == nil {
		t.Fatal("an empty image was written")
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Fatalf("left behind: %v", es)
	}
	if b, _ := os.ReadFile(p); len(b) == 0 {
		t.Fatal("old screenshot lost")
	}
}
