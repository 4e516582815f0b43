// Package metrics exposes the reference authority's figures as Prometheus
// metrics (github.com/prometheus/client_golang) on a listener of its own
// (`authority serve --metrics-addr HOST:PORT`), for city IT's Prometheus:
// the enrollment intake's rate, latency and refusals by reason code (an
// HTTP middleware in front of the authority's handler), the authority's
// flags on stored enrollments by kind, the terminals by state (silent,
// failing, never reported, revoked...) with each terminal's last heartbeat,
// outbox depth and update trial, and the expiry of the TUF repository's
// metadata. The review queue and the bindings and credentials issued are
// fed by the modules that own them (SetReviewQueue, Issued).
//
// Nothing personal is exported: no enrollment IDs, no names or ID numbers,
// no station names; terminals are labelled by device ID only. Figures read
// from the database are read at each scrape, with a timeout.
//
// It does not listen on the authority's TLS port and does no
// authentication: bind it to loopback or a management network.
package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"eidkiosk/authority"
	"eidkiosk/authority/fleet"
	"eidkiosk/authority/intake"
	"eidkiosk/enroll"
	"eidkiosk/internal/clock"
	"eidkiosk/internal/promserve"
)

// Options say where the figures read at each scrape come from; any may be
// zero.
type Options struct {
	DB          *authority.DB                          // the authority's store: flags and fleet listing
	Roster      fleet.Roster                           // every registered terminal (for never-reported and revoked ones)
	Enrolled    func(ctx context.Context) (int, error) // enrollments stored (intake.Count)
	RepoDir     string                                 // the TUF repository served under /tuf/
	Clock       clock.Clock                            // nil: real time
	Version     string                                 // the authority's build, for eidkiosk_authority_build_info
	SilentAfter time.Duration                          // a terminal is silent after this long without a heartbeat; default 15 minutes
}

// ReviewStats is the officers' review queue.
type ReviewStats struct {
	Depth  int       // enrollments waiting for an officer
	Oldest time.Time // when the oldest of them arrived; zero when none
}

// ReviewQueue is what the review console gives the metrics (it is read at
// each scrape).
type ReviewQueue interface {
	ReviewStats(ctx context.Context) (ReviewStats, error)
}

// Issued kinds for Metrics.Issued.
const (
	IssuedBinding    = "binding"    // a phone bound to an enrollment
	IssuedCredential = "credential" // a full-version credential issued
)

// Metrics is the authority's registry. Its zero value is not usable; call New.
type Metrics struct {
	Registry *prometheus.Registry
	o        Options

	requests *prometheus.CounterVec
	refusals *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight prometheus.Gauge
	issued   *prometheus.CounterVec

	mu     sync.Mutex
	review ReviewQueue
}

// knownCodes are the intake's refusal codes, exported at 0 from the start so
// that rates and ratios exist before the first refusal.
var knownCodes = []string{enroll.CodeNoClientCert, enroll.CodeDeviceUnknown, enroll.CodeDeviceRevoked,
	enroll.CodeReplayOtherDevice, enroll.CodeDeviceMismatch, enroll.CodeMalformed, enroll.CodeTampered,
	enroll.CodeBadSignature, enroll.CodeWrongKey, enroll.CodeUndecryptable, enroll.CodeIDMismatch,
	enroll.CodeSchema, enroll.CodeCheckDigit, enroll.CodeConflict, enroll.CodeTooLarge, enroll.CodeBusy}

// New builds the registry.
func New(o Options) *Metrics {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.SilentAfter <= 0 {
		o.SilentAfter = 15 * time.Minute
	}
	m := &Metrics{Registry: prometheus.NewRegistry(), o: o}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eidkiosk_authority_intake_requests_total",
		Help: "Enrollment packages posted to the intake, by result (stored, repeat, refused)."}, []string{"result"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eidkiosk_authority_intake_refusals_total",
		Help: "Packages the intake refused, by reason code (enroll's codes; http_NNN for an answer without one)."}, []string{"code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "eidkiosk_authority_intake_duration_seconds",
		Help:    "Time the intake took to answer a posted package, by result.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}}, []string{"result"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "eidkiosk_authority_intake_in_flight",
		Help: "Packages being taken by the intake now."})
	m.issued = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eidkiosk_authority_issued_total",
		Help: "Bindings of a phone and full-version credentials issued, by kind."}, []string{"kind"})
	for _, r := range []string{"stored", "repeat", "refused"} {
		m.requests.WithLabelValues(r)
		m.latency.WithLabelValues(r)
	}
	for _, c := range knownCodes {
		m.refusals.WithLabelValues(c)
	}
	m.issued.WithLabelValues(IssuedBinding)
	m.issued.WithLabelValues(IssuedCredential)
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.refusals, m.latency, m.inFlight, m.issued, &collector{m: m})
	return m
}

// SetReviewQueue installs the review console's queue; until then no review
// figures are exported.
func (m *Metrics) SetReviewQueue(q ReviewQueue) {
	m.mu.Lock()
	m.review = q
	m.mu.Unlock()
}

