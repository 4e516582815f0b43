package review

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"eidkiosk/authority"
	"eidkiosk/internal/clock"
)

// Status is an enrollment's state. It is a plain string (an alias) so that
// other packages can read it through an interface of their own, such as
// `Status(ctx, id) (string, error)`, without importing this one.
type Status = string

// The statuses.
const (
	Received    Status = "received"     // stored; the automatic checks have not finished
	Verified    Status = "verified"     // every automatic check passed
	NeedsReview Status = "needs_review" // at least one flag: an officer decides
	Approved    Status = "approved"     // an officer accepted it
	Rejected    Status = "rejected"     // an officer refused it, with a reason code
)

// Reason codes of a rejection (and Approve's fixed code).
const (
	ReasonFaceMismatch   = "face_mismatch"    // the live face is not the holder's
	ReasonNotLive        = "not_live"         // a presentation attack
	ReasonDuplicate      = "duplicate"        // the person is already enrolled
	ReasonDocument       = "document_problem" // the card is not genuine, expired or not the holder's
	ReasonQuality        = "poor_quality"     // the capture is unusable; the citizen re-enrolls
	ReasonOther          = "other"            // explained in the note
	ReasonOfficerChecked = "officer_checked"  // an approval: the officer checked the flags
)

// RejectReasons are the codes Reject accepts, in the order the console
// offers them.
var RejectReasons = []string{ReasonFaceMismatch, ReasonNotLive, ReasonDuplicate, ReasonDocument, ReasonQuality, ReasonOther}

// Errors callers act on.
var (
	ErrNotFound   = errors.New("review: no such enrollment")
	ErrNotPending = errors.New("review: the enrollment is not waiting for review")
	ErrReason     = errors.New("review: unknown reason code")
	ErrPurged     = errors.New("review: the review material was removed after the decision (retention)")
)

// MaxNote bounds an officer's free-text note, in bytes.
const MaxNote = 2000

// Transition is one stored change of status.
type Transition struct {
	EnrollmentID string    `json:"enrollment_id"`
	From         Status    `json:"from"`
	To           Status    `json:"to"`
	Actor        string    `json:"actor"`
	At           time.Time `json:"at"`
	Reason       string    `json:"reason,omitempty"`
	Note         string    `json:"note,omitempty"`
}

// Options configure a Store.
type Options struct {
	Clock clock.Clock
	// Retention is how long review material stays reviewable after a
	// decision; 0 keeps it (Purge removes nothing).
	Retention time.Duration
	// Source opens enrollments for the console and the CLI (intake).
	Source Source
	// Lockout policy; zero values take the defaults (5 failures, 15 min).
	MaxFailures int
	LockFor     time.Duration
	// Session lifetime: idle and absolute; defaults 15 min and 8 h.
	SessionIdle time.Duration
	SessionMax  time.Duration
}

// Store is the review module. Its zero value is not usable: call New, then
// Migrate (authority.NewServer does) or Use.
type Store struct {
	db   *authority.DB
	opts Options
}

var _ authority.Module = (*Store)(nil)

// New returns a Store; the database comes with Migrate or Use.
func New(opts Options) *Store {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 5
	}
	if opts.LockFor <= 0 {
		opts.LockFor = 15 * time.Minute
	}
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = 15 * time.Minute
	}
	if opts.SessionMax <= 0 {
		opts.SessionMax = 8 * time.Hour
	}
	return &Store{opts: opts}
}

// Name implements authority.Module.
func (s *Store) Name() string { return "review" }

// Routes implements authority.Module: the review has no routes on the
// terminals' server (the console has its own listener: Console).
func (s *Store) Routes(*http.ServeMux) {}

// Retention returns the configured retention (0: kept).
func (s *Store) Retention() time.Duration { return s.opts.Retention }

