package font

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/image/font/sfnt"
)

var (
	collOnce sync.Once
	coll     []byte
)

func debianCollection(t *testing.T) []byte {
	t.Helper()
	collOnce.Do(func() { coll, _ = os.ReadFile(DebianRegular) })
	if coll == nil {
		t.Skipf("%s missing: install the Debian package fonts-noto-cjk", DebianRegular)
	}
	return coll
}

func TestExtractSCFace(t *testing.T) {
	ttc := debianCollection(t)
	idx, err := FindFace(ttc, SCFamily)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Extract(ttc, idx)
	if err != nil {
		t.Fatal(err)
	}
	name, err := Verify(out, Probe)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(name, "CJK SC") {
		t.Fatalf("extracted face is %q, want the SC face", name)
	}
	// The whole-file checksum of a valid OpenType file is 0xB1B0AFBA.
	if s := checksum(out); s != 0xB1B0AFBA {
		t.Errorf("file checksum %#x, want 0xb1b0afba", s)
	}
	// Every table checksum in the new directory is right.
	n := int(binary.BigEndian.Uint16(out[4:]))
	for i := 0; i < n; i++ {
		p := 12 + 16*i
		tag := string(out[p : p+4])
		off := binary.BigEndian.Uint32(out[p+8:])
		l := binary.BigEndian.Uint32(out[p+12:])
		data := append([]byte(nil), out[off:off+l]...)
		if tag == "head" {
			binary.BigEndian.PutUint32(data[8:], 0)
		}
		if got, want := binary.BigEndian.Uint32(out[p+4:]), checksum(data); got != want {
			t.Errorf("table %s checksum %#x, want %#x", tag, got, want)
		}
	}

	// Simplified forms: characters whose Japanese and Simplified Chinese
	// forms differ map to the SC face's glyphs, not the JP face's.
	c, err := sfnt.ParseCollection(ttc)
	if err != nil {
		t.Fatal(err)
	}
	jpIdx, err := FindFace(ttc, "Noto Sans CJK JP")
	if err != nil {
		t.Fatal(err)
	}
	jp, _ := c.Font(jpIdx)
	sc, _ := c.Font(idx)
	f, err := sfnt.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	var buf sfnt.Buffer
	differ := 0
	for _, r := range "骨直户关写画" {
		gj, _ := jp.GlyphIndex(&buf, r)
		gs, _ := sc.GlyphIndex(&buf, r)
		got, _ := f.GlyphIndex(&buf, r)
		if got != gs {
			t.Errorf("%c: glyph %d, want the SC glyph %d", r, got, gs)
		}
		if gj != gs {
			differ++
		}
	}
	if differ == 0 {
		t.Errorf("no probe character has distinct JP and SC forms; the probe proves nothing")
	}
}

func TestExtractRejectsMalformed(t *testing.T) {
	ttc := debianCollection(t)
	cases := map[string][]byte{
		"empty":     nil,
		"not ttc":   []byte("OTTO\x00\x01\x00\x00\x00\x00\x00\x00"),
		"no faces":  append([]byte("ttcf\x00\x01\x00\x00"), 0, 0, 0, 0),
		"truncated": ttc[:4096],
		"huge offset": func() []byte {
			b := append([]byte(nil), ttc[:64]...)
			binary.BigEndian.PutUint32(b[12:], 1<<30)
			return b
		}(),
	}
	for name, b := range cases {
		if _, err := Extract(b, 0); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err = %v, want ErrFormat", name, err)
		}
	}
	if _, err := Extract(ttc, 99); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("face 99: err = %v", err)
	}
}

func TestPrepareCachesAndRepairs(t *testing.T) {
	debianCollection(t)
	dir := t.TempDir()
	o := Options{CacheDir: dir, Bold: filepath.Join(dir, "no-bold.ttc")}
	f, err := Prepare(o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.Regular.Name, "SC") || f.Bold.Path != f.Regular.Path {
		t.Fatalf("faces = %q %q, want SC regular and bold falling back to it", f.Regular.Name, f.Bold.Path)
	}
	st1, err := os.Stat(f.Regular.Path)
	if err != nil {
		t.Fatal(err)
	}
	// The second start reuses the cache file.
	time.Sleep(10 * time.Millisecond)
	f2, err := Prepare(o)
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := os.Stat(f2.Regular.Path)
	if f2.Regular.Path != f.Regular.Path || !st2.ModTime().Equal(st1.ModTime()) {
		t.Errorf("cache not reused: %s %v -> %s %v", f.Regular.Path, st1.ModTime(), f2.Regular.Path, st2.ModTime())
	}
	// A damaged cache file (power cut before the atomic write existed, disk
	// error) is replaced by a fresh extraction.
	if err := os.WriteFile(f.Regular.Path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	f3, err := Prepare(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(f3.Regular.Bytes) != len(f.Regular.Bytes) {
		t.Errorf("damaged cache not repaired: %d bytes", len(f3.Regular.Bytes))
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover temporary file %s", e.Name())
		}
	}
}

func TestPrepareErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Prepare(Options{CacheDir: dir, Regular: filepath.Join(dir, "missing.ttc")})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "fonts-noto-cjk") {
		t.Errorf("missing collection: err = %v, want ErrNotFound naming the package", err)
	}
	debianCollection(t)
	_, err = Prepare(Options{Configured: DebianRegular})
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "ui.font") {
		t.Errorf("configured collection: err = %v, want ErrFormat naming ui.font", err)
	}
	// A Latin-only font is refused: it cannot render the Chinese screens.
	dejavu := "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
	if _, err := os.Stat(dejavu); err == nil {
		_, err = Prepare(Options{Configured: dejavu})
		if err == nil || !strings.Contains(err.Error(), "no glyphs") {
			t.Errorf("latin-only font: err = %v, want 'no glyphs'", err)
		}
	}
	// A configured single-face file that covers the probe is used as is.
	p, err := Prepare(Options{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Prepare(Options{Configured: p.Regular.Path})
	if err != nil || f.Regular.Path != p.Regular.Path {
		t.Errorf("configured font: %v %q", err, f.Regular.Path)
	}
}

func BenchmarkExtract(b *testing.B) {
	ttc, err := os.ReadFile(DebianRegular)
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(int64(len(ttc)))
	for b.Loop() {
		if _, err := Extract(ttc, 2); err != nil {
			b.Fatal(err)
		}
	}
}
