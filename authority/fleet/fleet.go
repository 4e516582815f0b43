// Package fleet is the authority's fleet view (an authority.Module): it
// receives each terminal's heartbeat (kiosk/heartbeat) over mTLS, keeps the
// latest state per terminal and a short history in tables prefixed fleet_,
// lists terminals for `authority fleet` with flags for those silent or
// failing, and serves the TUF update repository directory under /tuf/
// (a plain static file server with Range support: any static web server
// serves the same tree).
//
// It does not sign anything (see kiosk/update/repo) and does not identify
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
	"net/http"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"eidkiosk/authority"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/heartbeat"
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
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("fleet: migrate: %w", err)
		}
	}
	return nil
}

// Routes implements authority.Module.
func (m *Module) Routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+heartbeat.Path, m.handleHeartbeat)
	if m.repoDir != "" {
		mux.Handle("GET /tuf/", http.StripPrefix("/tuf/", repoServer(m.repoDir)))
	}
}

// repoServer serves files of dir (no listings, no dot files).
func repoServer(dir string) http.Handler {
	fs := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := path.Clean("/" + r.URL.Path)
		if strings.HasSuffix(r.URL.Path, "/") || strings.Contains(p, "/.") {
			http.NotFound(w, r)
			return
		}
		if fi, err := os.Stat(dir + p); err != nil || fi.IsDir() {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		fs.ServeHTTP(w, r)
	})
}

const maxReport = 64 << 10

func (m *Module) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		http.Error(w, "fleet: a verified client certificate is required", http.StatusUnauthorized)
		return
	}
	id, station, err := m.devices.Authorize(r.Context(), r.TLS.VerifiedChains[0][0])
	if err != nil {
		http.Error(w, "fleet: terminal not authorized", http.StatusForbidden)
		return
	}
	var rep heartbeat.Report
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxReport))
	if err := dec.Decode(&rep); err != nil {
		http.Error(w, "fleet: heartbeat is not valid JSON", http.StatusBadRequest)
		return
	}
	if err := m.Record(r.Context(), id, station, rep); err != nil {
		http.Error(w, "fleet: could not record the heartbeat", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Record stores a heartbeat of device id.
func (m *Module) Record(ctx context.Context, id, station string, rep heartbeat.Report) error {
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
)

// Terminal is one row of the fleet listing.
type Terminal struct {
	DeviceID  string           `json:"device_id"`
	Station   string           `json:"station"`
	Version   string           `json:"version"`
	Slot      string           `json:"slot"`
	Channel   string           `json:"channel"`
	Healthy   bool             `json:"healthy"`
	Outbox    int              `json:"outbox"`
	Phase     string           `json:"phase"`
	LastTrial string           `json:"last_trial,omitempty"`
	Refusal   string           `json:"refusal,omitempty"`
	Lease     string           `json:"lease,omitempty"`
	LastSeen  time.Time        `json:"last_seen"`
	Flags     []string         `json:"flags,omitempty"`
	Report    heartbeat.Report `json:"report"`
}

// ListOptions set the thresholds for flags.
type ListOptions struct {
	SilentAfter  time.Duration // default 15 minutes
	BacklogAbove int           // default 100
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
		out = append(out, t)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("fleet: %w", err)
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

var _ authority.Module = (*Module)(nil)
