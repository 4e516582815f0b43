// Package fleet is the authority's fleet view (an authority.Module): it
// receives each terminal's heartbeat (kiosk/heartbeat) over mTLS, keeps the
// latest state per terminal and a short history in tables prefixed fleet_,
// lists terminals for `authority fleet` with flags for those silent or
// failing, and serves the TUF update repository directory under /tuf/
// (a plain static file server with Range support: any static web server
// serves the same tree).
//
// The listing covers every terminal the registry knows (a Roster), also
// those that never sent a heartbeat or were replaced, revoked or
// deprovisioned, with channel, rollout cohort, the release in each slot
// and the last update outcome with its reason. City IT can poke a terminal
// (Poke): the answer to its next heartbeat asks it to check for an update.
// It logs who downloaded which release and every change in what terminals
// report about their updates (refusals, trials, loops).
//
// It keeps a verified copy of each terminal's tamper-evident audit log,
// which arrives with the heartbeats, and flags a gap or a fork in it
// (audit.go).
//
// It does not sign anything (see authority/release) and does not identify
// terminals itself: Devices, the device registry, maps a client
// certificate to a device.
package fleet

import (
	"context"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"eidkiosk/authority"
	"eidkiosk/authority/release"
	"eidkiosk/fleetproto"
	"eidkiosk/internal/clock"
	"eidkiosk/updatemeta"
)

// Devices identifies a terminal from its verified client certificate; the
// device registry (authority/registry) implements it.
type Devices interface {
	Authorize(ctx context.Context, cert *x509.Certificate) (deviceID, station string, err error)
}

// Module is the fleet module.
type Module struct {
	db      *authority.DB
	devices Devices
	repoDir string
	clk     clock.Clock
	// History is how long heartbeats are kept in fleet_heartbeats; default 7 days.
	History time.Duration
	// Log receives downloads of releases, refused heartbeats and changes in
	// terminals' update reports; nil: discarded.
	Log *slog.Logger
}

func (m *Module) log() *slog.Logger {
	if m.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Log
}

// New returns the module. repoDir is the TUF repository directory served
// under /tuf/ ("" serves nothing there). clk may be nil (real time).
func New(db *authority.DB, devices Devices, repoDir string, clk clock.Clock) *Module {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Module{db: db, devices: devices, repoDir: repoDir, clk: clk, History: 7 * 24 * time.Hour}
}

// Name implements authority.Module.
func (m *Module) Name() string { return "fleet" }

