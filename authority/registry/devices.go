package registry

import (
	"context"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"eidkiosk/authority/pki"
	"eidkiosk/provisioning/protocol"
)

// Provision checks a terminal's request and token and, when all is well,
// registers the device, issues its certificate and returns its bundle. The
// token is consumed in the same transaction, so it can serve one terminal
// only. from names the caller for the audit log (e.g. its IP address).
func (r *Registry) Provision(ctx context.Context, req protocol.ProvisionRequest, from string) (*protocol.Bundle, error) {
	b, err := r.provision(ctx, req, from)
	if err != nil {
		var ref *protocol.Refusal
		if errors.As(err, &ref) {
			// A refusal is audited outside the failed transaction.
			if aerr := r.audit(ctx, r.db, "terminal@"+from, "provision.refused", "", req.Station,
				fmt.Sprintf("%s: token %s… serial %s", ref.Reason, bounded(tokenHint(req.Token), 8), strconv.Quote(bounded(req.Serial, MaxSerial)))); aerr != nil {
				r.opts.Log.Error("registry: audit failed", "err", aerr)
			}
			r.opts.Log.Warn("registry: provisioning refused", "reason", string(ref.Reason), "from", from)
		}
		return nil, err
	}
	r.opts.Log.Info("registry: terminal provisioned", "device", b.DeviceID, "station", b.Station.ID, "from", from)
	return b, nil
}

