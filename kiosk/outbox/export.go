package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"eidkiosk/internal/atomicfile"
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
			if err := atomicfile.Write(path, pkg, 0o600); err != nil {
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

// ReceiptExt is the extension of a receipt written by `authority import`
// beside an exported package.
const ReceiptExt = ".receipt"

// AckReceipts acknowledges the items whose receipts `authority import` wrote
// into dir (ID.receipt): each is checked by verify (signature, ID and package
// hash) before its item is acknowledged and its package erased; a receipt
// that does not verify is reported and its item stays. It returns how many
// items were acknowledged and the IDs whose receipts were refused.
func (o *Outbox) AckReceipts(ctx context.Context, dir string, verify func(id string, pkg, receipt []byte) error) (int, []string, error) {
	if o.readOnly {
		return 0, nil, ErrReadOnly
	}
	rows, err := o.db.QueryContext(ctx, `SELECT id, package FROM items WHERE state <> ? ORDER BY seq`, Acked)
	if err != nil {
		return 0, nil, fmt.Errorf("outbox: receipts: %w", err)
	}
	type item struct {
		id  string
		pkg []byte
	}
	var items []item
	for rows.Next() {
		var it item
		if err := rows.Scan(&it.id, &it.pkg); err != nil {
			rows.Close()
			return 0, nil, fmt.Errorf("outbox: receipts: %w", err)
		}
		items = append(items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("outbox: receipts: %w", err)
	}
	n := 0
	var bad []string
	for _, it := range items {
		rc, err := os.ReadFile(filepath.Join(dir, it.id+ReceiptExt))
		if err != nil {
			continue // not imported (yet)
		}
		if err := verify(it.id, it.pkg, rc); err != nil {
			bad = append(bad, it.id)
			continue
		}
		if err := o.Ack(ctx, it.id, rc); err != nil && !errors.Is(err, ErrNotFound) {
			return n, bad, err
		}
		n++
	}
	return n, bad, nil
}
