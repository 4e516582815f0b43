// Package registry is the authority's device registry, an authority.Module:
// one-time enrollment tokens created by city IT, the terminals provisioned
// with them and their certificates, a procurement allow-list of hardware
// serial numbers, self-test reports, and an audit log of every step. It
// serves the provisioning, renewal, ping, self-test and deprovisioning
// endpoints of package provisioning/protocol, and Authorize, which the intake
// calls for every request to accept a terminal's client certificate or refuse
// it with a reason.
//
// Its tables are prefixed registry_ and work on SQLite and PostgreSQL.
// Certificates come from package authority/pki. It does not depend on TPM
// endorsement certificates (many TPMs carry none): a box is identified by its
// serial number and its key, recorded at provisioning.
package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"eidkiosk/authority"
	"eidkiosk/authority/guard"
	"eidkiosk/authority/pki"
	"eidkiosk/internal/clock"
	"eidkiosk/provisioning/protocol"
)

// Sentinels callers act on. They are the wire refusals of package
// provisioning/protocol, so an error from Authorize can be sent back to the
// terminal as is (errors.As to *protocol.Refusal gives the reason code and
// the message).
var (
	ErrUnknownDevice    = protocol.ErrUnknownDevice
	ErrRevoked          = protocol.ErrRevoked
	ErrDeprovisioned    = protocol.ErrDeprovisioned
	ErrStaleCertificate = protocol.ErrStaleCertificate
	ErrNoCertificate    = protocol.ErrNoCertificate
	ErrTokenUnknown     = protocol.ErrTokenUnknown
	ErrTokenUsed        = protocol.ErrTokenUsed
	ErrTokenExpired     = protocol.ErrTokenExpired
	ErrWrongStation     = protocol.ErrWrongStation
	ErrSerialNotAllowed = protocol.ErrSerialNotAllowed
	ErrSerialActive     = protocol.ErrSerialActive
	ErrReplaced         = protocol.ErrReplaced
	ErrBadCSR           = protocol.ErrBadCSR
	ErrBadRequest       = protocol.ErrBadRequest
)

// Device statuses.
const (
	StatusActive        = "active"
	StatusRevoked       = "revoked"
	StatusDeprovisioned = "deprovisioned"
	StatusReplaced      = "replaced" // the same box was provisioned again
)

// StaleGrace is how long a certificate replaced by a renewal stays accepted,
// so that requests in flight during a renewal still succeed.
const StaleGrace = time.Hour

// Options are the registry's inputs from the rest of the authority.
type Options struct {
	// IntakePublicKey is the intake's HPKE public key, delivered in bundles.
	IntakePublicKey []byte
	// ReceiptPublicKey verifies the authority's receipts, delivered in bundles.
	ReceiptPublicKey []byte
	// TUFRoot returns the update repository's trusted root.json; may be nil.
	TUFRoot func() []byte
	// RequireAllowList refuses every serial not on the allow-list, even
	// while the list is empty. Otherwise an empty list allows every serial.
	RequireAllowList bool
	// ProvisionRate, RenewRate and GlobalRate limit the provisioning and
	// renewal endpoints per source address and in total; zero values take
	// DefaultProvisionRate, DefaultRenewRate and DefaultGlobalRate.
	ProvisionRate, RenewRate, GlobalRate guard.Rate
	Clock                                clock.Clock  // clock.Real{} when nil
	Rand                                 io.Reader    // crypto/rand when nil
	Log                                  *slog.Logger // slog.Default() when nil
}

// Registry is the device registry module.
type Registry struct {
	db   *authority.DB
	pki  *pki.PKI
	opts Options

	provisionLimit, renewLimit *guard.Limiter
}

var _ authority.Module = (*Registry)(nil)

// New returns the registry over db. p issues certificates; it may be nil for
// operator commands that only manage tokens, devices and the allow-list (the
// provisioning endpoints then answer "internal").
func New(db *authority.DB, p *pki.PKI, opts Options) *Registry {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.ProvisionRate == (guard.Rate{}) {
		opts.ProvisionRate = DefaultProvisionRate
	}
	if opts.RenewRate == (guard.Rate{}) {
		opts.RenewRate = DefaultRenewRate
	}
	if opts.GlobalRate == (guard.Rate{}) {
		opts.GlobalRate = DefaultGlobalRate
	}
	return &Registry{db: db, pki: p, opts: opts,
		provisionLimit: guard.NewLimiter(opts.ProvisionRate, opts.GlobalRate, opts.Clock),
		renewLimit:     guard.NewLimiter(opts.RenewRate, opts.GlobalRate, opts.Clock)}
}