// Migrate implements authority.Module.
func (m *Module) Migrate(ctx context.Context, db *authority.DB) error {
	m.db = db
	blob := "TEXT"
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS fleet_terminals (
			device_id   TEXT PRIMARY KEY,
			station     TEXT NOT NULL,
			version     TEXT NOT NULL,
			slot        TEXT NOT NULL,
			channel     TEXT NOT NULL,
			healthy     INTEGER NOT NULL,
			outbox      INTEGER NOT NULL,
			phase       TEXT NOT NULL,
			last_trial  TEXT NOT NULL,
			refusal     TEXT NOT NULL,
			stale       INTEGER NOT NULL,
			lease       TEXT NOT NULL,
			received_ns BIGINT NOT NULL,
			report      ` + blob + ` NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS fleet_heartbeats (
			device_id   TEXT NOT NULL,
			received_ns BIGINT NOT NULL,
			report      ` + blob + ` NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS fleet_heartbeats_device ON fleet_heartbeats (device_id, received_ns)`,
		`CREATE TABLE IF NOT EXISTS fleet_pokes (
			device_id    TEXT PRIMARY KEY,
			requested_ns BIGINT NOT NULL,
			requested_by TEXT NOT NULL)`,
	}
	stmts = append(stmts, auditTables...) // audit.go
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("fleet: migrate: %w", err)
		}
	}
	return nil
}

// Routes implements authority.Module.
func (m *Module) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+fleetproto.Path, m.handleHeartbeat)
	if m.repoDir != "" {
		mux.Handle("GET /tuf/", http.StripPrefix("/tuf/", m.logDownloads(release.Handler(m.repoDir))))
	}
}

// logDownloads logs every request for a target file (a release or a
// configuration, not the metadata polled all the time): which terminal,
// which file, how many bytes, with what result.
func (m *Module) logDownloads(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "targets/") {
			h.ServeHTTP(w, r)
			return
		}
		who := "no client certificate"
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
			who = "certificate " + r.TLS.VerifiedChains[0][0].Subject.CommonName
			if id, _, err := m.devices.Authorize(r.Context(), r.TLS.VerifiedChains[0][0]); err == nil {
				who = id
			}
		}
		file := r.URL.Path // the file server rewrites it
		cw := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(cw, r)
		m.log().Info("fleet: release download", "terminal", who, "file", file, "range", r.Header.Get("Range"),
			"status", cw.status, "bytes", cw.n, "remote", r.RemoteAddr)
	})
}

type countingWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (c *countingWriter) WriteHeader(s int) { c.status = s; c.ResponseWriter.WriteHeader(s) }
func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

const maxReport = 64 << 10

func (m *Module) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		http.Error(w, "fleet: a verified client certificate is required", http.StatusUnauthorized)
		return
	}
	id, station, err := m.devices.Authorize(r.Context(), r.TLS.VerifiedChains[0][0])
	if err != nil {
		// The terminal is told why (replaced, revoked, deprovisioned): it
		// logs and shows the reason; the authority logs it too.
		m.log().Warn("fleet: heartbeat refused", "certificate", r.TLS.VerifiedChains[0][0].Subject.CommonName, "err", err)
		http.Error(w, "fleet: terminal not authorized: "+err.Error(), http.StatusForbidden)
		return
	}
	var rep fleetproto.Report
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxReport))
	if err := dec.Decode(&rep); err != nil {
		http.Error(w, "fleet: heartbeat is not valid JSON", http.StatusBadRequest)
		return
	}
	if err := m.Record(r.Context(), id, station, rep); err != nil {
		http.Error(w, "fleet: could not record the heartbeat", http.StatusInternalServerError)
		return
	}
	var ans fleetproto.Answer
	if rep.Audit != nil {
		ack, err := m.RecordAudit(r.Context(), id, r.TLS.VerifiedChains[0][0].PublicKey, *rep.Audit)
		if err != nil {
			m.log().Error("fleet: audit", "terminal", id, "err", err)
			http.Error(w, "fleet: could not record the audit entries", http.StatusInternalServerError)
			return
		}
		ans.Audit = &ack
	}
	poked, err := m.takePoke(r.Context(), id)
	if err != nil {
		m.log().Error("fleet: poke", "terminal", id, "err", err)
	}
	if poked {
		m.log().Info("fleet: asked the terminal to check for an update now", "terminal", id)
		ans.CheckUpdate = true
	}
	if ans == (fleetproto.Answer{}) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ans)
}

// Poke asks terminal deviceID to check for an update at once: the answer
// to its next heartbeat says so.
func (m *Module) Poke(ctx context.Context, deviceID, by string) error {
	_, err := m.db.ExecContext(ctx, m.db.Rebind(`INSERT INTO fleet_pokes (device_id, requested_ns, requested_by) VALUES (?, ?, ?)
		ON CONFLICT (device_id) DO UPDATE SET requested_ns = excluded.requested_ns, requested_by = excluded.requested_by`),
		deviceID, m.clk.Now().UnixNano(), by)
	if err != nil {
		return fmt.Errorf("fleet: poke %s: %w", deviceID, err)
	}
	m.log().Info("fleet: poke requested", "terminal", deviceID, "by", by)
	return nil
}

// takePoke removes a pending poke of id and says whether there was one.
func (m *Module) takePoke(ctx context.Context, id string) (bool, error) {
	res, err := m.db.ExecContext(ctx, m.db.Rebind(`DELETE FROM fleet_pokes WHERE device_id = ?`), id)
	if err != nil {
		return false, fmt.Errorf("fleet: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// Record stores a heartbeat of device id.
func (m *Module) Record(ctx context.Context, id, station string, rep fleetproto.Report) error {
	body, err := json.Marshal(rep)
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	now := m.clk.Now().UnixNano()
	lease := ""
	if rep.Lease.Holder != "" {
		lease = rep.Lease.Holder + " until " + rep.Lease.Expiry.UTC().Format(time.RFC3339)
	}
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	defer tx.Rollback()
	db := m.db
	var prevJSON string
	var prev fleetproto.Report
	if err := tx.QueryRowContext(ctx, db.Rebind(`SELECT report FROM fleet_terminals WHERE device_id = ?`), id).Scan(&prevJSON); err == nil {
		_ = json.Unmarshal([]byte(prevJSON), &prev)
	}
	m.logChanges(id, prev.Update, rep.Update)
	if _, err := tx.ExecContext(ctx, db.Rebind(`DELETE FROM fleet_terminals WHERE device_id = ?`), id); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO fleet_terminals
		(device_id, station, version, slot, channel, healthy, outbox, phase, last_trial, refusal, stale, lease, received_ns, report)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		id, station, rep.Version, rep.Slot, rep.Channel, b2i(rep.Healthy), rep.OutboxDepth, rep.Update.Phase,
		rep.Update.LastTrial, rep.Update.LastRefusal, b2i(rep.Update.Stale), lease, now, string(body)); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO fleet_heartbeats (device_id, received_ns, report) VALUES (?, ?, ?)`), id, now, string(body)); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	if _, err := tx.ExecContext(ctx, db.Rebind(`DELETE FROM fleet_heartbeats WHERE received_ns < ?`), now-m.History.Nanoseconds()); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	return tx.Commit()
}