// Issued counts one binding or credential (IssuedBinding,
// IssuedCredential); other kinds are counted as "other".
func (m *Metrics) Issued(kind string) {
	if kind != IssuedBinding && kind != IssuedCredential {
		kind = "other"
	}
	m.issued.WithLabelValues(kind).Inc()
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return promserve.Handler(m.Registry) }

// Serve serves /metrics on ln until ctx ends, then closes ln; it returns
// ctx's error.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener) error {
	return promserve.Serve(ctx, ln, m.Registry)
}

// Middleware counts and times the packages posted to the intake
// (POST enroll.PathEnrollments…); every other request passes untouched. A
// refusal's code is read from the intake's JSON error body.
func (m *Metrics) Middleware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, enroll.PathEnrollments) {
			h.ServeHTTP(w, r)
			return
		}
		start := m.o.Clock.Now()
		m.inFlight.Inc()
		rw := &recorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			m.inFlight.Dec()
			result := "refused"
			switch rw.status {
			case http.StatusCreated:
				result = "stored"
			case http.StatusOK:
				result = "repeat"
			default:
				code := fmt.Sprintf("http_%d", rw.status)
				var eb enroll.ErrorBody
				if json.Unmarshal(rw.body, &eb) == nil && eb.Code != "" {
					code = eb.Code
				}
				m.refusals.WithLabelValues(codeLabel(code)).Inc()
			}
			m.requests.WithLabelValues(result).Inc()
			m.latency.WithLabelValues(result).Observe(m.o.Clock.Now().Sub(start).Seconds())
		}()
		h.ServeHTTP(rw, r)
	})
}

var codeRE = regexp.MustCompile(`^[a-z0-9_]{1,40}$`)

func codeLabel(c string) string {
	if !codeRE.MatchString(c) {
		return "other"
	}
	return c
}

// recorder keeps the status and, for an error answer, the first bytes of
// the body (the intake's ErrorBody: a code and a message, nothing personal).
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	body   []byte
}

const maxErrorBody = 1 << 10

func (w *recorder) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	w.wrote = true
	if w.status >= 400 && len(w.body) < maxErrorBody {
		w.body = append(w.body, b[:min(len(b), maxErrorBody-len(w.body))]...)
	}
	return w.ResponseWriter.Write(b)
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var (
	dBuild     = prometheus.NewDesc("eidkiosk_authority_build_info", "The authority's build (value 1).", []string{"version"}, nil)
	dStored    = prometheus.NewDesc("eidkiosk_authority_enrollments", "Enrollments held in the store.", nil, nil)
	dFlags     = prometheus.NewDesc("eidkiosk_authority_flagged_enrollments", "Stored enrollments carrying a flag for an officer, by flag kind.", []string{"kind"}, nil)
	dTerms     = prometheus.NewDesc("eidkiosk_authority_terminals", "Terminals by state: total, ok (no flag), and each fleet flag (silent, failing, never_reported, revoked, replaced, deprovisioned, backlog, stale, rollback, refused, loop).", []string{"state"}, nil)
	dLastHB    = prometheus.NewDesc("eidkiosk_authority_terminal_last_heartbeat_timestamp_seconds", "When an active terminal's last heartbeat arrived.", []string{"device_id"}, nil)
	dTermOut   = prometheus.NewDesc("eidkiosk_authority_terminal_outbox_items", "Enrollments waiting in an active terminal's outbox, as its last heartbeat said.", []string{"device_id"}, nil)
	dTermTrial = prometheus.NewDesc("eidkiosk_authority_terminal_update_trial", "1 while an active terminal's last heartbeat said a release is on trial.", []string{"device_id"}, nil)
	dTermOK    = prometheus.NewDesc("eidkiosk_authority_terminal_healthy", "1 when an active terminal's last heartbeat said it is healthy.", []string{"device_id"}, nil)
	dTUF       = prometheus.NewDesc("eidkiosk_authority_tuf_expiry_timestamp_seconds", "When the TUF repository's metadata of a role expires.", []string{"role"}, nil)
	dDepth     = prometheus.NewDesc("eidkiosk_authority_review_queue_depth", "Enrollments waiting for an officer's review.", nil, nil)
	dAge       = prometheus.NewDesc("eidkiosk_authority_review_queue_oldest_age_seconds", "Age of the oldest enrollment waiting for review (0 when none).", nil, nil)
	dScrapeErr = prometheus.NewDesc("eidkiosk_authority_metrics_errors", "1 when a part of the figures could not be read at this scrape, by part.", []string{"part"}, nil)
)

// knownFlags are the intake's flag kinds, exported at 0 when no stored
// enrollment carries them.
var knownFlags = []string{intake.FlagDuplicateNumber, intake.FlagFaceMismatch, intake.FlagFaceRefer,
	intake.FlagFaceUnchecked, intake.FlagKioskFaceRefer, intake.FlagNotLive}

// terminalStates are exported at 0 when no terminal is in them.
var terminalStates = []string{"total", "ok", fleet.FlagSilent, fleet.FlagFailing, "never_reported", "revoked", "replaced",
	"deprovisioned", fleet.FlagBacklog, fleet.FlagStale, fleet.FlagRollback, fleet.FlagRefused, fleet.FlagLoop}

