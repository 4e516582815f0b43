package fleet

import (
	"context"
	"crypto"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"eidkiosk/fleetproto"
)

// Each terminal's audit log (kiosk/audit) arrives with its heartbeats: the
// entries after the last one the authority acknowledged. They are checked
// as they arrive (hash, link to the entry held before, checkpoint
// signatures with the key of the terminal's client certificate) and kept
// in fleet_audit; fleet_audit_state holds how far each terminal's copy
// goes and its alert. A gap (entries missing), a fork (an entry that
// differs from the copy held, or a log that went backwards), an altered
// entry or a bad signature sets the terminal's alert: it shows as the flag
// "audit" in `authority fleet`, and no more entries are taken from that
// terminal: the copy held stays as it was when the fault was found (what
// to trust after a fork is city IT's call; there is no command that
// re-anchors a copy).

// Audit alert kinds.
const (
	AuditGap       = "gap"
	AuditFork      = "fork"
	AuditAltered   = "altered"
	AuditSignature = "bad-signature"
)

// FlagAudit marks a terminal whose audit log copy has an alert.
const FlagAudit = "audit"

var auditTables = []string{
	`CREATE TABLE IF NOT EXISTS fleet_audit (
		device_id TEXT NOT NULL,
		seq       BIGINT NOT NULL,
		hash      TEXT NOT NULL,
		entry     TEXT NOT NULL,
		PRIMARY KEY (device_id, seq))`,
	`CREATE TABLE IF NOT EXISTS fleet_audit_state (
		device_id    TEXT PRIMARY KEY,
		have         BIGINT NOT NULL,
		have_hash    TEXT NOT NULL,
		signed       BIGINT NOT NULL,
		key_der      TEXT NOT NULL,
		alert        TEXT NOT NULL,
		alert_detail TEXT NOT NULL,
		alert_ns     BIGINT NOT NULL)`,
}

// AuditState is how far the authority's copy of a terminal's log goes.
type AuditState struct {
	Have     uint64 `json:"have"`             // last entry held
	HaveHash string `json:"-"`                // its hash
	Signed   uint64 `json:"signed"`           // last entry covered by a verified checkpoint
	Alert    string `json:"alert,omitempty"`  // AuditGap, AuditFork, AuditAltered, AuditSignature
	Detail   string `json:"detail,omitempty"` // what was found, with entry numbers
	keyDER   []byte
}

func (m *Module) auditState(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (AuditState, error) {
	var st AuditState
	var have, signed int64
	var key string
	err := q.QueryRowContext(ctx, m.db.Rebind(`SELECT have, have_hash, signed, key_der, alert, alert_detail
		FROM fleet_audit_state WHERE device_id = ?`), id).Scan(&have, &st.HaveHash, &signed, &key, &st.Alert, &st.Detail)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("fleet: audit state of %s: %w", id, err)
	}
	st.Have, st.Signed, st.keyDER = uint64(have), uint64(signed), []byte(key)
	return st, nil
}

// keysFor knows the terminal's current key and the one recorded before
// (a renewed certificate keeps the key; a replaced terminal gets a new ID).
func keysFor(cur crypto.PublicKey, recorded []byte) fleetproto.AuditKeys {
	var ks []crypto.PublicKey
	if cur != nil {
		ks = append(ks, cur)
	}
	if pub, err := x509.ParsePKIXPublicKey(recorded); err == nil {
		ks = append(ks, pub)
	}
	return func(id string) crypto.PublicKey {
		for _, k := range ks {
			if kid, err := fleetproto.KeyID(k); err == nil && kid == id {
				return k
			}
		}
		return nil
	}
}

