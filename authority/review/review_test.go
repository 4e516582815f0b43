package review_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority"
	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/authority/review"
	"eidkiosk/internal/pgtest"
)

// The status model end to end on real packages: a clean enrollment is
// verified, a flagged one needs review, an officer's decision moves it once,
// and every transition is stored with who, when and why.
func TestStatusModel(t *testing.T) {
	statusModel(t, newFixture(t, review.Options{}))
}

// TestStatusModelOnPostgres is TestStatusModel on PostgreSQL (runs with
// a throw-away cluster, or EIDKIOSK_PG_URL).
func TestStatusModelOnPostgres(t *testing.T) {
	f := newFixtureDB(t, review.Options{}, pgtest.Database(t))
	if f.db.Dialect != authority.Postgres {
		t.Fatalf("dialect %s", f.db.Dialect)
	}
	statusModel(t, f)
}

func statusModel(t *testing.T, f *fixture) {
	ctx := context.Background()
	clean := f.submit(t, intaketest.CitizenNumber, nil)
	dup := f.submit(t, intaketest.CitizenNumber, nil) // same number: duplicate_id_number
	fake := f.submit(t, "990102195602140028", notLive)
	for id, want := range map[string]review.Status{clean: review.Verified, dup: review.NeedsReview, fake: review.NeedsReview} {
		if got, err := f.rv.Status(ctx, id); err != nil || got != want {
			t.Errorf("status of %s = %q, %v; want %q", id, got, err, want)
		}
	}
	// The terminal's view through intake: the status, the flags only for the authority.
	st, err := f.in.Status(ctx, dup)
	if err != nil || st.State != review.NeedsReview {
		t.Fatalf("intake status %+v, %v", st, err)
	}
	q, err := f.rv.Queue(ctx, review.NeedsReview, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 2 || q[0].EnrollmentID != dup || q[1].EnrollmentID != fake ||
		strings.Join(q[0].Flags, ",") != "duplicate_id_number" || strings.Join(q[1].Flags, ",") != "not_live" {
		t.Fatalf("queue %+v", q)
	}
	c, err := f.rv.Counts(ctx)
	if err != nil || c[review.Verified] != 1 || c[review.NeedsReview] != 2 || c[review.Received] != 0 {
		t.Fatalf("counts %v, %v", c, err)
	}

	f.clk.Advance(time.Minute)
	if err := f.rv.Approve(ctx, dup, "li.officer", "same person re-enrolled after losing the card"); err != nil {
		t.Fatal(err)
	}
	if err := f.rv.Reject(ctx, fake, "wang.officer", review.ReasonNotLive, ""); err != nil {
		t.Fatal(err)
	}
	// Bad input: each refused, nothing changed.
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"double decision", f.rv.Approve(ctx, dup, "wang.officer", ""), review.ErrNotPending},
		{"reject after approve", f.rv.Reject(ctx, dup, "wang.officer", review.ReasonOther, "x"), review.ErrNotPending},
		{"verified is not pending", f.rv.Approve(ctx, clean, "wang.officer", ""), review.ErrNotPending},
		{"unknown id", f.rv.Approve(ctx, "0190a0a0-dead-7000-8000-000000000000", "wang.officer", ""), review.ErrNotFound},
		{"unknown reason", f.rv.Reject(ctx, clean, "wang.officer", "looks_odd", ""), review.ErrReason},
		{"other without a note", f.rv.Reject(ctx, clean, "wang.officer", review.ReasonOther, " "), review.ErrReason},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.err, c.want)
		}
	}
	h, err := f.rv.History(ctx, dup)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].From != review.Received || h[0].To != review.NeedsReview || h[0].Actor != "intake" || h[0].Reason != "duplicate_id_number" ||
		h[1].From != review.NeedsReview || h[1].To != review.Approved || h[1].Actor != "li.officer" || h[1].Reason != review.ReasonOfficerChecked ||
		!strings.Contains(h[1].Note, "re-enrolled") || !h[1].At.After(h[0].At) {
		t.Errorf("history %+v", h)
	}
	if got, _ := f.rv.Status(ctx, fake); got != review.Rejected {
		t.Errorf("rejected enrollment is %s", got)
	}
	if st, _ := f.in.Status(ctx, fake); st.State != review.Rejected {
		t.Errorf("the terminal's status is %q", st.State)
	}
	a, err := f.rv.Audit(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2 || a[0].Action != "rejected" || a[0].Actor != "wang.officer" || a[0].EnrollmentID != fake || a[1].Action != "approved" {
		t.Errorf("audit %+v", a)
	}
	if _, err := f.rv.Status(ctx, "nope"); !errors.Is(err, review.ErrNotFound) {
		t.Errorf("unknown status: %v", err)
	}
}

