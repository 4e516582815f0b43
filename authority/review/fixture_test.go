package review_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"eidkiosk/authority"
	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/authority/review"
	"eidkiosk/enroll"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/session"
	"eidkiosk/kiosk/submit"
)

// fixture is the authority's intake and review on a real SQLite file, with
// a registered terminal that seals real packages; review's clock is fake.
type fixture struct {
	db     *authority.DB
	in     *intake.Intake
	rv     *review.Store
	clk    *clock.Fake
	dev    *intaketest.Device
	sealer *enroll.Sealer
	rnd    *rand.Rand
	log    *intaketest.SyncBuffer
}

func newFixture(t testing.TB, opts review.Options) *fixture {
	t.Helper()
	return newFixtureDB(t, opts, "")
}

// newFixtureDB is newFixture on the database dsn names ("" for SQLite in a
// temporary directory, or a postgres:// URL).
func newFixtureDB(t testing.TB, opts review.Options, dsn string) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	f := &fixture{clk: clock.NewFake(time.Now()), rnd: rand.New(rand.NewPCG(3, 4)), log: &intaketest.SyncBuffer{}}
	logger := slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pki, err := intaketest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	reg := intaketest.NewRegistry()
	if f.dev, err = pki.NewDevice("KT-A", "NS-PSB-001"); err != nil {
		t.Fatal(err)
	}
	reg.Add(f.dev)
	if dsn == "" {
		dsn = dir
	}
	if f.db, err = authority.OpenDB(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	opts.Clock = f.clk
	f.rv = review.New(opts)
	f.in, err = intake.New(intake.Options{DataDir: dir, Devices: reg, Logger: logger, Reviews: f.rv,
		Verifiers: []intake.Verifier{intake.LivenessCheck{}}})
	if err != nil {
		t.Fatal(err)
	}
	f.rv.SetSource(f.in)
	if _, err := authority.NewServer(ctx, f.db, logger, f.in, f.rv); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.in.Close()
		f.db.Close()
	})
	if f.sealer, err = f.dev.Sealer(f.in.IntakePublicKey()); err != nil {
		t.Fatal(err)
	}
	return f
}

type memQueue struct{ pkg []byte }

func (q *memQueue) Enqueue(ctx context.Context, id string, pkg []byte) error {
	q.pkg = pkg
	return nil
}

// submit seals an enrollment of number (changed by edit, when given) as the
// terminal does and hands it to the intake; it returns the enrollment ID.
func (f *fixture) submit(t testing.TB, number string, edit func(*session.Enrollment)) string {
	t.Helper()
	ctx := context.Background()
	e, err := intaketest.Enrollment(intaketest.CitizenName, number, f.rnd)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(e)
	}
	q := &memQueue{}
	rc, err := submit.NewSubmitter(f.sealer, q, "test-1.0", nil, nil).Submit(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.in.Submit(ctx, q.pkg, rc.EnrollmentID, f.dev.Cert, intake.FromUplink); err != nil {
		t.Fatal(err)
	}
	return rc.EnrollmentID
}

func notLive(e *session.Enrollment) { e.Face.Liveness.Live = false }

// officer creates an account and returns its TOTP secret.
func (f *fixture) officer(t testing.TB, name, password string) string {
	t.Helper()
	key, err := f.rv.AddOfficer(context.Background(), name, password, "test")
	if err != nil {
		t.Fatal(err)
	}
	return key.Secret()
}

// code is the TOTP code of secret at the fixture's clock plus d.
func (f *fixture) code(t testing.TB, secret string, d time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, f.clk.Now().Add(d), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