// Migrate implements authority.Module: it creates the review_ tables and
// gives a status to enrollments stored without one (run it after intake's).
func (s *Store) Migrate(ctx context.Context, db *authority.DB) error {
	blob, serial := "BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT"
	if db.Dialect == authority.Postgres {
		blob, serial = "BYTEA", "BIGSERIAL PRIMARY KEY"
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS review_status (
			enrollment_id TEXT PRIMARY KEY,
			status TEXT NOT NULL,
			since BIGINT NOT NULL,
			purged BIGINT NOT NULL DEFAULT 0)`,
		`CREATE INDEX IF NOT EXISTS review_status_queue ON review_status(status, since)`,
		`CREATE TABLE IF NOT EXISTS review_transitions (
			seq ` + serial + `,
			enrollment_id TEXT NOT NULL,
			from_status TEXT NOT NULL,
			to_status TEXT NOT NULL,
			actor TEXT NOT NULL,
			at BIGINT NOT NULL,
			reason TEXT NOT NULL,
			note TEXT NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS review_transitions_id ON review_transitions(enrollment_id)`,
		`CREATE TABLE IF NOT EXISTS review_officers (
			name TEXT PRIMARY KEY,
			password TEXT NOT NULL,
			totp_secret TEXT NOT NULL,
			totp_step BIGINT NOT NULL DEFAULT 0,
			disabled BIGINT NOT NULL DEFAULT 0,
			failures BIGINT NOT NULL DEFAULT 0,
			locked_until BIGINT NOT NULL DEFAULT 0,
			created BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS review_sessions (
			token_hash ` + blob + ` PRIMARY KEY,
			officer TEXT NOT NULL,
			csrf TEXT NOT NULL,
			created BIGINT NOT NULL,
			last_seen BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS review_audit (
			seq ` + serial + `,
			at BIGINT NOT NULL,
			actor TEXT NOT NULL,
			action TEXT NOT NULL,
			enrollment_id TEXT NOT NULL,
			detail TEXT NOT NULL)`,
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("review: migrate: %w", err)
		}
	}
	s.db = db
	return s.backfill(ctx)
}

// backfill gives a status to enrollments that intake stored more than a
// minute ago without one: those stored before the review module existed,
// and any whose report failed (intake logs it). Their stored flags decide,
// as in Checked; the transition's actor is "backfill".
func (s *Store) backfill(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id FROM intake_enrollments
		WHERE received < ? AND id NOT IN (SELECT enrollment_id FROM review_status) ORDER BY seq`), s.now().Add(-time.Minute).UnixMilli())
	if err != nil {
		return fmt.Errorf("review: backfill: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("review: backfill: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("review: backfill: %w", err)
	}
	for _, id := range ids {
		kinds, err := s.flagKinds(ctx, id)
		if err != nil {
			return err
		}
		if err := s.checked(ctx, id, kinds, "backfill"); err != nil {
			return err
		}
	}
	return nil
}

// SetSource sets the enrollment source when it is built after the Store
// (intake takes the Store as its hook).
func (s *Store) SetSource(src Source) { s.opts.Source = src }

// Use sets the database without migrating.
func (s *Store) Use(db *authority.DB) { s.db = db }

func (s *Store) now() time.Time { return s.opts.Clock.Now() }

// Checked records the outcome of intake's automatic checks: received →
// verified without flags, received → needs_review with any. It is intake's
// hook (intake.Options.Reviews) and idempotent: an enrollment already past
// received keeps its status.
func (s *Store) Checked(ctx context.Context, id string, flags []string) error {
	return s.checked(ctx, id, flags, "intake")
}

func (s *Store) checked(ctx context.Context, id string, flags []string, actor string) error {
	to, reason := Verified, ""
	if len(flags) > 0 {
		to = NeedsReview
		sorted := slices.Clone(flags)
		slices.Sort(sorted)
		reason = strings.Join(sorted, ",")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("review: record checks: %w", err)
	}
	defer tx.Rollback()
	now := s.now().UnixMilli()
	res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO review_status (enrollment_id, status, since) VALUES (?, ?, ?)
		ON CONFLICT (enrollment_id) DO NOTHING`), id, to, now)
	if err != nil {
		return fmt.Errorf("review: record checks: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	if err := s.transition(ctx, tx, Transition{EnrollmentID: id, From: Received, To: to, Actor: actor, Reason: reason}, now); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("review: record checks: %w", err)
	}
	return nil
}

func (s *Store) transition(ctx context.Context, x execer, t Transition, at int64) error {
	_, err := x.ExecContext(ctx, s.db.Rebind(`INSERT INTO review_transitions (enrollment_id, from_status, to_status, actor, at, reason, note)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), t.EnrollmentID, t.From, t.To, t.Actor, at, t.Reason, t.Note)
	if err != nil {
		return fmt.Errorf("review: store transition: %w", err)
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

type queryer interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// Status returns an enrollment's status: received when intake stored it and
// its checks have not finished; ErrNotFound when intake does not know it.
func (s *Store) Status(ctx context.Context, id string) (Status, error) {
	return s.status(ctx, s.db, id)
}

func (s *Store) status(ctx context.Context, q queryer, id string) (Status, error) {
	var st Status
	err := q.QueryRowContext(ctx, s.db.Rebind(`SELECT status FROM review_status WHERE enrollment_id = ?`), id).Scan(&st)
	if err == nil {
		return st, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("review: status: %w", err)
	}
	var one int
	err = q.QueryRowContext(ctx, s.db.Rebind(`SELECT 1 FROM intake_enrollments WHERE id = ?`), id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("review: status: %w", err)
	}
	return Received, nil
}

// Approve moves a needs_review enrollment to approved.
func (s *Store) Approve(ctx context.Context, id, officer, note string) error {
	return s.decide(ctx, id, officer, Approved, ReasonOfficerChecked, note)
}

// Reject moves a needs_review enrollment to rejected with a reason code
// (RejectReasons) and an optional note.
func (s *Store) Reject(ctx context.Context, id, officer, reason, note string) error {
	if !slices.Contains(RejectReasons, reason) {
		return fmt.Errorf("%w %q (one of %s)", ErrReason, reason, strings.Join(RejectReasons, ", "))
	}
	if reason == ReasonOther && strings.TrimSpace(note) == "" {
		return fmt.Errorf("%w: reason %q needs a note", ErrReason, ReasonOther)
	}
	return s.decide(ctx, id, officer, Rejected, reason, note)
}

func (s *Store) decide(ctx context.Context, id, officer string, to Status, reason, note string) error {
	if officer == "" {
		return errors.New("review: decide: no officer")
	}
	if len(note) > MaxNote {
		return fmt.Errorf("review: note longer than %d bytes", MaxNote)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("review: decide: %w", err)
	}
	defer tx.Rollback()
	now := s.now().UnixMilli()
	// The conditional update is the lock: of two officers deciding at
	// once, one changes the row and the other finds it decided.
	res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE review_status SET status = ?, since = ? WHERE enrollment_id = ? AND status = ?`),
		to, now, id, NeedsReview)
	if err != nil {
		return fmt.Errorf("review: decide: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		st, err := s.status(ctx, tx, id)
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: it is %s", ErrNotPending, st)
	}
	if err := s.transition(ctx, tx, Transition{EnrollmentID: id, From: NeedsReview, To: to, Actor: officer, Reason: reason, Note: note}, now); err != nil {
		return err
	}
	if err := s.audit(ctx, tx, officer, string(to), id, reason); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("review: decide: %w", err)
	}
	return nil
}

// History returns an enrollment's transitions, oldest first.
func (s *Store) History(ctx context.Context, id string) ([]Transition, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT from_status, to_status, actor, at, reason, note FROM review_transitions
		WHERE enrollment_id = ? ORDER BY seq`), id)
	if err != nil {
		return nil, fmt.Errorf("review: history: %w", err)
	}
	defer rows.Close()
	out := []Transition{}
	for rows.Next() {
		t := Transition{EnrollmentID: id}
		var at int64
		if err := rows.Scan(&t.From, &t.To, &t.Actor, &at, &t.Reason, &t.Note); err != nil {
			return nil, fmt.Errorf("review: history: %w", err)
		}
		t.At = time.UnixMilli(at).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// Item is one line of the queue.
type Item struct {
	EnrollmentID string    `json:"enrollment_id"`
	Short        string    `json:"short"`
	Status       Status    `json:"status"`
	Since        time.Time `json:"since"`
	Received     time.Time `json:"received"`
	StationID    string    `json:"station"`
	DeviceID     string    `json:"device"`
	Flags        []string  `json:"flags"`
}

// Counts is the number of enrollments in each status.
type Counts map[Status]int

// Queue returns the enrollments in status st (NeedsReview for the officers'
// queue), oldest first, at most limit (0: 200).
func (s *Store) Queue(ctx context.Context, st Status, limit int) ([]Item, error) {
	if limit <= 0 {
		limit = 200
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT r.enrollment_id, r.status, r.since, e.short, e.received, e.station_id, e.device_id
		FROM review_status r JOIN intake_enrollments e ON e.id = r.enrollment_id
		WHERE r.status = ? ORDER BY r.since, e.seq LIMIT ?`), st, limit)
	if err != nil {
		return nil, fmt.Errorf("review: queue: %w", err)
	}
	var out []Item
	for rows.Next() {
		var it Item
		var since, received int64
		if err := rows.Scan(&it.EnrollmentID, &it.Status, &since, &it.Short, &received, &it.StationID, &it.DeviceID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("review: queue: %w", err)
		}
		it.Since, it.Received = time.UnixMilli(since).UTC(), time.UnixMilli(received).UTC()
		out = append(out, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("review: queue: %w", err)
	}
	for i := range out {
		if out[i].Flags, err = s.flagKinds(ctx, out[i].EnrollmentID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Counts returns how many enrollments are in each status (received counts
// those intake stored whose checks have not finished).
func (s *Store) Counts(ctx context.Context) (Counts, error) {
	c := Counts{Received: 0, Verified: 0, NeedsReview: 0, Approved: 0, Rejected: 0}
	rows, err := s.db.QueryContext(ctx, `SELECT status, COUNT(*) FROM review_status GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("review: counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st Status
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("review: counts: %w", err)
		}
		c[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("review: counts: %w", err)
	}
	var n int
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM intake_enrollments WHERE id NOT IN (SELECT enrollment_id FROM review_status)`).Scan(&n)
	if err != nil {
		return nil, fmt.Errorf("review: counts: %w", err)
	}
	c[Received] = n
	return c, nil
}

func (s *Store) flagKinds(ctx context.Context, id string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT kind FROM intake_flags WHERE enrollment_id = ? ORDER BY kind`), id)
	if err != nil {
		return nil, fmt.Errorf("review: flags: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("review: flags: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// decided returns when an enrollment was decided and when its material was
// purged (zero times when not).
func (s *Store) decided(ctx context.Context, id string) (st Status, since, purged time.Time, err error) {
	var sms, pms int64
	err = s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT status, since, purged FROM review_status WHERE enrollment_id = ?`), id).Scan(&st, &sms, &pms)
	if errors.Is(err, sql.ErrNoRows) {
		st, err = s.Status(ctx, id)
		return st, time.Time{}, time.Time{}, err
	}
	if err != nil {
		return "", time.Time{}, time.Time{}, fmt.Errorf("review: status: %w", err)
	}
	since = time.UnixMilli(sms).UTC()
	if pms != 0 {
		purged = time.UnixMilli(pms).UTC()
	}
	return st, since, purged, nil
}

// Purge marks the review material of enrollments decided more than the
// retention ago as removed, and audits each; it returns how many. With no
// retention configured it removes nothing.
func (s *Store) Purge(ctx context.Context, actor string) (int, error) {
	if s.opts.Retention <= 0 {
		return 0, nil
	}
	now := s.now()
	cutoff := now.Add(-s.opts.Retention).UnixMilli()
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT enrollment_id FROM review_status WHERE status IN (?, ?) AND purged = 0 AND since <= ?`),
		Approved, Rejected, cutoff)
	if err != nil {
		return 0, fmt.Errorf("review: purge: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("review: purge: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("review: purge: %w", err)
	}
	for _, id := range ids {
		if _, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE review_status SET purged = ? WHERE enrollment_id = ? AND purged = 0`), now.UnixMilli(), id); err != nil {
			return 0, fmt.Errorf("review: purge: %w", err)
		}
		if err := s.audit(ctx, s.db, actor, "purge", id, "retention "+s.opts.Retention.String()); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}
