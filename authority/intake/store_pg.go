package intake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"eidkiosk/enroll"
)

// pgInsert stores one enrollment and, when another enrollment carries the
// same ID number, its duplicate flag, in one statement: the batch of a
// group commit is then one pipeline of statements and one round trip,
// instead of four round trips per enrollment. The duplicate check sees the
// enrollments stored by earlier statements of the same batch (a later
// statement in one transaction sees the earlier ones' rows). It returns
// how many rows it inserted: 0 when the enrollment ID was already stored.
const pgInsert = `WITH ins AS (
	INSERT INTO intake_enrollments
		(id, short, device_id, station_id, created, received, source, size, package_hash, package, receipt, number_hmac, binding_hash)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
	ON CONFLICT (id) DO NOTHING RETURNING id),
dup AS (
	SELECT id FROM intake_enrollments WHERE number_hmac = $12 AND id <> $1 ORDER BY seq LIMIT 1),
flag AS (
	INSERT INTO intake_flags (enrollment_id, kind, detail, at)
	SELECT ins.id, $14, $15 || dup.id, $6 FROM ins, dup
	ON CONFLICT (enrollment_id, kind) DO UPDATE SET detail = excluded.detail, at = excluded.at
	RETURNING 1)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM flag)`

// commitPG stores a batch on PostgreSQL: BEGIN, one pgInsert per
// enrollment and COMMIT go out as one pipeline (pgx's batch) and come back
// together, so the batch costs one round trip and one WAL flush
// (synchronous_commit stays on: the COMMIT's answer means the batch is on
// disk). Any error rolls the whole batch back.
func (in *Intake) commitPG(ctx context.Context, batch []*insertReq) error {
	c, err := in.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("intake: store: %w", err)
	}
	defer c.Close()
	stored := make([]bool, len(batch))
	err = c.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		b := &pgx.Batch{}
		b.Queue("BEGIN")
		for _, r := range batch {
			b.Queue(pgInsert, r.id, r.short, r.device, r.station, r.created, r.received,
				r.source, len(r.pkg), r.hash, r.pkg, r.receipt, r.numberHMAC, r.binding,
				FlagDuplicateNumber, "same ID number as ")
		}
		b.Queue("COMMIT")
		br := pc.SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
		for i := range batch {
			var n, flags int64
			if err := br.QueryRow().Scan(&n, &flags); err != nil {
				br.Close()
				return err
			}
			stored[i] = n == 1
		}
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
		return br.Close()
	})
	if err != nil {
		// A failed statement leaves the session in an aborted transaction
		// until ROLLBACK; the pool must not hand it out like that.
		c.ExecContext(context.Background(), "ROLLBACK")
		return fmt.Errorf("intake: store: %w", err)
	}
	for i, r := range batch {
		if stored[i] {
			r.res = Result{EnrollmentID: r.id, Receipt: r.receipt}
			continue
		}
		// Stored meanwhile by a concurrent request (this replica or
		// another): answer as a repeat, now that it is committed.
		var h, receipt []byte
		err := in.db.QueryRowContext(ctx, `SELECT package_hash, receipt FROM intake_enrollments WHERE id = $1`, r.id).Scan(&h, &receipt)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			r.res, r.err = Result{}, fmt.Errorf("intake: store: enrollment %s neither stored nor found", r.id)
		case err != nil:
			r.res, r.err = Result{}, fmt.Errorf("intake: store: %w", err)
		case string(h) != string(r.hash):
			r.res, r.err = Result{}, refuse(enroll.CodeConflict, "another package is stored under this enrollment id")
		default:
			r.res, r.err = Result{EnrollmentID: r.id, Receipt: receipt, Repeat: true}, nil
		}
	}
	return nil
}