type collector struct{ m *Metrics }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dBuild, dStored, dFlags, dTerms, dLastHB, dTermOut, dTermTrial, dTermOK, dTUF, dDepth, dAge, dScrapeErr} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	o := c.m.o
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := o.Clock.Now()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	failed := func(part string, err error) {
		if err != nil {
			g(dScrapeErr, 1, part)
		} else {
			g(dScrapeErr, 0, part)
		}
	}
	g(dBuild, 1, o.Version)
	if o.Enrolled != nil {
		n, err := o.Enrolled(ctx)
		failed("enrollments", err)
		if err == nil {
			g(dStored, float64(n))
		}
	}
	if o.DB != nil {
		flags, err := FlagCounts(ctx, o.DB)
		failed("flags", err)
		if err == nil {
			for _, k := range knownFlags {
				g(dFlags, float64(flags[k]), k)
				delete(flags, k)
			}
			for k, n := range flags { // a verifier's kind added later
				g(dFlags, float64(n), codeLabel(k))
			}
		}
		ts, err := fleet.List(ctx, o.DB, now, fleet.ListOptions{SilentAfter: o.SilentAfter, Roster: o.Roster})
		failed("fleet", err)
		if err == nil {
			c.terminals(ts, g)
		}
	}
	if o.RepoDir != "" {
		exp, err := TUFExpiry(o.RepoDir)
		failed("tuf", err)
		for role, t := range exp {
			g(dTUF, float64(t.Unix()), role)
		}
	}
	c.m.mu.Lock()
	rq := c.m.review
	c.m.mu.Unlock()
	if rq != nil {
		st, err := rq.ReviewStats(ctx)
		failed("review", err)
		if err == nil {
			g(dDepth, float64(st.Depth))
			age := 0.0
			if !st.Oldest.IsZero() {
				age = max(0, now.Sub(st.Oldest).Seconds())
			}
			g(dAge, age)
		}
	}
}

func (c *collector) terminals(ts []fleet.Terminal, g func(*prometheus.Desc, float64, ...string)) {
	n := map[string]int{"total": len(ts)}
	for _, t := range ts {
		if len(t.Flags) == 0 {
			n["ok"]++
		}
		for _, f := range t.Flags {
			n[strings.ReplaceAll(f, "-", "_")]++
		}
		if (t.Status != "" && t.Status != "active") || t.LastSeen.IsZero() {
			continue
		}
		g(dLastHB, float64(t.LastSeen.UnixNano())/1e9, t.DeviceID)
		g(dTermOut, float64(t.Outbox), t.DeviceID)
		trial := 0.0
		if t.Phase == "trial" {
			trial = 1
		}
		g(dTermTrial, trial, t.DeviceID)
		ok := 0.0
		if t.Healthy {
			ok = 1
		}
		g(dTermOK, ok, t.DeviceID)
	}
	for _, s := range terminalStates {
		g(dTerms, float64(n[s]), s)
		delete(n, s)
	}
	for s, v := range n { // a flag added to the fleet view later
		g(dTerms, float64(v), codeLabel(s))
	}
}

// FlagCounts counts the stored enrollments' flags by kind (the intake's
// intake_flags table).
func FlagCounts(ctx context.Context, db *authority.DB) (map[string]int, error) {
	rows, err := db.QueryContext(ctx, `SELECT kind, COUNT(*) FROM intake_flags GROUP BY kind`)
	if err != nil {
		return nil, fmt.Errorf("metrics: flags: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("metrics: flags: %w", err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("metrics: flags: %w", err)
	}
	return out, nil
}

// TUFExpiry reads when the published metadata of each top-level role
// expires in a TUF repository directory laid out as authority/release
// writes it: root.json, timestamp.json, and the N.snapshot.json and
// M.targets.json the timestamp and snapshot name (consistent snapshots). A
// role with no published file is left out.
func TUFExpiry(dir string) (map[string]time.Time, error) {
	type meta struct {
		Signed struct {
			Expires time.Time `json:"expires"`
			Meta    map[string]struct {
				Version int64 `json:"version"`
			} `json:"meta"`
		} `json:"signed"`
	}
	out := map[string]time.Time{}
	read := func(role, file string) (*meta, error) {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("metrics: tuf %s: %w", role, err)
		}
		var md meta
		if err := json.Unmarshal(b, &md); err != nil {
			return nil, fmt.Errorf("metrics: tuf %s: %w", role, err)
		}
		out[role] = md.Signed.Expires
		return &md, nil
	}
	if _, err := read("root", "root.json"); err != nil {
		return out, err
	}
	ts, err := read("timestamp", "timestamp.json")
	if err != nil || ts == nil {
		return out, err
	}
	snap, err := read("snapshot", fmt.Sprintf("%d.snapshot.json", ts.Signed.Meta["snapshot.json"].Version))
	if err != nil || snap == nil {
		return out, err
	}
	_, err = read("targets", fmt.Sprintf("%d.targets.json", snap.Signed.Meta["targets.json"].Version))
	return out, err
}