// Name implements authority.Module.
func (r *Registry) Name() string { return "registry" }

// Migrate implements authority.Module: it creates the registry_ tables.
func (r *Registry) Migrate(ctx context.Context, db *authority.DB) error {
	blob, serial := "BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT"
	if db.Dialect == authority.Postgres {
		blob, serial = "BYTEA", "BIGSERIAL PRIMARY KEY"
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS registry_stations (
			id TEXT PRIMARY KEY, name TEXT NOT NULL, updated_ms BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS registry_tokens (
			hash TEXT PRIMARY KEY, hint TEXT NOT NULL, station TEXT NOT NULL,
			created_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL, created_by TEXT NOT NULL,
			used_ms BIGINT, device_id TEXT, revoked_ms BIGINT NOT NULL DEFAULT 0)`,
		`CREATE TABLE IF NOT EXISTS registry_devices (
			id TEXT PRIMARY KEY, station TEXT NOT NULL, serial TEXT NOT NULL,
			key_kind TEXT NOT NULL, public_key ` + blob + ` NOT NULL, tpm_public ` + blob + `,
			status TEXT NOT NULL, reason TEXT NOT NULL, software TEXT NOT NULL,
			created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, last_seen_ms BIGINT NOT NULL,
			cert_serial TEXT NOT NULL, cert_not_after_ms BIGINT NOT NULL,
			selftest_ms BIGINT NOT NULL, selftest_passed INTEGER NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS registry_devices_serial ON registry_devices (serial)`,
		`CREATE TABLE IF NOT EXISTS registry_certs (
			serial TEXT PRIMARY KEY, device_id TEXT NOT NULL, der ` + blob + ` NOT NULL,
			issued_ms BIGINT NOT NULL, not_after_ms BIGINT NOT NULL, superseded_ms BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS registry_allowed_serials (
			serial TEXT PRIMARY KEY, note TEXT NOT NULL, added_ms BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS registry_audit (
			id ` + serial + `, at_ms BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
			device_id TEXT NOT NULL, station TEXT NOT NULL, detail TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS registry_token_serials (
			hash TEXT PRIMARY KEY, serial TEXT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS registry_selftests (
			id ` + serial + `, device_id TEXT NOT NULL, at_ms BIGINT NOT NULL,
			passed INTEGER NOT NULL, report TEXT NOT NULL)`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("registry: migrate: %w", err)
		}
	}
	return nil
}

// Routes implements authority.Module.
func (r *Registry) Routes(mux *http.ServeMux) {
	mux.Handle("POST "+protocol.PathProvision, limited(r.provisionLimit, r.handleProvision))
	mux.Handle("POST "+protocol.PathRenew, limited(r.renewLimit, r.handleRenew))
	mux.HandleFunc("GET "+protocol.PathPing, r.handlePing)
	mux.HandleFunc("POST "+protocol.PathSelfTest, r.handleSelfTest)
	mux.HandleFunc("POST "+protocol.PathDeprovision, r.handleDeprovision)
}

func (r *Registry) now() time.Time { return r.opts.Clock.Now() }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func (r *Registry) q(s string) string { return r.db.Rebind(s) }

// refuse builds a typed refusal wrapped with the package prefix.
func refuse(reason protocol.Reason, format string, args ...any) error {
	return fmt.Errorf("registry: %w", &protocol.Refusal{Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// audit appends one line to the audit log. Nothing personal goes in: device
// IDs, stations, serial numbers of boxes, reasons. Every value is bounded
// and its control characters escaped (see bounded): some come from
// unauthenticated callers.
func (r *Registry) audit(ctx context.Context, ex execer, actor, action, device, station, detail string) error {
	_, err := ex.ExecContext(ctx, r.q(`INSERT INTO registry_audit (at_ms, actor, action, device_id, station, detail) VALUES (?, ?, ?, ?, ?, ?)`),
		ms(r.now()), bounded(actor, 128), bounded(action, 64), bounded(device, 64), bounded(station, 64), bounded(detail, 512))
	if err != nil {
		return fmt.Errorf("registry: audit: %w", err)
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// ---- tokens ----

var tokenEnc = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding) // Crockford

// NormalizeToken folds what a technician may type (lower case, spaces,
// dashes, O for 0, I or L for 1) into the canonical token.
func NormalizeToken(s string) string {
	s = strings.ToUpper(s)
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '-' || c == ' ' || c == '\t':
		case c == 'O':
			b.WriteByte('0')
		case c == 'I' || c == 'L':
			b.WriteByte('1')
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// tokenHint is the part of a token kept in clear for lists and the audit
// log: its first four characters (20 of its 160 bits).
func tokenHint(tok string) string {
	n := NormalizeToken(tok)
	return n[:min(4, len(n))]
}

func tokenHash(tok string) string {
	sum := sha256.Sum256([]byte("eidkiosk-token:" + NormalizeToken(tok)))
	return hex.EncodeToString(sum[:])
}

// Token is a created enrollment token (only its hash is stored).
type Token struct {
	Value   string // shown once, e.g. "7K3Q-9D2M-..."
	Station string
	Serial  string // the only hardware serial it provisions; empty: any
	Expires time.Time
}

// CreateToken makes a one-time enrollment token for station, valid for ttl.
// stationName, when not empty, sets the station's display name delivered to
// the terminal; by names the operator for the audit log.
func (r *Registry) CreateToken(ctx context.Context, station, stationName string, ttl time.Duration, by string) (Token, error) {
	return r.CreateBoundToken(ctx, station, stationName, "", ttl, by)
}

// CreateBoundToken is CreateToken for one box: when serial is not empty the
// token provisions only a terminal reporting that hardware serial, so a
// token that leaks cannot enrol another box.
func (r *Registry) CreateBoundToken(ctx context.Context, station, stationName, serial string, ttl time.Duration, by string) (Token, error) {
	if err := checkStation(station); err != nil {
		return Token{}, err
	}
	if serial != "" && !printable(serial, MaxSerial) {
		return Token{}, fmt.Errorf("registry: serial %q must be 1-%d printable ASCII characters", bounded(serial, MaxSerial), MaxSerial)
	}
	if ttl <= 0 || ttl > 30*24*time.Hour {
		return Token{}, fmt.Errorf("registry: token lifetime %s must be between 1s and 720h", ttl)
	}
	raw := make([]byte, 20)
	if _, err := io.ReadFull(r.opts.Rand, raw); err != nil {
		return Token{}, fmt.Errorf("registry: token: %w", err)
	}
	enc := tokenEnc.EncodeToString(raw)
	var groups []string
	for i := 0; i < len(enc); i += 4 {
		groups = append(groups, enc[i:min(i+4, len(enc))])
	}
	tok := strings.Join(groups, "-")
	now := r.now()
	exp := now.Add(ttl)
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return Token{}, fmt.Errorf("registry: %w", err)
	}
	defer tx.Rollback()
	if err := r.upsertStation(ctx, tx, station, stationName); err != nil {
		return Token{}, err
	}
	if _, err := tx.ExecContext(ctx, r.q(`INSERT INTO registry_tokens (hash, hint, station, created_ms, expires_ms, created_by) VALUES (?, ?, ?, ?, ?, ?)`),
		tokenHash(tok), tokenHint(tok), station, ms(now), ms(exp), by); err != nil {
		return Token{}, fmt.Errorf("registry: store token: %w", err)
	}
	if serial != "" {
		if _, err := tx.ExecContext(ctx, r.q(`INSERT INTO registry_token_serials (hash, serial) VALUES (?, ?)`), tokenHash(tok), serial); err != nil {
			return Token{}, fmt.Errorf("registry: store token: %w", err)
		}
	}
	if err := r.audit(ctx, tx, by, "token.create", "", station, fmt.Sprintf("token %s… expires %s", tokenHint(tok), exp.UTC().Format(time.RFC3339))); err != nil {
		return Token{}, err
	}
	if err := tx.Commit(); err != nil {
		return Token{}, fmt.Errorf("registry: %w", err)
	}
	return Token{Value: tok, Station: station, Serial: serial, Expires: exp}, nil
}

func (r *Registry) upsertStation(ctx context.Context, tx *sql.Tx, id, name string) error {
	var cur string
	err := tx.QueryRowContext(ctx, r.q(`SELECT name FROM registry_stations WHERE id = ?`), id).Scan(&cur)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if name == "" {
			name = id
		}
		_, err = tx.ExecContext(ctx, r.q(`INSERT INTO registry_stations (id, name, updated_ms) VALUES (?, ?, ?)`), id, name, ms(r.now()))
	case err == nil && name != "" && name != cur:
		_, err = tx.ExecContext(ctx, r.q(`UPDATE registry_stations SET name = ?, updated_ms = ? WHERE id = ?`), name, ms(r.now()), id)
	}
	if err != nil {
		return fmt.Errorf("registry: station: %w", err)
	}
	return nil
}

func checkStation(s string) error {
	if len(s) < 2 || len(s) > 32 {
		return fmt.Errorf("registry: station %q must be 2-32 upper-case letters, digits and '-', e.g. NS-PSB-001", s)
	}
	for i, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' && i > 0) {
			return fmt.Errorf("registry: station %q must be 2-32 upper-case letters, digits and '-', e.g. NS-PSB-001", s)
		}
	}
	return nil
}

// AllowSerial adds a hardware serial number to the procurement allow-list.
// Once the list holds any serial, provisioning refuses boxes not on it.
func (r *Registry) AllowSerial(ctx context.Context, serial, note, by string) error {
	serial = strings.TrimSpace(serial)
	if serial == "" {
		return fmt.Errorf("registry: empty serial number")
	}
	if _, err := r.db.ExecContext(ctx, r.q(`INSERT INTO registry_allowed_serials (serial, note, added_ms) VALUES (?, ?, ?) ON CONFLICT (serial) DO UPDATE SET note = excluded.note`),
		serial, note, ms(r.now())); err != nil {
		return fmt.Errorf("registry: allow serial: %w", err)
	}
	return r.audit(ctx, r.db, by, "serial.allow", "", "", "serial "+serial)
}

// TokenInfo describes a stored token (its value is not stored, only a hint:
// its first group).
type TokenInfo struct {
	Hint, Station, CreatedBy, Device string
	Created, Expires, Used, Revoked  time.Time
}

// Tokens lists the tokens, newest first.
func (r *Registry) Tokens(ctx context.Context) ([]TokenInfo, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT hint, station, created_by, created_ms, expires_ms, used_ms, device_id, revoked_ms
		FROM registry_tokens ORDER BY created_ms DESC`)
	if err != nil {
		return nil, fmt.Errorf("registry: tokens: %w", err)
	}
	defer rows.Close()
	var out []TokenInfo
	for rows.Next() {
		var t TokenInfo
		var c, e, rv int64
		var u sql.NullInt64
		var d sql.NullString
		if err := rows.Scan(&t.Hint, &t.Station, &t.CreatedBy, &c, &e, &u, &d, &rv); err != nil {
			return nil, fmt.Errorf("registry: tokens: %w", err)
		}
		t.Created, t.Expires, t.Used, t.Revoked, t.Device = fromMS(c), fromMS(e), fromMS(u.Int64), fromMS(rv), d.String
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken withdraws an unused token (given in full, as printed by
// CreateToken), e.g. when it was sent to the wrong person.
func (r *Registry) RevokeToken(ctx context.Context, token, by string) error {
	res, err := r.db.ExecContext(ctx, r.q(`UPDATE registry_tokens SET revoked_ms = ? WHERE hash = ? AND used_ms IS NULL AND revoked_ms = 0`), ms(r.now()), tokenHash(token))
	if err != nil {
		return fmt.Errorf("registry: revoke token: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return refuse(protocol.ReasonTokenUnknown, "no unused, unrevoked token matches: `eidkiosk-authority token list` shows the tokens")
	}
	return r.audit(ctx, r.db, by, "token.revoke", "", "", "token "+tokenHint(token)+"…")
}