// RecordAudit takes a terminal's audit batch: it keeps the entries that
// continue its copy and answers how far the copy goes. Entries already held
// are compared, not stored again (a batch sent twice changes nothing). pub
// is the public key of the terminal's client certificate.
func (m *Module) RecordAudit(ctx context.Context, id string, pub crypto.PublicKey, b fleetproto.AuditBatch) (fleetproto.AuditAck, error) {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return fleetproto.AuditAck{}, fmt.Errorf("fleet: audit: %w", err)
	}
	defer tx.Rollback()
	st, err := m.auditState(ctx, tx, id)
	if err != nil {
		return fleetproto.AuditAck{}, err
	}
	if der, err := x509.MarshalPKIXPublicKey(pub); err == nil && len(st.keyDER) == 0 {
		st.keyDER = der
	}
	keys := keysFor(pub, st.keyDER)
	alert := func(kind, detail string) {
		st.Alert, st.Detail = kind, detail
		m.log().Error("fleet: terminal's audit log does not verify", "terminal", id, "alert", kind, "detail", detail)
	}
	if st.Alert == "" {
		switch {
		case b.Head < st.Have:
			alert(AuditFork, fmt.Sprintf("the terminal's log ends at entry %d, the authority holds entries up to %d", b.Head, st.Have))
		case b.Head == st.Have && st.Have > 0 && b.HeadHash != st.HaveHash:
			alert(AuditFork, fmt.Sprintf("the terminal's entry %d differs from the copy held", b.Head))
		}
	}
	for _, e := range b.Entries {
		if st.Alert != "" {
			break
		}
		if e.Seq <= st.Have {
			var held string
			err := tx.QueryRowContext(ctx, m.db.Rebind(`SELECT hash FROM fleet_audit WHERE device_id = ? AND seq = ?`), id, e.Seq).Scan(&held)
			if err == nil && held != e.Hash {
				alert(AuditFork, fmt.Sprintf("entry %d differs from the copy held", e.Seq))
			}
			continue
		}
		var prev *fleetproto.AuditEntry
		if st.Have > 0 {
			prev = &fleetproto.AuditEntry{Seq: st.Have, Hash: st.HaveHash}
		}
		if err := fleetproto.CheckLink(prev, e); err != nil {
			if e.Seq > st.Have+1 {
				alert(AuditGap, fmt.Sprintf("entries %d to %d never arrived: %v", st.Have+1, e.Seq-1, err))
			} else {
				alert(AuditFork, err.Error())
			}
			break
		}
		if err := fleetproto.CheckEntry(e, keys); err != nil {
			if errors.Is(err, fleetproto.ErrAuditSignature) {
				alert(AuditSignature, err.Error())
			} else {
				alert(AuditAltered, err.Error())
			}
			break
		}
		line, err := json.Marshal(e)
		if err != nil {
			return fleetproto.AuditAck{}, fmt.Errorf("fleet: audit: %w", err)
		}
		if _, err := tx.ExecContext(ctx, m.db.Rebind(`INSERT INTO fleet_audit (device_id, seq, hash, entry) VALUES (?, ?, ?, ?)`),
			id, int64(e.Seq), e.Hash, string(line)); err != nil {
			return fleetproto.AuditAck{}, fmt.Errorf("fleet: audit: %w", err)
		}
		st.Have, st.HaveHash = e.Seq, e.Hash
		if e.Event == fleetproto.EventCheckpoint {
			st.Signed = e.Seq
		}
	}
	if _, err := tx.ExecContext(ctx, m.db.Rebind(`INSERT INTO fleet_audit_state
		(device_id, have, have_hash, signed, key_der, alert, alert_detail, alert_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (device_id) DO UPDATE SET have = excluded.have, have_hash = excluded.have_hash, signed = excluded.signed,
		key_der = excluded.key_der, alert = excluded.alert, alert_detail = excluded.alert_detail, alert_ns = excluded.alert_ns`),
		id, int64(st.Have), st.HaveHash, int64(st.Signed), string(st.keyDER), st.Alert, st.Detail, m.clk.Now().UnixNano()); err != nil {
		return fleetproto.AuditAck{}, fmt.Errorf("fleet: audit: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fleetproto.AuditAck{}, fmt.Errorf("fleet: audit: %w", err)
	}
	return fleetproto.AuditAck{Have: st.Have, Alert: st.Alert}, nil
}

// ErrNoAudit is returned for a terminal the authority holds no audit entries of.
var ErrNoAudit = errors.New("fleet: no audit log held for this terminal")

// AuditReport is the outcome of VerifyAudit.
type AuditReport struct {
	State   AuditState              `json:"state"`
	Summary fleetproto.AuditSummary `json:"summary"`
}