func (r *Registry) provision(ctx context.Context, req protocol.ProvisionRequest, from string) (*protocol.Bundle, error) {
	if r.pki == nil {
		return nil, refuse(protocol.ReasonInternal, "this authority has no CA loaded")
	}
	switch {
	case strings.TrimSpace(req.Token) == "" || len(req.Token) > MaxToken:
		return nil, refuse(protocol.ReasonBadRequest, "no usable enrollment token in the request")
	case strings.TrimSpace(req.Serial) == "" || !printable(req.Serial, MaxSerial):
		return nil, refuse(protocol.ReasonBadRequest, "the terminal sent no usable hardware serial number (1-%d printable ASCII characters)", MaxSerial)
	case req.Station != "" && checkStation(req.Station) != nil:
		return nil, refuse(protocol.ReasonBadRequest, "the station must be 2-32 upper-case letters, digits and '-', e.g. NS-PSB-001")
	case req.Software != "" && !printable(req.Software, MaxSoftware):
		return nil, refuse(protocol.ReasonBadRequest, "the software version must be 1-%d printable ASCII characters", MaxSoftware)
	case len(req.TPMPublic) > MaxTPMPublic:
		return nil, refuse(protocol.ReasonBadRequest, "the TPM public area is larger than %d bytes", MaxTPMPublic)
	case req.KeyKind != protocol.KeyFile && req.KeyKind != protocol.KeyTPM:
		return nil, refuse(protocol.ReasonBadRequest, "unknown key kind %q (want %q or %q)", req.KeyKind, protocol.KeyFile, protocol.KeyTPM)
	case req.KeyKind == protocol.KeyTPM && len(req.TPMPublic) == 0:
		return nil, refuse(protocol.ReasonBadRequest, "a TPM key was announced without its public area")
	}
	csr, err := pki.ParseCSR(req.CSR)
	if err != nil {
		return nil, refuse(protocol.ReasonBadCSR, "the terminal's certificate request is unusable (%v); update the kiosk software", err)
	}
	if req.KeyKind == protocol.KeyTPM {
		if err := checkTPMPublic(req.TPMPublic, csr.PublicKey); err != nil {
			return nil, refuse(protocol.ReasonBadRequest, "the terminal's TPM key does not check out: %v", err)
		}
	}
	pub, err := x509.MarshalPKIXPublicKey(csr.PublicKey)
	if err != nil {
		return nil, refuse(protocol.ReasonBadCSR, "the terminal's key cannot be encoded: %v", err)
	}
	now := r.now()

	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, refuse(protocol.ReasonInternal, "database unavailable, try again in a minute")
	}
	defer tx.Rollback()

	hash := tokenHash(req.Token)
	var (
		station, by string
		expires     int64
		revoked     int64
		used        sql.NullInt64
		usedBy      sql.NullString
	)
	err = tx.QueryRowContext(ctx, r.q(`SELECT station, created_by, expires_ms, used_ms, device_id, revoked_ms FROM registry_tokens WHERE hash = ?`), hash).
		Scan(&station, &by, &expires, &used, &usedBy, &revoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, refuse(protocol.ReasonTokenUnknown, "this enrollment token is not known to the authority: check it was typed correctly and that --authority points to the right server, or ask city IT for a new one")
	case err != nil:
		return nil, r.internal(err)
	case used.Valid:
		// Which terminal used it is city IT's to see (`token list`), not
		// the caller's: the caller may be anyone who saw the token.
		return nil, refuse(protocol.ReasonTokenUsed, "this enrollment token was already used; tokens work once: ask city IT for a new token for station %s", station)
	case revoked != 0:
		return nil, refuse(protocol.ReasonTokenRevoked, "this enrollment token was withdrawn by city IT on %s: ask them for a new token for station %s",
			fromMS(revoked).Format("2006-01-02 15:04 MST"), station)
	case now.UnixMilli() >= expires:
		return nil, refuse(protocol.ReasonTokenExpired, "this enrollment token expired on %s: ask city IT for a new token for station %s",
			fromMS(expires).Format("2006-01-02 15:04 MST"), station)
	case req.Station != "" && req.Station != station:
		return nil, refuse(protocol.ReasonWrongStation, "this enrollment token is for station %s, but this terminal is being installed for station %s: use a token for %s, or correct the station",
			station, req.Station, req.Station)
	}

	var bound string
	switch err := tx.QueryRowContext(ctx, r.q(`SELECT serial FROM registry_token_serials WHERE hash = ?`), hash).Scan(&bound); {
	case err == nil && bound != req.Serial:
		return nil, refuse(protocol.ReasonSerialNotAllowed, "this enrollment token is for another box (hardware serial %q, this one reports %q): use the token made for this box", bound, req.Serial)
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return nil, r.internal(err)
	}

	var allowed, listed int
	if err := tx.QueryRowContext(ctx, r.q(`SELECT COUNT(*) FROM registry_allowed_serials`)).Scan(&listed); err != nil {
		return nil, r.internal(err)
	}
	if listed > 0 || r.opts.RequireAllowList {
		if err := tx.QueryRowContext(ctx, r.q(`SELECT COUNT(*) FROM registry_allowed_serials WHERE serial = ?`), req.Serial).Scan(&allowed); err != nil {
			return nil, r.internal(err)
		}
		if allowed == 0 {
			return nil, refuse(protocol.ReasonSerialNotAllowed, "hardware serial %q is not on the procurement allow-list: have city IT add it (`eidkiosk-authority device allow --serial %s`) or use a procured box", req.Serial, req.Serial)
		}
	}

	id, err := r.newDeviceID()
	if err != nil {
		return nil, r.internal(err)
	}
	res, err := tx.ExecContext(ctx, r.q(`UPDATE registry_tokens SET used_ms = ?, device_id = ? WHERE hash = ? AND used_ms IS NULL`), ms(now), id, hash)
	if err != nil {
		return nil, r.internal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, refuse(protocol.ReasonTokenUsed, "this enrollment token was used by another terminal a moment ago; ask city IT for a new token for station %s", station)
	}
	// The same serial is active already: a reinstalled box, or two boxes
	// claiming one identity. Only city IT decides which one stays
	// (`eidkiosk-authority token create --replace DEVICE`, see Replace).
	var active, activeStation string
	err = tx.QueryRowContext(ctx, r.q(`SELECT id, station FROM registry_devices WHERE serial = ? AND status = ?`), req.Serial, StatusActive).Scan(&active, &activeStation)
	switch {
	case err == nil:
		return nil, refuse(protocol.ReasonSerialActive, "serial %q belongs to active terminal %s of station %s: if this box replaces it "+
			"(reinstalled, disk swapped), city IT creates the token with `eidkiosk-authority token create --station %s --replace %s`",
			req.Serial, active, activeStation, station, active)
	case !errors.Is(err, sql.ErrNoRows):
		return nil, r.internal(err)
	}

	cert, err := r.pki.IssueDevice(req.CSR, id, station)
	if err != nil {
		return nil, r.internal(err)
	}
	if _, err := tx.ExecContext(ctx, r.q(`INSERT INTO registry_devices (id, station, serial, key_kind, public_key, tpm_public, status, reason, software,
			created_ms, updated_ms, last_seen_ms, cert_serial, cert_not_after_ms, selftest_ms, selftest_passed)
			VALUES (?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, 0, 0)`),
		id, station, req.Serial, req.KeyKind, pub, nullBytes(req.TPMPublic), StatusActive, req.Software,
		ms(now), ms(now), ms(now), cert.SerialNumber.Text(16), ms(cert.NotAfter)); err != nil {
		return nil, r.internal(err)
	}
	if err := r.storeCert(ctx, tx, id, cert); err != nil {
		return nil, r.internal(err)
	}
	if err := r.audit(ctx, tx, "terminal@"+from, "provision", id, station,
		fmt.Sprintf("token by %s; serial %q; key %s; certificate %s until %s", by, req.Serial, req.KeyKind, cert.SerialNumber.Text(16), cert.NotAfter.UTC().Format(time.RFC3339))); err != nil {
		return nil, r.internal(err)
	}
	b, err := r.bundle(ctx, tx, id, station, cert)
	if err != nil {
		return nil, r.internal(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, r.internal(err)
	}
	return b, nil
}

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (r *Registry) internal(err error) error {
	r.opts.Log.Error("registry: internal error", "err", err)
	return refuse(protocol.ReasonInternal, "the authority failed to process the request (%v); try again, and tell city IT if it persists", err)
}

