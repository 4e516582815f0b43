// Package outbox is the kiosk's durable queue of sealed enrollment packages,
// an SQLite file (modernc.org/sqlite) in WAL mode with synchronous=FULL and
// secure_delete: Enqueue returns only after the commit reached the disk, so
// "saved" on screen survives a power cut.
//
// Items go queued → sending → acked; a package is erased only when the uplink
// has verified the authority's signed receipt for it (Ack). A package the
// authority refuses for good stays, as refused, for a technician to export.
// The outbox is also the kiosk's session.Gate: it stops new visits when it
// nears its configured size or item count, when nothing was acknowledged for
// the configured backlog age (MOSIP-style freeze), when the disk itself is
// nearly full (a 1 MiB reserve file is given up so the visit in progress is
// still saved and acknowledgements can still be written), or when the
// authority said this terminal is revoked.
//
// It holds only sealed packages, which the kiosk cannot open, and their IDs,
// sizes and times: nothing personal. It does not send anything (kiosk/uplink)
// and does not seal (enroll).
package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // "sqlite" driver

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/config"
)

// File is the database file inside the outbox directory.
const File = "outbox.db"

// AckedRetention is how long acknowledged items (ID, size, times, receipt;
// never the package) are kept for `kioskctl outbox status`.
const AckedRetention = 30 * 24 * time.Hour

// Stats is the outbox's state, for the gate, the UI and `kioskctl outbox status`.
type Stats struct {
	Pending      int       // queued or sending
	Sending      int       // being sent now
	LowDisk      bool      // the disk is nearly full (the reserve was spent)
	Refused      int       // refused by the authority, kept
	Acked        int       // acknowledged, package erased (kept AckedRetention)
	Bytes        int64     // bytes of packages still held
	Oldest       time.Time // queue time of the oldest pending item; zero when none
	LastAck      time.Time // last acknowledgement; zero when never
	Opened       time.Time // when this outbox was first created
	Disabled     string    // the authority's refusal code when it disabled this terminal; "" when not
	LastRefusal  string    // code of the last refused item
	LastAttempts int       // attempts of the oldest pending item
}

// Outbox is the durable queue. It is safe for concurrent use.
type Outbox struct {
	db       *sql.DB
	cfg      config.OutboxConfig
	clock    clock.Clock
	readOnly bool

	dir string

	mu       sync.Mutex
	stats    Stats
	subs     map[chan struct{}]struct{}
	staleAt  clock.Timer
	inflight map[string]bool // items being sent
	lowDisk  bool            // the reserve is spent or the disk nearly full
	log      *slog.Logger
	gate     gateKind // last gate kind logged
}

// Open opens or creates the outbox in dir. Items that were being sent when
// the kiosk stopped are simply queued (sending is not persisted).
func Open(ctx context.Context, dir string, cfg config.OutboxConfig, clk clock.Clock) (*Outbox, error) {
	return open(ctx, dir, cfg, clk, false, true)
}

// OpenShared opens an existing outbox for writing beside a running kiosk
// (`kioskctl outbox receipts`): no crash recovery, no pruning. SQLite's
// locking serialises the two writers; the kiosk sees the change at its
// next own change or restart.
func OpenShared(ctx context.Context, dir string) (*Outbox, error) {
	if _, err := os.Stat(filepath.Join(dir, File)); err != nil {
		return nil, fmt.Errorf("outbox: no outbox in %s (is the state directory right?): %w", dir, err)
	}
	return open(ctx, dir, config.Default().Outbox, clock.Real{}, false, false)
}

// Inspect opens an existing outbox for reading only (status, export) while
// the kiosk may be running.
func Inspect(ctx context.Context, dir string) (*Outbox, error) {
	if _, err := os.Stat(filepath.Join(dir, File)); err != nil {
		return nil, fmt.Errorf("outbox: no outbox in %s (is the state directory right?): %w", dir, err)
	}
	return open(ctx, dir, config.Default().Outbox, clock.Real{}, true, false)
}

func open(ctx context.Context, dir string, cfg config.OutboxConfig, clk clock.Clock, ro, maintain bool) (*Outbox, error) {
	if clk == nil {
		clk = clock.Real{}
	}
	if !ro {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
	}
	// auto_vacuum=INCREMENTAL (set before WAL creates the file) lets freed
	// pages go back to the filesystem on a nearly full disk (reclaim). A
	// small WAL (checkpoint every 64 pages, file cut back to 1 MiB) keeps the
	// space the queue needs predictable when the disk fills up.
	q := "?_pragma=auto_vacuum(INCREMENTAL)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=secure_delete(ON)" +
		"&_pragma=wal_autocheckpoint(64)&_pragma=journal_size_limit(1048576)" +
		"&_pragma=busy_timeout(10000)&_txlock=immediate"
	if ro {
		q = "?_pragma=busy_timeout(10000)&_pragma=query_only(1)"
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, File)+q)
	if err != nil {
		return nil, fmt.Errorf("outbox: open: %w", err)
	}
	db.SetMaxOpenConns(1)
	o := &Outbox{db: db, cfg: cfg, clock: clk, readOnly: ro, dir: dir,
		subs: map[chan struct{}]struct{}{}, inflight: map[string]bool{}}
	if maintain {
		if err := o.migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
		o.keepReserve()
	}
	if err := o.refresh(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if !ro {
		// The package file and its WAL are the only files; keep them private.
		for _, f := range []string{File, File + "-wal", File + "-shm"} {
			_ = os.Chmod(filepath.Join(dir, f), 0o600)
		}
	}
	return o, nil
}

