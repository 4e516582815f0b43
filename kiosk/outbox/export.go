package outbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// PackageExt is the file extension of an exported package.
const PackageExt = ".eidpkg"

// Export copies every package not yet acknowledged (queued, sending or
// refused), oldest first, into dir as ID.eidpkg, each written durably
// (temporary file, fsync, rename, fsync of dir). Files already there with the
// same bytes are left alone. It needs no network and reveals nothing: the
// packages are sealed to the authority. The items stay in the outbox until
// the uplink gets their receipts (the authority answers an upload of an
// imported package with the same receipt). progress, if not nil, is called
// after each file.
func (o *Outbox) Export(ctx context.Context, dir string, progress func(done, total int)) (int, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("outbox: export: %w", err)
	}
	var total int
	if err := o.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM items WHERE state <> ?`, Acked).Scan(&total); err != nil {
		return 0, fmt.Errorf("outbox: export: %w", err)
	}
	rows, err := o.db.QueryContext(ctx, `SELECT id FROM items WHERE state <> ? ORDER BY seq`, Acked)
	if err != nil {
		return 0, fmt.Errorf("outbox: export: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("outbox: export: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("outbox: export: %w", err)
	}
	n := 0
	for i, id := range ids {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("outbox: export: %w", err)
		}
		var pkg []byte
		err := o.db.QueryRowContext(ctx, `SELECT package FROM items WHERE id = ? AND state <> ?`, id, Acked).Scan(&pkg)
		if err != nil {
			continue // acknowledged meanwhile
		}
		path := filepath.Join(dir, id+PackageExt)
		if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, pkg) {
			n++
		} else {
			if err := WriteFileDurable(path, pkg); err != nil {
				return n, fmt.Errorf("outbox: export: %w", err)
			}
			n++
		}
		if progress != nil {
			progress(i+1, total)
		}
	}
	return n, nil
}

// WriteFileDurable writes b to path atomically and durably: a temporary file
// in the same directory, fsync, rename, fsync of the directory.
func WriteFileDurable(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(b); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
