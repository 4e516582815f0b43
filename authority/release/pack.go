package release

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"eidkiosk/updatemeta"
)

// PackOptions describe a release archive.
type PackOptions struct {
	Out     string // archive to write (refused if it exists)
	Binary  string // the kiosk binary, packed as updatemeta.Entry
	Assets  string // optional directory packed below "assets/"
	Version string // the release's version: the binary's own --version must say it
	// SBOM is the binary's CycloneDX SBOM (`make deb` writes
	// dist/sbom/kiosk.cdx.json), packed as SBOMName so that it is signed
	// and published with the release; optional.
	SBOM string
	// Progress, if not nil, is called after each file with the bytes packed.
	Progress func(name string, bytes int64)
}

// SBOMName is the name of the CycloneDX SBOM inside a release archive.
const SBOMName = "sbom.cdx.json"

// ErrNotSBOM: the file given as the release's SBOM is not a CycloneDX
// document.
var ErrNotSBOM = errors.New("release: not a CycloneDX SBOM")

// checkSBOM refuses a file that is not a CycloneDX JSON document.
func checkSBOM(p string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	var doc struct {
		BOMFormat  string            `json:"bomFormat"`
		Components []json.RawMessage `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || doc.BOMFormat != "CycloneDX" {
		return fmt.Errorf("%w: %s", ErrNotSBOM, p)
	}
	return nil
}

// ErrVersionMismatch: the binary says another version than the release
// (typically a build without `make build VERSION=…`).
var ErrVersionMismatch = errors.New("release: the binary's own version is not the release's")

// BinaryVersion runs `binary --version` (at most 30 s) and returns what it
// prints.
func BinaryVersion(ctx context.Context, binary string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("release: %s --version: %w", binary, err)
	}
	v, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(v), nil
}

// Pack writes a release archive (tar.gz) to o.Out: release.json (the
// version) and the binary as "kiosk" at the top, and every regular file
// under o.Assets (if not empty) below "assets/". It refuses a binary whose
// own --version is not o.Version: a terminal would report one version and
// run another.
func Pack(ctx context.Context, o PackOptions) error {
	if _, err := semver.StrictNewVersion(o.Version); err != nil {
		return fmt.Errorf("release: version %q is not a semantic version (e.g. 2.1.0): %w", o.Version, err)
	}
	got, err := BinaryVersion(ctx, o.Binary)
	if err != nil {
		return err
	}
	if got != o.Version {
		return fmt.Errorf("%w: %s says %q, the release is %s; build it with `make build VERSION=%s`", ErrVersionMismatch, o.Binary, got, o.Version, o.Version)
	}
	if o.SBOM != "" {
		if err := checkSBOM(o.SBOM); err != nil {
			return err
		}
	}
	out, binary, assets, progress := o.Out, o.Binary, o.Assets, o.Progress
	f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(out)
		}
	}()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	var total int64
	add := func(src, name string, mode int64) error {
		in, err := os.Open(src)
		if err != nil {
			return fmt.Errorf("release: %w", err)
		}
		defer in.Close()
		fi, err := in.Stat()
		if err != nil {
			return fmt.Errorf("release: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("release: %s is not a regular file", src)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: fi.Size(), Typeflag: tar.TypeReg, ModTime: fi.ModTime()}); err != nil {
			return fmt.Errorf("release: %w", err)
		}
		n, err := io.Copy(tw, in)
		if err != nil {
			return fmt.Errorf("release: %w", err)
		}
		total += n
		if progress != nil {
			progress(name, total)
		}
		return nil
	}
	info, _ := json.Marshal(updatemeta.Info{Version: o.Version})
	if err := tw.WriteHeader(&tar.Header{Name: updatemeta.InfoName, Mode: 0o644, Size: int64(len(info)), Typeflag: tar.TypeReg, ModTime: time.Now()}); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if _, err := tw.Write(info); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := add(binary, updatemeta.Entry, 0o755); err != nil {
		return err
	}
	if o.SBOM != "" {
		if err := add(o.SBOM, SBOMName, 0o644); err != nil {
			return err
		}
	}
	if assets != "" {
		err := filepath.WalkDir(assets, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(assets, p)
			if err != nil {
				return err
			}
			mode := int64(0o644)
			if fi, err := d.Info(); err == nil && fi.Mode()&0o111 != 0 {
				mode = 0o755
			}
			return add(p, "assets/"+filepath.ToSlash(rel), mode)
		})
		if err != nil {
			return fmt.Errorf("release: pack assets: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	ok = true
	return f.Close()
}

// PackedVersion returns the version `release pack` recorded in archive
// ("" for an archive packed otherwise).
func PackedVersion(archive string) (string, error) {
	f, err := os.Open(archive)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return "", fmt.Errorf("release: %s: %w", archive, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("release: %s: %w", archive, err)
		}
		if h.Name != updatemeta.InfoName {
			continue
		}
		var info updatemeta.Info
		if err := json.NewDecoder(io.LimitReader(tr, 1<<16)).Decode(&info); err != nil {
			return "", fmt.Errorf("release: %s: %s: %w", archive, updatemeta.InfoName, err)
		}
		return info.Version, nil
	}
}
