package repo

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"eidkiosk/kiosk/update"
)

// Pack writes a release archive (tar.gz) to out: binary as "kiosk" at the
// top, and every regular file under assets (if not empty) below "assets/".
// progress, if not nil, is called after each file with the bytes packed.
func Pack(out, binary, assets string, progress func(name string, bytes int64)) error {
	f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("repo: %w", err)
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
			return fmt.Errorf("repo: %w", err)
		}
		defer in.Close()
		fi, err := in.Stat()
		if err != nil {
			return fmt.Errorf("repo: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("repo: %s is not a regular file", src)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: fi.Size(), Typeflag: tar.TypeReg, ModTime: fi.ModTime()}); err != nil {
			return fmt.Errorf("repo: %w", err)
		}
		n, err := io.Copy(tw, in)
		if err != nil {
			return fmt.Errorf("repo: %w", err)
		}
		total += n
		if progress != nil {
			progress(name, total)
		}
		return nil
	}
	if err := add(binary, update.Entry, 0o755); err != nil {
		return err
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
			return fmt.Errorf("repo: pack assets: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("repo: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("repo: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("repo: %w", err)
	}
	ok = true
	return f.Close()
}
