// Package atomicfile writes files durably: the bytes go to a temporary file
// in the same directory, which is fsynced, renamed over the target and the
// directory fsynced, so a power cut leaves either the old file or the new one,
// never a torn one. It is the one durable writer of the tree: the outbox
// export and reserve, the authority's keys and receipts, the font cache, the
// screenshots, the packages and the provisioning files all write through it.
//
// It does not lock: concurrent writers of one path race (the last rename
// wins), and readers see whole files only. It does not create the directory,
// and it does not replace anything but a regular file.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ErrNotRegular is returned when path exists and is not a regular file (a
// directory, a device, a socket): atomicfile never replaces those.
var ErrNotRegular = errors.New("atomicfile: not a regular file")

// Write replaces path with data, created with mode perm (exactly perm: the
// umask does not apply).
func Write(path string, data []byte, perm os.FileMode) error {
	return WriteFunc(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFunc replaces path with what write writes, for callers that stream
// (an encoder, a packager). When write fails nothing is renamed: path keeps
// its old content and the temporary file is removed.
func WriteFunc(path string, perm os.FileMode, write func(io.Writer) error) (err error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s (%v)", ErrNotRegular, path, fi.Mode().Type())
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	if err = write(f); err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("atomicfile: sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("atomicfile: close %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so that a rename or removal in it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("atomicfile: sync dir %s: %w", dir, err)
	}
	return nil
}