func (r *Registry) newDeviceID() (string, error) {
	b := make([]byte, 5)
	if _, err := io.ReadFull(r.opts.Rand, b); err != nil {
		return "", err
	}
	return "KT-" + tokenEnc.EncodeToString(b), nil
}

func (r *Registry) storeCert(ctx context.Context, ex execer, id string, cert *x509.Certificate) error {
	_, err := ex.ExecContext(ctx, r.q(`INSERT INTO registry_certs (serial, device_id, der, issued_ms, not_after_ms, superseded_ms) VALUES (?, ?, ?, ?, ?, 0)`),
		cert.SerialNumber.Text(16), id, cert.Raw, ms(r.now()), ms(cert.NotAfter))
	return err
}

func (r *Registry) bundle(ctx context.Context, q querier, id, station string, cert *x509.Certificate) (*protocol.Bundle, error) {
	name := station
	if err := q.QueryRowContext(ctx, r.q(`SELECT name FROM registry_stations WHERE id = ?`), station).Scan(&name); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	b := &protocol.Bundle{
		DeviceID:         id,
		Station:          protocol.Station{ID: station, Name: name},
		Chain:            [][]byte{cert.Raw, r.pki.DeviceCA().Raw},
		RootCA:           r.pki.Root().Raw,
		IntakePublicKey:  r.opts.IntakePublicKey,
		ReceiptPublicKey: r.opts.ReceiptPublicKey,
		Issued:           r.now().UTC(),
	}
	if r.opts.TUFRoot != nil {
		b.TUFRoot = r.opts.TUFRoot()
	}
	return b, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Authorize says whether a client certificate belongs to an active terminal
// of this authority. It returns the device ID and its station, or an error
// wrapping ErrNoCertificate, ErrUnknownDevice, ErrRevoked, ErrDeprovisioned
// or ErrStaleCertificate (each a *protocol.Refusal with a message a
// technician understands). The intake calls it for every upload.
func (r *Registry) Authorize(ctx context.Context, cert *x509.Certificate) (deviceID, station string, err error) {
	if cert == nil {
		return "", "", refuse(protocol.ReasonNoCertificate, "the terminal presented no device certificate: it is not provisioned (run `kioskctl provision`)")
	}
	if r.pki != nil {
		if _, _, err := r.pki.VerifyDevice(cert); err != nil {
			return "", "", refuse(protocol.ReasonUnknownDevice, "the terminal's certificate was not issued by this authority (%v): provision the terminal again", err)
		}
	}
	serial := cert.SerialNumber.Text(16)
	var (
		id, st, status, reason, current string
		updated, superseded             int64
	)
	err = r.db.QueryRowContext(ctx, r.q(`SELECT d.id, d.station, d.status, d.reason, d.updated_ms, d.cert_serial, c.superseded_ms
		FROM registry_certs c JOIN registry_devices d ON d.id = c.device_id WHERE c.serial = ?`), serial).
		Scan(&id, &st, &status, &reason, &updated, &current, &superseded)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", "", refuse(protocol.ReasonUnknownDevice, "certificate %s (terminal %s) is not registered with this authority: provision the terminal again with a new token", serial, cert.Subject.CommonName)
	case err != nil:
		return "", "", r.internal(err)
	}
	when := fromMS(updated).Format("2006-01-02 15:04 MST")
	switch status {
	case StatusActive:
	case StatusRevoked:
		return "", "", refuse(protocol.ReasonRevoked, "terminal %s of station %s was revoked on %s (%s): terminal disabled, call IT", id, st, when, reason)
	case StatusDeprovisioned:
		return "", "", refuse(protocol.ReasonDeprovisioned, "terminal %s of station %s was deprovisioned on %s: provision it again to use it", id, st, when)
	case StatusReplaced:
		return "", "", refuse(protocol.ReasonReplaced, "terminal %s of station %s was replaced on %s (%s): terminal disabled, call IT", id, st, when, reason)
	default:
		return "", "", refuse(protocol.ReasonRevoked, "terminal %s of station %s was %s on %s (%s): terminal disabled, call IT", id, st, status, when, reason)
	}
	if current != serial && superseded != 0 && r.now().Sub(fromMS(superseded)) > StaleGrace {
		return "", "", refuse(protocol.ReasonStaleCertificate, "terminal %s presented certificate %s, replaced by a renewal on %s: restart the kiosk so it loads its new certificate",
			id, serial, fromMS(superseded).Format("2006-01-02 15:04 MST"))
	}
	return id, st, nil
}

