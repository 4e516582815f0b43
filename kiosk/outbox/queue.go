// The queue: an item goes queued → sending → acked (or refused), each step one
// durable transaction.

package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// States of an item.
const (
	Queued  = "queued"
	Sending = "sending"
	Acked   = "acked"
	Refused = "refused"
)

// Errors callers act on.
var (
	ErrNotFound = errors.New("outbox: no such item")
	ErrConflict = errors.New("outbox: another package with this enrollment ID is already queued")
	ErrReadOnly = errors.New("outbox: opened read-only")
)

// Item is one package taken for sending.
type Item struct {
	Seq      int64
	ID       string
	Package  []byte
	Queued   time.Time
	Attempts int
}

// Enqueue stores a sealed package durably. Enqueueing the same ID with the
// same bytes again is a no-op; with other bytes it is ErrConflict. It does
// not check the size limits: the gate did before the visit began, and an
// admitted visit is never dropped.
func (o *Outbox) Enqueue(ctx context.Context, id string, pkg []byte) error {
	if o.readOnly {
		return ErrReadOnly
	}
	if id == "" || len(pkg) == 0 {
		return errors.New("outbox: empty id or package")
	}
	now := o.clock.Now().UnixMilli()
	var res sql.Result
	err := o.withSpace(func() (err error) {
		res, err = o.db.ExecContext(ctx,
			`INSERT INTO items(id, state, size, queued_at, package) VALUES(?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
			id, Queued, len(pkg), now, pkg)
		return err
	})
	if err != nil {
		return fmt.Errorf("outbox: enqueue: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var old []byte
		if err := o.db.QueryRowContext(ctx, `SELECT package FROM items WHERE id = ?`, id).Scan(&old); err != nil {
			return fmt.Errorf("outbox: enqueue: %w", err)
		}
		if string(old) != string(pkg) {
			return ErrConflict
		}
		return nil
	}
	return o.changed(ctx)
}

// Next takes the oldest queued item that is not already being sent and marks
// it sending. "Sending" lives in memory only (a crash puts it back in the
// queue by itself), so Next writes nothing and works on a full disk. ok is
// false when nothing is waiting.
func (o *Outbox) Next(ctx context.Context) (it Item, ok bool, err error) {
	if o.readOnly {
		return Item{}, false, ErrReadOnly
	}
	o.mu.Lock()
	skip := len(o.inflight)
	o.mu.Unlock()
	rows, err := o.db.QueryContext(ctx,
		`SELECT seq, id, queued_at, attempts FROM items WHERE state = ? ORDER BY seq LIMIT ?`, Queued, skip+1)
	if err != nil {
		return Item{}, false, fmt.Errorf("outbox: next: %w", err)
	}
	var at int64
	found := false
	o.mu.Lock()
	for rows.Next() {
		if err := rows.Scan(&it.Seq, &it.ID, &at, &it.Attempts); err != nil {
			o.mu.Unlock()
			rows.Close()
			return Item{}, false, fmt.Errorf("outbox: next: %w", err)
		}
		if !o.inflight[it.ID] {
			o.inflight[it.ID] = true
			found = true
			break
		}
	}
	o.mu.Unlock()
	rows.Close()
	if err := rows.Err(); err != nil || !found {
		if found {
			o.done(it.ID)
		}
		if err != nil {
			return Item{}, false, fmt.Errorf("outbox: next: %w", err)
		}
		return Item{}, false, nil
	}
	if err := o.db.QueryRowContext(ctx, `SELECT package FROM items WHERE id = ?`, it.ID).Scan(&it.Package); err != nil {
		o.done(it.ID)
		return Item{}, false, fmt.Errorf("outbox: next: %w", err)
	}
	it.Queued = time.UnixMilli(at)
	return it, true, nil
}

func (o *Outbox) done(id string) {
	o.mu.Lock()
	delete(o.inflight, id)
	o.mu.Unlock()
}

// Release puts a sending item back at its place in the queue after a failed
// attempt; reason is a short non-personal error text. The attempt count is
// recorded when the disk allows.
func (o *Outbox) Release(ctx context.Context, id, reason string) error {
	o.mu.Lock()
	sending := o.inflight[id]
	delete(o.inflight, id)
	o.mu.Unlock()
	if !sending {
		return ErrNotFound
	}
	return o.update(ctx, `UPDATE items SET attempts = attempts + 1, last_error = ? WHERE id = ? AND state = ?`,
		reason, id, Queued)
}

// Ack records the authority's verified receipt and erases the package.
func (o *Outbox) Ack(ctx context.Context, id string, receipt []byte) error {
	defer o.done(id)
	now := o.clock.Now().UnixMilli()
	if err := o.update(ctx, `UPDATE items SET state = ?, package = NULL, receipt = ?, acked_at = ?, last_error = '' WHERE id = ? AND state <> ?`,
		Acked, receipt, now, id, Acked); err != nil {
		return err
	}
	err := o.withSpace(func() error {
		_, err := o.db.ExecContext(ctx, `INSERT INTO meta(k, v) VALUES('last_ack', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`, fmt.Sprint(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("outbox: ack: %w", err)
	}
	return o.changed(ctx)
}

// Refuse marks an item the authority refused for good (code is its reason
// code). The package is kept for export; it is no longer sent.
func (o *Outbox) Refuse(ctx context.Context, id, code string) error {
	defer o.done(id)
	if err := o.update(ctx, `UPDATE items SET state = ?, last_error = ?, attempts = attempts + 1 WHERE id = ? AND state <> ?`,
		Refused, code, id, Acked); err != nil {
		return err
	}
	return o.changed(ctx)
}

// Requeue puts refused items back in the queue (after the authority fixed
// what made it refuse them). It returns how many.
func (o *Outbox) Requeue(ctx context.Context) (int, error) {
	if o.readOnly {
		return 0, ErrReadOnly
	}
	res, err := o.db.ExecContext(ctx, `UPDATE items SET state = ? WHERE state = ?`, Queued, Refused)
	if err != nil {
		return 0, fmt.Errorf("outbox: requeue: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), o.changed(ctx)
}

// SetDisabled records that the authority refused this terminal (code, e.g.
// "device_revoked"), or clears it with "". The gate then answers
// session.ErrDisabled, across restarts.
func (o *Outbox) SetDisabled(ctx context.Context, code string) error {
	if o.readOnly {
		return ErrReadOnly
	}
	o.mu.Lock()
	same := o.stats.Disabled == code
	o.mu.Unlock()
	if same {
		return nil
	}
	_, err := o.db.ExecContext(ctx, `INSERT INTO meta(k, v) VALUES('disabled', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`, code)
	if err != nil {
		return fmt.Errorf("outbox: disable: %w", err)
	}
	return o.changed(ctx)
}

func (o *Outbox) update(ctx context.Context, q string, args ...any) error {
	if o.readOnly {
		return ErrReadOnly
	}
	var res sql.Result
	err := o.withSpace(func() (err error) {
		res, err = o.db.ExecContext(ctx, q, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// State returns an item's state, receipt (when acked) and attempts.
func (o *Outbox) State(ctx context.Context, id string) (state string, receipt []byte, err error) {
	err = o.db.QueryRowContext(ctx, `SELECT state, receipt FROM items WHERE id = ?`, id).Scan(&state, &receipt)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, ErrNotFound
	}
	if err != nil {
		return "", nil, fmt.Errorf("outbox: %w", err)
	}
	o.mu.Lock()
	if state == Queued && o.inflight[id] {
		state = Sending
	}
	o.mu.Unlock()
	return state, receipt, nil
}
