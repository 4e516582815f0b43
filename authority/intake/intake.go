package intake

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"eidkiosk/authority"
	"eidkiosk/enroll"
	"eidkiosk/internal/clock"
)

// Devices is the device registry as the intake uses it. Authorize returns the
// terminal's device and station IDs for a certificate, or an error when the
// certificate is unknown or revoked (any error refuses; see fromDevices for
// how its code is chosen).
type Devices interface {
	Authorize(ctx context.Context, cert *x509.Certificate) (deviceID, station string, err error)
}

// Options configure an Intake.
type Options struct {
	// DataDir holds the intake's keys (created on first start, mode 0600).
	DataDir string
	Devices Devices
	Logger  *slog.Logger
	Clock   clock.Clock
	// Verifiers run after an enrollment is stored; their flags are stored
	// beside it. The duplicate-number check is built in and always runs.
	Verifiers []Verifier
	// Face, when its Matcher is set, adds the face check (FaceCheck) with
	// this intake's reference photo registry.
	Face FaceCheck
	// MaxConcurrent bounds intakes in progress; above it the HTTP endpoint
	// answers 503 with Retry-After. Default 64.
	MaxConcurrent int
	// Reviews, when set, is told the flags of each new enrollment once its
	// checks ran, and answers the status the terminal's query returns.
	Reviews Reviews
}

// Reviews is the authority's enrollment status (authority/review): intake
// reports the outcome of its checks (the flag kinds; none: verified) and
// reads back the status ("received", "verified", "needs_review",
// "approved", "rejected").
type Reviews interface {
	Checked(ctx context.Context, id string, flags []string) error
	Status(ctx context.Context, id string) (string, error)
}

// Intake is the enrollment intake module.
type Intake struct {
	keys      *keys
	devices   Devices
	log       *slog.Logger
	clock     clock.Clock
	verifiers []Verifier
	reviews   Reviews
	sem       chan struct{}

	db *authority.DB

	// SQLite only: the group-commit connection and its checkpointer.
	wconn     *sql.Conn
	ckpt      chan struct{}
	stop      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once

	bmu     sync.Mutex
	pending []*insertReq
	leader  bool
}

var _ authority.Module = (*Intake)(nil)

// New loads or creates the keys in opts.DataDir. The database comes with
// Migrate (authority.NewServer calls it), or with Use for operator commands.
func New(opts Options) (*Intake, error) {
	if opts.DataDir == "" {
		return nil, errors.New("intake: no data directory")
	}
	if opts.Devices == nil {
		return nil, errors.New("intake: no device registry")
	}
	k, err := loadKeys(opts.DataDir)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 64
	}
	in := &Intake{keys: k, devices: opts.Devices, log: opts.Logger, clock: opts.Clock,
		verifiers: append(opts.Verifiers, KioskMatchCheck{}), reviews: opts.Reviews, sem: make(chan struct{}, opts.MaxConcurrent)}
	if opts.Face.Matcher != nil {
		if opts.Face.References == nil {
			opts.Face.References = in
		}
		in.verifiers = append(in.verifiers, opts.Face)
	}
	return in, nil
}

// IntakePublicKey is the HPKE public key terminals seal to (MLKEM768-X25519).
func (in *Intake) IntakePublicKey() []byte { return in.keys.intake.PublicKey().Bytes() }

// ReceiptPublicKey verifies the intake's receipts.
func (in *Intake) ReceiptPublicKey() ed25519.PublicKey {
	return in.keys.receipt.Public().(ed25519.PublicKey)
}

// Name implements authority.Module.
func (in *Intake) Name() string { return "intake" }