// Renew issues a new certificate for an authorized device. The CSR must carry
// the key registered at provisioning: the key never changes, only its
// certificate.
func (r *Registry) Renew(ctx context.Context, cert *x509.Certificate, csrDER []byte) (*protocol.Bundle, error) {
	id, station, err := r.Authorize(ctx, cert)
	if err != nil {
		return nil, err
	}
	csr, err := pki.ParseCSR(csrDER)
	if err != nil {
		return nil, refuse(protocol.ReasonBadCSR, "the renewal request is unusable: %v", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(csr.PublicKey)
	if err != nil {
		return nil, refuse(protocol.ReasonBadCSR, "the renewal key cannot be encoded: %v", err)
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, r.internal(err)
	}
	defer tx.Rollback()
	var have []byte
	if err := tx.QueryRowContext(ctx, r.q(`SELECT public_key FROM registry_devices WHERE id = ?`), id).Scan(&have); err != nil {
		return nil, r.internal(err)
	}
	if string(have) != string(pub) {
		return nil, refuse(protocol.ReasonBadCSR, "terminal %s asked to renew with a different key than the one registered: the device key must not change; provision it again", id)
	}
	next, err := r.pki.IssueDevice(csrDER, id, station)
	if err != nil {
		return nil, r.internal(err)
	}
	now := r.now()
	if _, err := tx.ExecContext(ctx, r.q(`UPDATE registry_certs SET superseded_ms = ? WHERE device_id = ? AND superseded_ms = 0`), ms(now), id); err != nil {
		return nil, r.internal(err)
	}
	if err := r.storeCert(ctx, tx, id, next); err != nil {
		return nil, r.internal(err)
	}
	if _, err := tx.ExecContext(ctx, r.q(`UPDATE registry_devices SET cert_serial = ?, cert_not_after_ms = ?, updated_ms = ?, last_seen_ms = ? WHERE id = ?`),
		next.SerialNumber.Text(16), ms(next.NotAfter), ms(now), ms(now), id); err != nil {
		return nil, r.internal(err)
	}
	if err := r.audit(ctx, tx, "device:"+id, "renew", id, station,
		fmt.Sprintf("certificate %s until %s replaces %s", next.SerialNumber.Text(16), next.NotAfter.UTC().Format(time.RFC3339), cert.SerialNumber.Text(16))); err != nil {
		return nil, r.internal(err)
	}
	b, err := r.bundle(ctx, tx, id, station, next)
	if err != nil {
		return nil, r.internal(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, r.internal(err)
	}
	return b, nil
}

// Revoke disables a device: every later request with its certificates is
// refused with ErrRevoked.
func (r *Registry) Revoke(ctx context.Context, deviceID, reason, by string) error {
	if strings.TrimSpace(reason) == "" {
		reason = "revoked by city IT"
	}
	return r.setStatus(ctx, deviceID, StatusRevoked, reason, by, "revoke")
}

// Replace marks an active device as replaced by city IT's decision: it is
// refused from its next request (told why), and its serial may be
// provisioned again (the same box reinstalled, or its successor).
func (r *Registry) Replace(ctx context.Context, deviceID, reason, by string) error {
	if strings.TrimSpace(reason) == "" {
		reason = "replaced by city IT"
	}
	return r.setStatus(ctx, deviceID, StatusReplaced, reason, by, "replace")
}

// Deprovision marks a device as deprovisioned (it asked itself, or an
// operator did).
func (r *Registry) Deprovision(ctx context.Context, deviceID, by string) error {
	return r.setStatus(ctx, deviceID, StatusDeprovisioned, "deprovisioned", by, "deprovision")
}

func (r *Registry) setStatus(ctx context.Context, id, status, reason, by, action string) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	defer tx.Rollback()
	var station string
	err = tx.QueryRowContext(ctx, r.q(`SELECT station FROM registry_devices WHERE id = ?`), id).Scan(&station)
	if errors.Is(err, sql.ErrNoRows) {
		return refuse(protocol.ReasonUnknownDevice, "no device %q: `eidkiosk-authority device list` shows the registered terminals", id)
	}
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if _, err := tx.ExecContext(ctx, r.q(`UPDATE registry_devices SET status = ?, reason = ?, updated_ms = ? WHERE id = ?`), status, reason, ms(r.now()), id); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if err := r.audit(ctx, tx, by, action, id, station, reason); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	r.opts.Log.Info("registry: device "+action, "device", id, "station", station)
	return nil
}

// Device is one registered terminal.
type Device struct {
	ID, Station, Serial, KeyKind, Status, Reason, Software string
	Created, Updated, LastSeen, CertNotAfter               time.Time
	SelfTest                                               time.Time // zero when none was reported
	SelfTestPassed                                         bool
}

// Devices lists the registered terminals, newest first.
func (r *Registry) Devices(ctx context.Context) ([]Device, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT id, station, serial, key_kind, status, reason, software, created_ms, updated_ms, last_seen_ms,
		cert_not_after_ms, selftest_ms, selftest_passed FROM registry_devices ORDER BY created_ms DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("registry: devices: %w", err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		var d Device
		var c, u, l, n, s, p int64
		if err := rows.Scan(&d.ID, &d.Station, &d.Serial, &d.KeyKind, &d.Status, &d.Reason, &d.Software, &c, &u, &l, &n, &s, &p); err != nil {
			return nil, fmt.Errorf("registry: devices: %w", err)
		}
		d.Created, d.Updated, d.LastSeen, d.CertNotAfter, d.SelfTest, d.SelfTestPassed = fromMS(c), fromMS(u), fromMS(l), fromMS(n), fromMS(s), p != 0
		out = append(out, d)
	}
	return out, rows.Err()
}

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	At                                     time.Time
	Actor, Action, Device, Station, Detail string
}

// Audit returns the newest limit audit entries, oldest first.
func (r *Registry) Audit(ctx context.Context, limit int) ([]AuditEntry, error) {
	rows, err := r.db.QueryContext(ctx, r.q(`SELECT at_ms, actor, action, device_id, station, detail FROM registry_audit ORDER BY id DESC LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("registry: audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&at, &e.Actor, &e.Action, &e.Device, &e.Station, &e.Detail); err != nil {
			return nil, fmt.Errorf("registry: audit: %w", err)
		}
		e.At = fromMS(at)
		out = append([]AuditEntry{e}, out...)
	}
	return out, rows.Err()
}