// logChanges logs what changed in a terminal's update report: a refusal
// and its reason, a trial's outcome, a stopped loop, an error.
func (m *Module) logChanges(id string, prev, cur fleetproto.Update) {
	log := m.log()
	if cur.LastRefusal != "" && (cur.LastRefusal != prev.LastRefusal || cur.LastError != prev.LastError) {
		log.Warn("fleet: terminal refused an update", "terminal", id, "reason", cur.LastRefusal, "err", cur.LastError)
	}
	if cur.LastTrial != "" && (cur.LastTrial != prev.LastTrial || !cur.LastTrialAt.Equal(prev.LastTrialAt)) {
		log.Info("fleet: terminal finished a trial", "terminal", id, "trial", cur.LastTrial, "why", cur.LastTrialDetail)
	}
	if cur.Loop != "" && cur.Loop != prev.Loop {
		log.Error("fleet: terminal stopped an update loop", "terminal", id, "release", cur.Loop)
	}
	if cur.LastError != "" && cur.LastError != prev.LastError && cur.LastRefusal == prev.LastRefusal {
		log.Warn("fleet: terminal reports an update error", "terminal", id, "err", cur.LastError)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Flags on a terminal in the listing.
const (
	FlagSilent   = "silent"   // no heartbeat for longer than SilentAfter
	FlagFailing  = "failing"  // health checks failing
	FlagRollback = "rollback" // its last update was abandoned on trial
	FlagRefused  = "refused"  // it refused update metadata or a target
	FlagStale    = "stale"    // no fresh update metadata beyond its offline grace
	FlagBacklog  = "backlog"  // outbox deeper than BacklogAbove
	FlagLoop     = "loop"     // its agent stopped an update loop
	// FlagNeverReported: registered, but no heartbeat ever arrived.
	FlagNeverReported = "never-reported"
	// FlagAudit (audit.go): its audit log showed a gap or a fork.
)

// Registered is a terminal as the device registry knows it.
type Registered struct {
	DeviceID, Station string
	Status            string // active, replaced, revoked, deprovisioned
	Reason            string
}

// Roster lists every registered terminal (authority/registry through an
// adapter); nil lists only terminals that sent a heartbeat.
type Roster func(ctx context.Context) ([]Registered, error)

// Terminal is one row of the fleet listing.
type Terminal struct {
	DeviceID string `json:"device_id"`
	Station  string `json:"station"`
	// Status is the registry's (active, replaced, revoked, deprovisioned)
	// with its Reason; "" when no Roster was given.
	Status  string `json:"status,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Version string `json:"version"`
	Slot    string `json:"slot"`
	// Slots maps each slot to the release it holds; Committed is the
	// committed slot's release.
	Slots     map[string]string `json:"slots,omitempty"`
	Committed string            `json:"committed,omitempty"`
	Channel   string            `json:"channel"`
	Cohort    int               `json:"cohort"` // rollout cohort 0-99, from the device ID
	// LastTrialDetail says why the last trial ended as LastTrial says.
	LastTrialDetail string            `json:"last_trial_detail,omitempty"`
	LastTrialAt     time.Time         `json:"last_trial_at,omitzero"`
	Loop            string            `json:"loop,omitempty"`
	Healthy         bool              `json:"healthy"`
	Outbox          int               `json:"outbox"`
	Phase           string            `json:"phase"`
	LastTrial       string            `json:"last_trial,omitempty"`
	Refusal         string            `json:"refusal,omitempty"`
	Lease           string            `json:"lease,omitempty"`
	LastSeen        time.Time         `json:"last_seen"`
	Flags           []string          `json:"flags,omitempty"`
	Report          fleetproto.Report `json:"report"`
	// Audit is how far the authority's copy of its audit log goes, and
	// its alert (audit.go); nil when none arrived.
	Audit *AuditState `json:"audit,omitempty"`
}

// ListOptions set the thresholds for flags.
type ListOptions struct {
	SilentAfter  time.Duration // default 15 minutes
	BacklogAbove int           // default 100
	Roster       Roster        // nil: only terminals that sent a heartbeat
}

// List returns every terminal, flagged ones first, then by station.
func (m *Module) List(ctx context.Context, o ListOptions) ([]Terminal, error) {
	return List(ctx, m.db, m.clk.Now(), o)
}

// List reads the fleet listing from db at time now.
func List(ctx context.Context, db *authority.DB, now time.Time, o ListOptions) ([]Terminal, error) {
	if o.SilentAfter <= 0 {
		o.SilentAfter = 15 * time.Minute
	}
	if o.BacklogAbove <= 0 {
		o.BacklogAbove = 100
	}
	rows, err := db.QueryContext(ctx, `SELECT device_id, station, version, slot, channel, healthy, outbox, phase,
		last_trial, refusal, stale, lease, received_ns, report FROM fleet_terminals`)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	defer rows.Close()
	var out []Terminal
	for rows.Next() {
		var t Terminal
		var healthy, stale int
		var ns int64
		var report string
		if err := rows.Scan(&t.DeviceID, &t.Station, &t.Version, &t.Slot, &t.Channel, &healthy, &t.Outbox,
			&t.Phase, &t.LastTrial, &t.Refusal, &stale, &t.Lease, &ns, &report); err != nil {
			return nil, fmt.Errorf("fleet: %w", err)
		}
		t.Healthy = healthy != 0
		t.LastSeen = time.Unix(0, ns).UTC()
		_ = json.Unmarshal([]byte(report), &t.Report)
		t.Cohort = updatemeta.Cohort(t.DeviceID)
		u := t.Report.Update
		t.Slots, t.Committed, t.LastTrialDetail, t.LastTrialAt, t.Loop = u.Slots, u.Committed, u.LastTrialDetail, u.LastTrialAt, u.Loop
		if now.Sub(t.LastSeen) > o.SilentAfter {
			t.Flags = append(t.Flags, FlagSilent)
		}
		if !t.Healthy {
			t.Flags = append(t.Flags, FlagFailing)
		}
		if strings.Contains(t.LastTrial, "unhealthy") || strings.Contains(t.LastTrial, "crash-loop") ||
			strings.Contains(t.LastTrial, "never-started") || strings.Contains(t.LastTrial, "corrupt") {
			t.Flags = append(t.Flags, FlagRollback)
		}
		if t.Refusal != "" {
			t.Flags = append(t.Flags, FlagRefused)
		}
		if stale != 0 {
			t.Flags = append(t.Flags, FlagStale)
		}
		if t.Outbox > o.BacklogAbove {
			t.Flags = append(t.Flags, FlagBacklog)
		}
		if t.Loop != "" {
			t.Flags = append(t.Flags, FlagLoop)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	if o.Roster != nil {
		reg, err := o.Roster(ctx)
		if err != nil {
			return nil, fmt.Errorf("fleet: registered terminals: %w", err)
		}
		out = withRoster(out, reg)
	}
	audits, err := auditStates(ctx, db)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if st, ok := audits[out[i].DeviceID]; ok {
			out[i].Audit = &st
			if st.Alert != "" {
				out[i].Flags = append(out[i].Flags, FlagAudit)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if (len(out[i].Flags) > 0) != (len(out[j].Flags) > 0) {
			return len(out[i].Flags) > 0
		}
		if out[i].Station != out[j].Station {
			return out[i].Station < out[j].Station
		}
		return out[i].DeviceID < out[j].DeviceID
	})
	return out, nil
}

// withRoster adds the registry's view: every registered terminal, with
// its status; one that never reported is flagged so, and one no longer
// active is flagged with its status (its heartbeats are refused).
func withRoster(ts []Terminal, reg []Registered) []Terminal {
	idx := map[string]int{}
	for i, t := range ts {
		idx[t.DeviceID] = i
	}
	for _, r := range reg {
		i, ok := idx[r.DeviceID]
		if !ok {
			ts = append(ts, Terminal{DeviceID: r.DeviceID, Station: r.Station, Cohort: updatemeta.Cohort(r.DeviceID),
				Flags: []string{FlagNeverReported}})
			i = len(ts) - 1
		}
		t := &ts[i]
		t.Status, t.Reason = r.Status, r.Reason
		if r.Status != "" && r.Status != "active" {
			t.Flags = append([]string{r.Status}, slices.DeleteFunc(t.Flags, func(f string) bool { return f == FlagSilent })...)
		}
	}
	return ts
}

var _ authority.Module = (*Module)(nil)