// The case view shows what the decision needs, masked; the address comes
// only on request and is audited; purged material is withheld.
func TestCaseAndRetention(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, review.Options{Retention: 24 * time.Hour})
	f.submit(t, intaketest.CitizenNumber, nil)
	id := f.submit(t, intaketest.CitizenNumber, notLive)
	c, err := f.rv.Case(ctx, id, "li.officer")
	if err != nil {
		t.Fatal(err)
	}
	if c.Number == intaketest.CitizenNumber || !strings.HasPrefix(c.Number, intaketest.CitizenNumber[:3]) || strings.Contains(c.Name, "三") {
		t.Errorf("number %q / name %q not masked", c.Number, c.Name)
	}
	if c.Status != review.NeedsReview || c.Live || len(c.Quality) != 3 || c.StationID != "NS-PSB-001" || c.DeviceID != "KT-A" ||
		strings.Join(c.Flags, ",") != "duplicate_id_number,not_live" || len(c.FlagDetails) != 2 || c.HasReference {
		t.Errorf("case %+v", c)
	}
	p, err := f.rv.Picture(ctx, id, review.PicturePortrait, 0)
	if err != nil || len(p) < 100 || p[0] != 0xFF || p[1] != 0xD8 {
		t.Fatalf("portrait: %d bytes, %v", len(p), err)
	}
	if _, err := f.rv.Picture(ctx, id, review.PictureReference, 0); !errors.Is(err, review.ErrNotFound) {
		t.Errorf("reference without a registered photo: %v", err)
	}
	addr, err := f.rv.Address(ctx, id, "li.officer")
	if err != nil || addr.Reveal() != intaketest.CitizenAddress {
		t.Fatalf("address: %v", err)
	}
	if err := f.rv.Reject(ctx, id, "li.officer", review.ReasonNotLive, ""); err != nil {
		t.Fatal(err)
	}
	if c, _ = f.rv.Case(ctx, id, "li.officer"); c.PurgeDue.IsZero() || !c.Purged.IsZero() {
		t.Errorf("decided case: purge due %v, purged %v", c.PurgeDue, c.Purged)
	}
	if n, err := f.rv.Purge(ctx, "retention"); err != nil || n != 0 {
		t.Fatalf("purge before the retention: %d, %v", n, err)
	}
	f.clk.Advance(25 * time.Hour)
	if n, err := f.rv.Purge(ctx, "retention"); err != nil || n != 1 {
		t.Fatalf("purge after the retention: %d, %v", n, err)
	}
	if _, err := f.rv.Picture(ctx, id, review.PicturePortrait, 0); !errors.Is(err, review.ErrPurged) {
		t.Errorf("portrait after purge: %v", err)
	}
	if c, _ = f.rv.Case(ctx, id, "li.officer"); c.Purged.IsZero() {
		t.Error("case does not say the material was removed")
	}
	a, _ := f.rv.Audit(ctx, 20)
	var actions []string
	for _, e := range a {
		actions = append([]string{e.Action}, actions...)
	}
	if got := strings.Join(actions, ","); got != "view,reveal_address,rejected,view,purge,view" {
		t.Errorf("audit actions %s", got)
	}
	if strings.Contains(string(f.log.Bytes()), intaketest.CitizenNumber) {
		t.Error("an ID number in the log")
	}
}