// VerifyAudit re-verifies the whole copy held of terminal id's audit log
// (`authority audit verify --device ID`): every entry's hash, the chain from
// entry 1, every checkpoint's signature with the terminal's recorded key,
// and that the copy ends where the state says. An entry edited, deleted or
// moved in the database is an error, as is an alert recorded at intake.
func (m *Module) VerifyAudit(ctx context.Context, id string) (AuditReport, error) {
	st, err := m.auditState(ctx, m.db, id)
	if err != nil {
		return AuditReport{}, err
	}
	rep := AuditReport{State: st}
	rows, err := m.db.QueryContext(ctx, m.db.Rebind(`SELECT seq, hash, entry FROM fleet_audit WHERE device_id = ? ORDER BY seq`), id)
	if err != nil {
		return rep, fmt.Errorf("fleet: audit of %s: %w", id, err)
	}
	defer rows.Close()
	var es []fleetproto.AuditEntry
	for rows.Next() {
		var seq int64
		var hash, line string
		if err := rows.Scan(&seq, &hash, &line); err != nil {
			return rep, fmt.Errorf("fleet: audit of %s: %w", id, err)
		}
		var e fleetproto.AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return rep, fmt.Errorf("fleet: audit of %s: row %d is not an entry: %w", id, seq, fleetproto.ErrAuditAltered)
		}
		if e.Seq != uint64(seq) || e.Hash != hash {
			return rep, fmt.Errorf("fleet: audit of %s: row %d holds entry %d: %w", id, seq, e.Seq, fleetproto.ErrAuditBroken)
		}
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("fleet: audit of %s: %w", id, err)
	}
	if len(es) == 0 {
		return rep, fmt.Errorf("%w: %s", ErrNoAudit, id)
	}
	rep.Summary, err = fleetproto.VerifyAudit(es, nil, true, keysFor(nil, st.keyDER))
	if err != nil {
		return rep, fmt.Errorf("fleet: audit of %s: %w", id, err)
	}
	if last := es[len(es)-1]; last.Seq != st.Have || last.Hash != st.HaveHash {
		return rep, fmt.Errorf("fleet: audit of %s: the copy ends at entry %d, but entries up to %d were received: %w", id, last.Seq, st.Have, fleetproto.ErrAuditBroken)
	}
	if st.Alert != "" {
		return rep, fmt.Errorf("fleet: audit of %s: alert %s at intake: %s", id, st.Alert, st.Detail)
	}
	return rep, nil
}

// auditStates maps each terminal to its audit state, for the listing.
func auditStates(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (map[string]AuditState, error) {
	rows, err := db.QueryContext(ctx, `SELECT device_id, have, signed, alert, alert_detail FROM fleet_audit_state`)
	if err != nil {
		return nil, fmt.Errorf("fleet: audit states: %w", err)
	}
	defer rows.Close()
	out := map[string]AuditState{}
	for rows.Next() {
		var id string
		var have, signed int64
		var st AuditState
		if err := rows.Scan(&id, &have, &signed, &st.Alert, &st.Detail); err != nil {
			return nil, fmt.Errorf("fleet: audit states: %w", err)
		}
		st.Have, st.Signed = uint64(have), uint64(signed)
		out[id] = st
	}
	return out, rows.Err()
}

// AuditEntries returns up to max entries held of terminal id's audit log
// after sequence number after, oldest first (`authority audit show`).
func (m *Module) AuditEntries(ctx context.Context, id string, after uint64, max int) ([]fleetproto.AuditEntry, error) {
	rows, err := m.db.QueryContext(ctx, m.db.Rebind(`SELECT entry FROM fleet_audit WHERE device_id = ? AND seq > ? ORDER BY seq LIMIT ?`), id, int64(after), max)
	if err != nil {
		return nil, fmt.Errorf("fleet: audit of %s: %w", id, err)
	}
	defer rows.Close()
	var out []fleetproto.AuditEntry
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, fmt.Errorf("fleet: audit of %s: %w", id, err)
		}
		var e fleetproto.AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			return nil, fmt.Errorf("fleet: audit of %s: %w", id, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
