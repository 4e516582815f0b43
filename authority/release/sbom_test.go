package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// archiveFile returns the contents of name inside a release archive.
func archiveFile(t *testing.T, archive, name string) ([]byte, bool) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, false
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b, true
		}
	}
}

// The binary's SBOM travels inside the signed release (so a terminal's
// slot holds the SBOM of what it runs); a file that is not CycloneDX is
// refused before anything is written.
func TestPackCarriesTheSBOM(t *testing.T) {
	dir := t.TempDir()
	bin := buildKiosk(t, "-s -w -X main.version=2.1.0")
	sbom := filepath.Join(dir, "kiosk.cdx.json")
	doc := []byte(`{"bomFormat":"CycloneDX","specVersion":"1.5","components":[{"type":"library","name":"go.bug.st/serial","version":"v1.8.0"}]}`)
	if err := os.WriteFile(sbom, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	arch := filepath.Join(dir, "kiosk-2.1.0.tar.gz")
	if err := Pack(context.Background(), PackOptions{Out: arch, Binary: bin, Version: "2.1.0", SBOM: sbom}); err != nil {
		t.Fatal(err)
	}
	if got, ok := archiveFile(t, arch, SBOMName); !ok || !bytes.Equal(got, doc) {
		t.Fatalf("%s in the archive: %q (present %v)", SBOMName, got, ok)
	}
	if _, ok := archiveFile(t, arch, "kiosk"); !ok {
		t.Fatal("no kiosk binary in the archive")
	}

	notSBOM := filepath.Join(dir, "notes.json")
	os.WriteFile(notSBOM, []byte(`{"hello":"world"}`), 0o644)
	arch2 := filepath.Join(dir, "other.tar.gz")
	if err := Pack(context.Background(), PackOptions{Out: arch2, Binary: bin, Version: "2.1.0", SBOM: notSBOM}); !errors.Is(err, ErrNotSBOM) {
		t.Fatalf("pack with a non-SBOM: %v", err)
	}
	if _, err := os.Stat(arch2); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused pack left %s", arch2)
	}
}