// Officers: argon2id + TOTP, lock-out, replayed codes, session expiry and
// an officer disabled mid-session.
func TestOfficers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, review.Options{MaxFailures: 3, LockFor: 10 * time.Minute, SessionIdle: 15 * time.Minute})
	const pw = "correct horse battery"
	secret := f.officer(t, "li.officer", pw)
	if _, err := f.rv.AddOfficer(ctx, "li.officer", pw, "test"); !errors.Is(err, review.ErrOfficerTaken) {
		t.Errorf("second add: %v", err)
	}
	if _, err := f.rv.AddOfficer(ctx, "short.pw", "abc", "test"); !errors.Is(err, review.ErrPassword) {
		t.Errorf("short password: %v", err)
	}
	if _, err := f.rv.Login(ctx, "nobody", pw, "123456"); !errors.Is(err, review.ErrLogin) {
		t.Errorf("unknown officer: %v", err)
	}
	if _, err := f.rv.Login(ctx, "li.officer", pw, f.code(t, secret, 5*time.Minute)); !errors.Is(err, review.ErrLogin) {
		t.Errorf("code of another time: %v", err)
	}
	s, err := f.rv.Login(ctx, "li.officer", pw, f.code(t, secret, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.rv.Login(ctx, "li.officer", pw, f.code(t, secret, 0)); !errors.Is(err, review.ErrLogin) {
		t.Errorf("replayed code: %v", err)
	}
	if got, err := f.rv.Authenticate(ctx, s.Token); err != nil || got.Officer != "li.officer" || got.CSRF != s.CSRF {
		t.Fatalf("authenticate: %+v, %v", got, err)
	}
	f.clk.Advance(16 * time.Minute)
	if _, err := f.rv.Authenticate(ctx, s.Token); !errors.Is(err, review.ErrSession) {
		t.Errorf("idle session: %v", err)
	}
	// Lock-out after three failures (the replayed code was the first),
	// even with the right credentials then.
	for range 1 {
		if _, err := f.rv.Login(ctx, "li.officer", "wrong password!", f.code(t, secret, 0)); !errors.Is(err, review.ErrLogin) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if _, err := f.rv.Login(ctx, "li.officer", "wrong password!", f.code(t, secret, 0)); !errors.Is(err, review.ErrLocked) {
		t.Fatalf("third failure: %v", err)
	}
	if _, err := f.rv.Login(ctx, "li.officer", pw, f.code(t, secret, 0)); !errors.Is(err, review.ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
	f.clk.Advance(11 * time.Minute)
	s, err = f.rv.Login(ctx, "li.officer", pw, f.code(t, secret, 0))
	if err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	if err := f.rv.DisableOfficer(ctx, "li.officer", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.rv.Authenticate(ctx, s.Token); !errors.Is(err, review.ErrDisabled) {
		t.Errorf("disabled mid-session: %v", err)
	}
	f.clk.Advance(time.Minute)
	if _, err := f.rv.Login(ctx, "li.officer", pw, f.code(t, secret, 0)); !errors.Is(err, review.ErrDisabled) {
		t.Errorf("disabled login: %v", err)
	}
	if err := f.rv.DisableOfficer(ctx, "nobody", "admin"); !errors.Is(err, review.ErrOfficer) {
		t.Errorf("disable unknown: %v", err)
	}
	os, err := f.rv.Officers(ctx)
	if err != nil || len(os) != 1 || !os[0].Disabled {
		t.Errorf("officers %+v, %v", os, err)
	}
	a, _ := f.rv.Audit(ctx, 50)
	n := map[string]int{}
	for _, e := range a {
		n[e.Action]++
	}
	if n["login"] != 2 || n["login_failed"] < 6 || n["officer_add"] != 1 || n["officer_disable"] != 1 || n["session_expired"] != 1 {
		t.Errorf("audit counts %v", n)
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := review.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Errorf("hash %s", h)
	}
	if !review.CheckPassword(h, "correct horse battery") || review.CheckPassword(h, "correct horse batterY") || review.CheckPassword("$argon2i$x", "a") {
		t.Error("CheckPassword")
	}
}

// BenchmarkPasswordHash is the cost of one login's argon2id (RFC 9106's
// second recommended option, t=3, m=64 MiB, p=4); baseline: the same hash
// at OWASP's minimum (t=2, m=19 MiB, p=1) in BenchmarkPasswordHashOWASP.
func BenchmarkPasswordHash(b *testing.B) {
	h, _ := review.HashPassword("correct horse battery")
	for b.Loop() {
		review.CheckPassword(h, "correct horse battery")
	}
}

func BenchmarkPasswordHashOWASP(b *testing.B) {
	const h = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	for b.Loop() {
		review.CheckPassword(h, "correct horse battery")
	}
}

// Enrollments stored without the review module (or whose report failed)
// get their status from their stored flags at the next start.
func TestBackfill(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, review.Options{})
	f.submit(t, intaketest.CitizenNumber, nil)
	dup := f.submit(t, intaketest.CitizenNumber, nil)
	if _, err := f.db.ExecContext(ctx, `DELETE FROM review_status`); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.rv.Status(ctx, dup); st != review.Received {
		t.Fatalf("without a status row: %s", st)
	}
	if err := f.rv.Migrate(ctx, f.db); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.rv.Status(ctx, dup); st != review.Received {
		t.Fatalf("a fresh enrollment was backfilled: %s", st)
	}
	f.clk.Advance(2 * time.Minute)
	if err := f.rv.Migrate(ctx, f.db); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.rv.Status(ctx, dup); st != review.NeedsReview {
		t.Fatalf("backfilled: %s", st)
	}
	if h, _ := f.rv.History(ctx, dup); h[len(h)-1].Actor != "backfill" {
		t.Errorf("history %+v", h)
	}
	c, _ := f.rv.Counts(ctx)
	if c[review.Verified] != 1 || c[review.NeedsReview] != 1 || c[review.Received] != 0 {
		t.Errorf("counts %v", c)
	}
}
