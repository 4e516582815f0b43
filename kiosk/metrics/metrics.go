// Package metrics exposes the kiosk's state as Prometheus metrics
// (github.com/prometheus/client_golang) on a loopback address only, for a
// local collector or a technician's laptop on an SSH tunnel.
//
// Two kinds of figures: states read at each scrape through functions the
// kiosk passes in (Sources: build info, update agent phase, download
// progress, refusals and metadata freshness, the visit lease, the outbox's
// depth and oldest item, the last acknowledged upload, which devices are up),
// and events counted as they happen by the Recorder (visits started and
// ended by outcome and reason, time per step, face captures, liveness
// challenges, quality failures, match decisions, uploads, refusals,
// heartbeats), fed from the session engine's views and thin wrappers
// around the face capturer, the card matcher, the uplink's queue and the
// heartbeat's HTTP client.
//
// It exports no personal data and no per-citizen label: no station names,
// no enrollment IDs, no card fields; every label is a closed set (states,
// fault kinds, challenge and quality keys, refusal codes, device names).
// Metric names follow the Prometheus conventions (`promtool check metrics`
// clean; a test says so). packaging/monitoring has the dashboards and
// alerting rules built on them.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"eidkiosk/internal/clock"
	"eidkiosk/internal/promserve"
	"eidkiosk/kiosk/lease"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/kiosk/update"
)

// Sources are the kiosk's state readers; any may be nil.
type Sources struct {
	Version string
	Update  func() update.Status
	Lease   func() lease.State
	Outbox  func() outbox.Stats
	// Devices says which devices are up, by name (reader, camera, gpio,
	// printer); a device the kiosk does not have is left out.
	Devices func() map[string]bool
	Clock   clock.Clock // ages are measured with it; nil: real time
}

// Metrics is a registry holding the kiosk collector, the Recorder's
// counters and Go runtime metrics.
type Metrics struct {
	Registry *prometheus.Registry
	// Visits counts what happens (see Recorder); the kiosk feeds it.
	Visits *Recorder
}

// New registers the collectors.
func New(src Sources) *Metrics {
	if src.Clock == nil {
		src.Clock = clock.Real{}
	}
	rec := newRecorder(src.Clock)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&collector{src: src, rec: rec})
	reg.MustRegister(rec.collectors()...)
	return &Metrics{Registry: reg, Visits: rec}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return promserve.Handler(m.Registry) }

// ErrNotLoopback is returned by Serve for an address off the loopback.
var ErrNotLoopback = errors.New("metrics: refusing to listen beyond loopback")

// Serve listens on addr (which must be a loopback address, e.g.
// "127.0.0.1:9464") and serves /metrics until ctx ends. ready, if not nil,
// receives the bound address.
func (m *Metrics) Serve(ctx context.Context, addr string, ready func(net.Addr)) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%w: %s", ErrNotLoopback, addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return promserve.Serve(ctx, ln, m.Registry)
}

var (
	dBuild     = prometheus.NewDesc("eidkiosk_build_info", "Running release (value 1).", []string{"version", "slot"}, nil)
	dPhase     = prometheus.NewDesc("eidkiosk_update_phase", "Update agent phase (1 for the current one).", []string{"phase"}, nil)
	dDone      = prometheus.NewDesc("eidkiosk_update_download_done_bytes", "Bytes of the current release download received.", nil, nil)
	dTotal     = prometheus.NewDesc("eidkiosk_update_download_total_bytes", "Size of the current release download.", nil, nil)
	dBytes     = prometheus.NewDesc("eidkiosk_update_received_bytes_total", "Bytes received from the update repository since start.", nil, nil)
	dRefusals  = prometheus.NewDesc("eidkiosk_update_refusals_total", "Update metadata or targets refused since start.", []string{"last_reason"}, nil)
	dCheck     = prometheus.NewDesc("eidkiosk_update_last_check_timestamp_seconds", "When the agent last checked the repository.", nil, nil)
	dFresh     = prometheus.NewDesc("eidkiosk_update_last_fresh_timestamp_seconds", "When signed metadata was last verified fresh.", nil, nil)
	dExpires   = prometheus.NewDesc("eidkiosk_update_metadata_expires_timestamp_seconds", "Earliest expiry of the verified metadata.", nil, nil)
	dStale     = prometheus.NewDesc("eidkiosk_update_stale", "1 when no fresh metadata for longer than the offline grace.", nil, nil)
	dTrial     = prometheus.NewDesc("eidkiosk_update_trial", "1 while a release is on trial.", nil, nil)
	dHealthy   = prometheus.NewDesc("eidkiosk_update_healthy", "0 while a health check keeps a trial from committing.", nil, nil)
	dLoop      = prometheus.NewDesc("eidkiosk_update_loop", "1 while the agent refuses to install the release it switched to last a second time (an update loop it stopped).", []string{"version"}, nil)
	dLeaseHeld = prometheus.NewDesc("eidkiosk_lease_held", "1 while the visit lease is held.", []string{"holder"}, nil)
	dLeaseExp  = prometheus.NewDesc("eidkiosk_lease_expiry_timestamp_seconds", "When the held lease runs out.", nil, nil)
	dLeaseOut  = prometheus.NewDesc("eidkiosk_lease_expired_total", "Leases that ran out instead of being released.", nil, nil)
	dOutItems  = prometheus.NewDesc("eidkiosk_outbox_items", "Enrollments waiting in the outbox.", nil, nil)
	dOutBytes  = prometheus.NewDesc("eidkiosk_outbox_bytes", "Bytes waiting in the outbox.", nil, nil)
	dOutOldest = prometheus.NewDesc("eidkiosk_outbox_oldest_age_seconds", "Age of the oldest enrollment waiting in the outbox (0 when empty).", nil, nil)
	dOutRefuse = prometheus.NewDesc("eidkiosk_outbox_refused_items", "Enrollments the authority refused, kept in the outbox.", nil, nil)
	dLastAck   = prometheus.NewDesc("eidkiosk_uplink_last_success_timestamp_seconds", "When the authority last acknowledged an enrollment (0: never).", nil, nil)
	dDisabled  = prometheus.NewDesc("eidkiosk_uplink_disabled", "1 while the authority refuses this terminal.", nil, nil)
	dDevice    = prometheus.NewDesc("eidkiosk_device_up", "1 when the device answers, 0 when it is in fault.", []string{"device"}, nil)
	dHBLast    = prometheus.NewDesc("eidkiosk_heartbeat_last_success_timestamp_seconds", "When the authority last took a heartbeat (0: not since start).", nil, nil)
	dHBAge     = prometheus.NewDesc("eidkiosk_heartbeat_age_seconds", "Seconds since the authority last took a heartbeat (since start when none yet).", nil, nil)
	dStart     = prometheus.NewDesc("eidkiosk_start_timestamp_seconds", "When the kiosk's metrics started.", nil, nil)
)

