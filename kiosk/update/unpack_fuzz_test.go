package update

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzUnpack feeds arbitrary archives to the slot installer: it must never
// panic, never write outside the slot, and every file it reports must be
// there with the reported size.
func FuzzUnpack(f *testing.F) {
	mk := func(entries ...tar.Header) []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for _, h := range entries {
			tw.WriteHeader(&h)
			if h.Size > 0 {
				tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
			}
		}
		tw.Close()
		return b.Bytes()
	}
	f.Add(mk(tar.Header{Name: "kiosk", Mode: 0o755, Size: 5, Typeflag: tar.TypeReg}))
	f.Add(mk(tar.Header{Name: "assets/", Typeflag: tar.TypeDir, Mode: 0o755}, tar.Header{Name: "assets/a", Size: 3, Typeflag: tar.TypeReg}))
	f.Add(mk(tar.Header{Name: "../x", Size: 1, Typeflag: tar.TypeReg}))
	f.Add(mk(tar.Header{Name: "l", Linkname: "/etc", Typeflag: tar.TypeSymlink}))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		arch := filepath.Join(base, "a.tar")
		os.WriteFile(arch, data, 0o600)
		dir := filepath.Join(base, "slot")
		os.Mkdir(dir, 0o700)
		files, err := unpack(context.Background(), arch, dir)
		filepath.Walk(base, func(p string, fi os.FileInfo, _ error) error {
			if p != base && p != arch && p != dir && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
				t.Fatalf("wrote outside the slot: %s", p)
			}
			if fi != nil && fi.Mode()&os.ModeSymlink != 0 {
				t.Fatalf("created a symlink: %s", p)
			}
			return nil
		})
		if err != nil {
			return
		}
		for name, fh := range files {
			fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name)))
			if err != nil || fi.Size() != fh.Size {
				t.Fatalf("reported %s (%d bytes) but found %v %v", name, fh.Size, fi, err)
			}
		}
	})
}
