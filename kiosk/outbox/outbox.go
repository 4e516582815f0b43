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
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // "sqlite" driver

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/session"
)

// File is the database file inside the outbox directory.
const File = "outbox.db"

// Headroom is the space kept free for the visit in progress: the gate closes
// when the queued bytes plus Headroom exceed the configured maximum, so an
// admitted visit always fits.
const Headroom = 512 << 10

// AckedRetention is how long acknowledged items (ID, size, times, receipt;
// never the package) are kept for `kioskctl outbox status`.
const AckedRetention = 30 * 24 * time.Hour

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
	gate     string // last gate answer logged
}

// SetLogger makes the outbox log when its gate closes or opens (the alert
// an operator sees in the journal and the fleet view). Nothing personal is
// logged: counts, sizes, times, codes.
func (o *Outbox) SetLogger(l *slog.Logger) {
	o.mu.Lock()
	o.log = l
	o.mu.Unlock()
	o.logGate()
}

// logGate logs a change of the gate's answer.
func (o *Outbox) logGate() {
	err := o.Admit()
	now := ""
	if err != nil {
		now = err.Error()
	}
	o.mu.Lock()
	l, before := o.log, o.gate
	o.gate = now
	o.mu.Unlock()
	if l == nil || now == before {
		return
	}
	switch {
	case err == nil:
		l.Info("outbox: accepting visits again")
	case before == "" || !sameKind(before, now):
		l.Warn("outbox: refusing new visits", "reason", now)
	}
}

// sameKind reports whether two gate answers are the same condition (they
// differ in counts as the queue moves).
func sameKind(a, b string) bool {
	for _, e := range []error{session.ErrDisabled, session.ErrOutboxFull, session.ErrOutboxStale} {
		if strings.HasSuffix(a, e.Error()) && strings.HasSuffix(b, e.Error()) {
			return true
		}
	}
	return false
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

// armStaleLocked schedules a notification for the moment the gate will turn
// stale by time alone.
func (o *Outbox) armStaleLocked() {
	if o.staleAt != nil {
		o.staleAt.Stop()
		o.staleAt = nil
	}
	if o.readOnly || o.stats.Pending == 0 {
		return
	}
	at := o.staleTimeLocked()
	d := at.Sub(o.clock.Now())
	if d < 0 {
		return
	}
	o.staleAt = o.clock.AfterFunc(d+time.Millisecond, func() {
		o.logGate()
		o.notify()
	})
}

// staleTimeLocked is when the gate closes for staleness if nothing changes:
// the backlog age after the later of the oldest pending item and the last
// acknowledgement.
func (o *Outbox) staleTimeLocked() time.Time {
	base := o.stats.Oldest
	if o.stats.LastAck.After(base) {
		base = o.stats.LastAck
	}
	return base.Add(o.cfg.MaxBacklogAge.Duration)
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

// Admit implements session.Gate: nil, or session.ErrDisabled,
// session.ErrOutboxFull or session.ErrOutboxStale, wrapped with the reason.
func (o *Outbox) Admit() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.stats
	switch {
	case s.Disabled != "":
		return fmt.Errorf("outbox: authority refused this terminal (%s): %w", s.Disabled, session.ErrDisabled)
	case o.lowDisk:
		return fmt.Errorf("outbox: the disk is nearly full: %w", session.ErrOutboxFull)
	case s.Bytes+Headroom > o.cfg.MaxBytes:
		return fmt.Errorf("outbox: %d of %d bytes used: %w", s.Bytes, o.cfg.MaxBytes, session.ErrOutboxFull)
	case s.Pending+s.Refused+1 > o.cfg.MaxItems:
		return fmt.Errorf("outbox: %d of %d items: %w", s.Pending+s.Refused, o.cfg.MaxItems, session.ErrOutboxFull)
	case s.Pending > 0 && !o.clock.Now().Before(o.staleTimeLocked()):
		return fmt.Errorf("outbox: oldest item waiting since %s: %w", s.Oldest.UTC().Format(time.RFC3339), session.ErrOutboxStale)
	}
	return nil
}

var _ session.Gate = (*Outbox)(nil)
