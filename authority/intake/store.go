package intake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"eidkiosk/authority"
	"eidkiosk/enroll"
)

var errNoRows = sql.ErrNoRows

// maxBatch bounds the packages committed in one transaction.
const maxBatch = 64

type insertReq struct {
	id, short, device, station string
	created, received          int64
	source                     string
	pkg, hash, receipt         []byte
	numberHMAC, binding        []byte

	res  Result
	err  error
	done chan struct{}
}

// insert stores req, grouping concurrent requests into one transaction
// (group commit): the first caller to find no commit running becomes the
// leader and commits batches until the queue is empty; the others wait. One
// fsync then covers many packages.
func (in *Intake) insert(ctx context.Context, req *insertReq) (Result, error) {
	in.bmu.Lock()
	in.pending = append(in.pending, req)
	if in.leader {
		in.bmu.Unlock()
		select {
		case <-req.done:
			return req.res, req.err
		case <-ctx.Done():
			// The leader still commits it; the caller gives up waiting.
			return Result{}, fmt.Errorf("intake: %w", ctx.Err())
		}
	}
	in.leader = true
	for len(in.pending) > 0 {
		n := min(len(in.pending), maxBatch)
		batch := in.pending[:n:n]
		in.pending = in.pending[n:]
		in.bmu.Unlock()
		in.commit(batch)
		in.bmu.Lock()
	}
	in.leader = false
	in.bmu.Unlock()
	<-req.done
	return req.res, req.err
}

// commit stores a batch in one transaction; when the transaction fails, it
// retries each package alone so that one bad row does not fail the others.
func (in *Intake) commit(batch []*insertReq) {
	// A background context: waiters may have gone, the work is still owed.
	ctx := context.Background()
	if len(batch) > 1 {
		if err := in.commitTx(ctx, batch); err == nil {
			for _, r := range batch {
				close(r.done)
			}
			return
		}
		for _, r := range batch {
			r.res, r.err = Result{}, nil
		}
	}
	for _, r := range batch {
		if err := in.commitTx(ctx, []*insertReq{r}); err != nil {
			r.err = err
		}
		close(r.done)
	}
}

func (in *Intake) commitTx(ctx context.Context, batch []*insertReq) error {
	db := in.db
	if db.Dialect == authority.Postgres {
		return in.commitPG(ctx, batch)
	}
	var tx *sql.Tx
	var err error
	if in.wconn != nil {
		tx, err = in.wconn.BeginTx(ctx, nil)
	} else {
		tx, err = db.BeginTx(ctx, nil)
	}
	if err != nil {
		return fmt.Errorf("intake: store: %w", err)
	}
	defer tx.Rollback()
	ins := db.Rebind(`INSERT INTO intake_enrollments
		(id, short, device_id, station_id, created, received, source, size, package_hash, package, receipt, number_hmac, binding_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
	for _, r := range batch {
		res, err := tx.ExecContext(ctx, ins, r.id, r.short, r.device, r.station, r.created, r.received,
			r.source, len(r.pkg), r.hash, r.pkg, r.receipt, r.numberHMAC, r.binding)
		if err != nil {
			return fmt.Errorf("intake: store: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			// Stored meanwhile by a concurrent request: answer as a repeat.
			var h, receipt []byte
			if err := tx.QueryRowContext(ctx, db.Rebind(`SELECT package_hash, receipt FROM intake_enrollments WHERE id = ?`), r.id).Scan(&h, &receipt); err != nil {
				return fmt.Errorf("intake: store: %w", err)
			}
			if string(h) != string(r.hash) {
				r.res, r.err = Result{}, refuse(enroll.CodeConflict, "another package is stored under this enrollment id")
			} else {
				r.res, r.err = Result{EnrollmentID: r.id, Receipt: receipt, Repeat: true}, nil
			}
			continue
		}
		r.res = Result{EnrollmentID: r.id, Receipt: r.receipt}
		// Built-in check: the same ID number enrolled before.
		var other string
		err = tx.QueryRowContext(ctx, db.Rebind(`SELECT id FROM intake_enrollments WHERE number_hmac = ? AND id <> ? ORDER BY seq LIMIT 1`),
			r.numberHMAC, r.id).Scan(&other)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("intake: duplicate check: %w", err)
		default:
			if err := insertFlag(ctx, tx, db.Rebind, r.id, Flag{Kind: FlagDuplicateNumber, Detail: "same ID number as " + other}, r.received); err != nil {
				return err
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("intake: store: %w", err)
	}
	in.kickCheckpoint()
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func insertFlag(ctx context.Context, x execer, rebind func(string) string, id string, f Flag, at int64) error {
	_, err := x.ExecContext(ctx, rebind(`INSERT INTO intake_flags (enrollment_id, kind, detail, at) VALUES (?, ?, ?, ?)
		ON CONFLICT (enrollment_id, kind) DO UPDATE SET detail = excluded.detail, at = excluded.at`), id, f.Kind, f.Detail, at)
	if err != nil {
		return fmt.Errorf("intake: flag: %w", err)
	}
	return nil
}