type collector struct {
	src Sources
	rec *Recorder
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dBuild, dPhase, dDone, dTotal, dBytes, dRefusals, dCheck, dFresh, dExpires,
		dStale, dTrial, dHealthy, dLoop, dLeaseHeld, dLeaseExp, dLeaseOut, dOutItems, dOutBytes,
		dOutOldest, dOutRefuse, dLastAck, dDisabled, dDevice, dHBLast, dHBAge, dStart} {
		ch <- d
	}
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func b(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	slot, version := "", c.src.Version
	if c.src.Update != nil {
		s := c.src.Update()
		slot = s.Slot
		if s.Version != "" {
			version = s.Version // the slot's manifest: the release, whatever the build stamp says
		}
		for _, p := range []update.Phase{update.PhaseIdle, update.PhaseChecking, update.PhaseDownloading, update.PhaseInstalling,
			update.PhaseWaitIdle, update.PhaseSwitching, update.PhaseTrial, update.PhaseRollingBack} {
			g(dPhase, b(s.Phase == p), string(p))
		}
		g(dDone, float64(s.Progress.Done))
		g(dTotal, float64(s.Progress.Total))
		ch <- prometheus.MustNewConstMetric(dBytes, prometheus.CounterValue, float64(s.Bytes))
		ch <- prometheus.MustNewConstMetric(dRefusals, prometheus.CounterValue, float64(s.Refusals), s.LastRefusal)
		g(dCheck, unix(s.LastCheck))
		g(dFresh, unix(s.LastFresh))
		g(dExpires, unix(s.Expires))
		g(dStale, b(s.Stale))
		g(dTrial, b(s.Trial != nil))
		g(dHealthy, b(s.Healthy))
		if s.Loop != nil {
			g(dLoop, 1, s.Loop.Version)
		} else {
			g(dLoop, 0, "")
		}
	}
	g(dBuild, 1, version, slot)
	if c.src.Lease != nil {
		l := c.src.Lease()
		g(dLeaseHeld, b(l.Holder != ""), l.Holder)
		g(dLeaseExp, unix(l.Expiry))
		ch <- prometheus.MustNewConstMetric(dLeaseOut, prometheus.CounterValue, float64(l.Expired))
	}
	now := c.src.Clock.Now()
	if c.src.Outbox != nil {
		st := c.src.Outbox()
		g(dOutItems, float64(st.Pending))
		g(dOutBytes, float64(st.Bytes))
		g(dOutRefuse, float64(st.Refused))
		age := 0.0
		if !st.Oldest.IsZero() {
			age = max(0, now.Sub(st.Oldest).Seconds())
		}
		g(dOutOldest, age)
		g(dLastAck, unix(st.LastAck))
		g(dDisabled, b(st.Disabled != ""))
	}
	if c.src.Devices != nil {
		for name, up := range c.src.Devices() {
			g(dDevice, b(up), name)
		}
	}
	g(dStart, unix(c.rec.since))
	last := c.rec.since
	if ns := c.rec.lastHeartbeat.Load(); ns != 0 {
		last = time.Unix(0, ns)
		g(dHBLast, unix(last))
	} else {
		g(dHBLast, 0)
	}
	g(dHBAge, max(0, now.Sub(last).Seconds()))
}