// Migrate implements authority.Module: it creates the intake_ tables and
// keeps db for the intake's use.
func (in *Intake) Migrate(ctx context.Context, db *authority.DB) error {
	blob, serial := "BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT"
	if db.Dialect == authority.Postgres {
		blob, serial = "BYTEA", "BIGSERIAL PRIMARY KEY"
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS intake_enrollments (
			seq ` + serial + `,
			id TEXT NOT NULL UNIQUE,
			short TEXT NOT NULL,
			device_id TEXT NOT NULL,
			station_id TEXT NOT NULL,
			created BIGINT NOT NULL,
			received BIGINT NOT NULL,
			source TEXT NOT NULL,
			size BIGINT NOT NULL,
			package_hash ` + blob + ` NOT NULL,
			package ` + blob + ` NOT NULL,
			receipt ` + blob + ` NOT NULL,
			number_hmac ` + blob + ` NOT NULL,
			binding_hash ` + blob + ` NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS intake_enrollments_number ON intake_enrollments(number_hmac)`,
		`CREATE INDEX IF NOT EXISTS intake_enrollments_short ON intake_enrollments(short)`,
		`CREATE TABLE IF NOT EXISTS intake_flags (
			enrollment_id TEXT NOT NULL,
			kind TEXT NOT NULL,
			detail TEXT NOT NULL,
			at BIGINT NOT NULL,
			PRIMARY KEY (enrollment_id, kind))`,
	}
	stmts = append(stmts, photoTables(blob)...)
	if db.Dialect == authority.Postgres {
		// A sealed package is ciphertext: PostgreSQL's TOAST would try to
		// compress it on every insert and give up. Stored out of line
		// uncompressed instead (a catalogue change; idempotent).
		stmts = append(stmts, `ALTER TABLE intake_enrollments ALTER COLUMN package SET STORAGE EXTERNAL`)
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("intake: migrate: %w", err)
		}
	}
	in.db = db
	return in.setupWriter(ctx, db)
}

// Use sets the database without migrating (operator commands on a database
// the server already created call Migrate anyway; it is idempotent).
func (in *Intake) Use(db *authority.DB) { in.db = db }

// Source says how a package arrived.
type Source string

const (
	FromUplink Source = "uplink"
	FromImport Source = "import"
)

// Result is the outcome of a stored (or repeated) package.
type Result struct {
	EnrollmentID string
	Receipt      []byte // signed receipt, identical for repeats
	Repeat       bool   // the package was already stored; nothing new was stored
}

// Submit takes one package. id, when not empty, must be its enrollment ID
// (the URL and idempotency key). peer is the TLS client certificate; nil for
// an import, where the certificate inside the package is checked with the
// registry instead. Refusals are *Refusal.
func (in *Intake) Submit(ctx context.Context, pkg []byte, id string, peer *x509.Certificate, src Source) (Result, error) {
	if in.db == nil {
		return Result{}, errors.New("intake: no database (Migrate was not called)")
	}
	s, err := enroll.Parse(pkg)
	if err != nil {
		return Result{}, fromEnroll(err)
	}
	if id != "" && id != s.Header.EnrollmentID {
		return Result{}, refuse(enroll.CodeIDMismatch, "request names another enrollment than the package")
	}
	if err := s.Check(); err != nil {
		return Result{}, fromEnroll(err)
	}
	cert, err := s.Certificate()
	if err != nil {
		return Result{}, fromEnroll(err)
	}
	who := cert
	if peer != nil {
		who = peer
	}
	deviceID, station, err := in.devices.Authorize(ctx, who)
	if err != nil {
		return Result{}, fromDevices(err)
	}
	if peer != nil && !bytes.Equal(peer.Raw, cert.Raw) {
		return Result{}, refuse(enroll.CodeReplayOtherDevice, "package sealed by another terminal than the sender")
	}
	if deviceID != s.Header.DeviceID || station != s.Header.StationID {
		return Result{}, refuse(enroll.CodeDeviceMismatch, "header names device %q at %q, certificate is %q at %q",
			s.Header.DeviceID, s.Header.StationID, deviceID, station)
	}
	if err := s.Verify(cert); err != nil {
		return Result{}, fromEnroll(err)
	}
	// A repeat is answered from the store without opening the package.
	if res, ok, err := in.existing(ctx, s.Header.EnrollmentID, s.Hash); err != nil || ok {
		return res, err
	}
	rec, err := s.Open(in.keys.intake)
	if err != nil {
		return Result{}, fromEnroll(err)
	}
	defer rec.Wipe()
	now := in.clock.Now()
	if ref := validate(rec, now); ref != nil {
		return Result{}, ref
	}
	short := enroll.Short(rec.StationID, rec.EnrollmentID)
	receipt, err := enroll.SignReceipt(in.keys.receipt, enroll.ReceiptBody{
		EnrollmentID: rec.EnrollmentID, PackageHash: s.Hash, DeviceID: deviceID,
		Received: now.UnixMilli(), Short: short,
	})
	if err != nil {
		return Result{}, fmt.Errorf("intake: %w", err)
	}
	bind := sha256.Sum256([]byte(rec.BindingCode))
	req := &insertReq{
		id: rec.EnrollmentID, short: short, device: deviceID, station: station,
		created: s.Header.Created, received: now.UnixMilli(), source: string(src),
		pkg: pkg, hash: s.Hash, receipt: receipt, numberHMAC: in.numberHMAC(rec.Card.Number),
		binding: bind[:], done: make(chan struct{}),
	}
	res, err := in.insert(ctx, req)
	if err != nil || res.Repeat {
		return res, err
	}
	in.runVerifiers(ctx, rec)
	in.reportChecked(ctx, rec.EnrollmentID)
	return res, nil
}

// numberHMAC keys the ID number for the duplicate index.
func (in *Intake) numberHMAC(number string) []byte {
	m := hmac.New(sha256.New, in.keys.hmacKey)
	m.Write([]byte(strings.ToUpper(strings.TrimSpace(number))))
	return m.Sum(nil)
}

func (in *Intake) existing(ctx context.Context, id string, hash []byte) (Result, bool, error) {
	var h, receipt []byte
	err := in.db.QueryRowContext(ctx, in.db.Rebind(`SELECT package_hash, receipt FROM intake_enrollments WHERE id = ?`), id).Scan(&h, &receipt)
	if err != nil {
		if errors.Is(err, errNoRows) {
			return Result{}, false, nil
		}
		return Result{}, false, fmt.Errorf("intake: lookup: %w", err)
	}
	if !bytes.Equal(h, hash) {
		return Result{}, true, refuse(enroll.CodeConflict, "another package is stored under this enrollment id")
	}
	return Result{EnrollmentID: id, Receipt: receipt, Repeat: true}, true, nil
}