func (o *Outbox) migrate(ctx context.Context) error {
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS items (
			seq INTEGER PRIMARY KEY AUTOINCREMENT,
			id TEXT NOT NULL UNIQUE,
			state TEXT NOT NULL,
			size INTEGER NOT NULL,
			queued_at INTEGER NOT NULL,
			attempts INTEGER NOT NULL DEFAULT 0,
			last_error TEXT NOT NULL DEFAULT '',
			package BLOB,
			receipt BLOB,
			acked_at INTEGER NOT NULL DEFAULT 0)`,
		`CREATE INDEX IF NOT EXISTS items_state ON items(state, seq)`,
		`CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)`,
	}
	for _, s := range stmts {
		if _, err := o.db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("outbox: migrate: %w", err)
		}
	}
	now := o.clock.Now().UnixMilli()
	if _, err := o.db.ExecContext(ctx, `INSERT OR IGNORE INTO meta(k, v) VALUES('opened', ?)`, fmt.Sprint(now)); err != nil {
		return fmt.Errorf("outbox: migrate: %w", err)
	}
	if _, err := o.db.ExecContext(ctx, `UPDATE items SET state = ? WHERE state = ?`, Queued, Sending); err != nil {
		return fmt.Errorf("outbox: recover: %w", err)
	}
	cut := o.clock.Now().Add(-AckedRetention).UnixMilli()
	if _, err := o.db.ExecContext(ctx, `DELETE FROM items WHERE state = ? AND acked_at < ?`, Acked, cut); err != nil {
		return fmt.Errorf("outbox: prune: %w", err)
	}
	return nil
}

// Close closes the database.
func (o *Outbox) Close() error {
	o.mu.Lock()
	if o.staleAt != nil {
		o.staleAt.Stop()
	}
	o.mu.Unlock()
	return o.db.Close()
}

// Stats returns the cached state (refreshed after every change).
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stats
}

// Refresh re-reads the state from disk (for a read-only outbox watching a
// running kiosk).
func (o *Outbox) Refresh(ctx context.Context) (Stats, error) {
	if err := o.refresh(ctx); err != nil {
		return Stats{}, err
	}
	return o.Stats(), nil
}

func (o *Outbox) refresh(ctx context.Context) error {
	var s Stats
	var oldest, attempts sql.NullInt64
	err := o.db.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN state IN ('queued','sending') THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'refused' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'acked' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state <> 'acked' THEN size ELSE 0 END), 0),
		MIN(CASE WHEN state IN ('queued','sending') THEN queued_at END)
		FROM items`).Scan(&s.Pending, &s.Refused, &s.Acked, &s.Bytes, &oldest)
	if err != nil {
		return fmt.Errorf("outbox: stats: %w", err)
	}
	if oldest.Valid {
		s.Oldest = time.UnixMilli(oldest.Int64)
		if err := o.db.QueryRowContext(ctx, `SELECT attempts FROM items WHERE state IN ('queued','sending') ORDER BY seq LIMIT 1`).Scan(&attempts); err == nil {
			s.LastAttempts = int(attempts.Int64)
		}
	}
	_ = o.db.QueryRowContext(ctx, `SELECT last_error FROM items WHERE state = 'refused' ORDER BY seq DESC LIMIT 1`).Scan(&s.LastRefusal)
	rows, err := o.db.QueryContext(ctx, `SELECT k, v FROM meta`)
	if err != nil {
		return fmt.Errorf("outbox: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return fmt.Errorf("outbox: stats: %w", err)
		}
		var ms int64
		switch k {
		case "last_ack":
			fmt.Sscan(v, &ms)
			s.LastAck = time.UnixMilli(ms)
		case "opened":
			fmt.Sscan(v, &ms)
			s.Opened = time.UnixMilli(ms)
		case "disabled":
			s.Disabled = v
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("outbox: stats: %w", err)
	}
	o.mu.Lock()
	s.Sending, s.LowDisk = len(o.inflight), o.lowDisk
	o.stats = s
	o.armStaleLocked()
	o.mu.Unlock()
	return nil
}

// changed refreshes the cache and wakes the subscribers. On a nearly full
// disk it first gives freed pages back to the filesystem and tries to make
// the reserve again.
func (o *Outbox) changed(ctx context.Context) error {
	if !o.readOnly {
		o.mu.Lock()
		low := o.lowDisk
		o.mu.Unlock()
		if low {
			o.reclaim(ctx)
			o.keepReserve()
		}
	}
	err := o.refresh(ctx)
	o.logGate()
	o.notify()
	return err
}

func (o *Outbox) notify() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for ch := range o.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Subscribe returns a channel that receives a value (coalesced) whenever the
// outbox changes or its gate may have changed, and a function that ends the
// subscription. The kiosk turns these into session.Recheck; the uplink wakes
// on them.
func (o *Outbox) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	o.mu.Lock()
	o.subs[ch] = struct{}{}
	o.mu.Unlock()
	return ch, func() {
		o.mu.Lock()
		delete(o.subs, ch)
		o.mu.Unlock()
	}
}
