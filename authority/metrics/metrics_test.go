package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority/metrics"
	"eidkiosk/authority/service"
	"eidkiosk/enroll"
	"eidkiosk/fleetproto"
	"eidkiosk/internal/clock"
)

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d", rec.Code)
	}
	return rec.Body.String()
}

func wantLines(t *testing.T, body string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(body, l+"\n") {
			t.Errorf("missing %q", l)
		}
	}
}

// The middleware tells stored, repeated and refused packages apart by the
// intake's answer, reads the refusal code from its error body, and leaves
// every other route alone.
func TestIntakeMiddleware(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	m := metrics.New(metrics.Options{Clock: clk})
	intake := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clk.Advance(40 * time.Millisecond)
		switch r.Header.Get("X-Test") {
		case "stored":
			w.WriteHeader(http.StatusCreated)
		case "repeat":
			w.Write([]byte("receipt"))
		case "proxy":
			http.Error(w, "bad gateway", http.StatusBadGateway)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			json.NewEncoder(w).Encode(enroll.ErrorBody{Code: r.Header.Get("X-Test"), Message: "ID 110101199003071234 refused"})
		}
	})
	h := m.Middleware(intake)
	for _, kind := range []string{"stored", "stored", "repeat", "check_digit", "Zhang San", "proxy"} {
		req := httptest.NewRequest(http.MethodPost, enroll.PathEnrollments+"0193-x", nil)
		req.Header.Set("X-Test", kind)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, fleetproto.Path, nil))
	body := scrape(t, m.Handler())
	wantLines(t, body,
		`eidkiosk_authority_intake_requests_total{result="stored"} 2`,
		`eidkiosk_authority_intake_requests_total{result="repeat"} 1`,
		`eidkiosk_authority_intake_requests_total{result="refused"} 3`,
		`eidkiosk_authority_intake_refusals_total{code="check_digit"} 1`,
		`eidkiosk_authority_intake_refusals_total{code="other"} 1`,
		`eidkiosk_authority_intake_refusals_total{code="http_502"} 1`,
		`eidkiosk_authority_intake_refusals_total{code="busy"} 0`,
		`eidkiosk_authority_intake_duration_seconds_sum{result="stored"} 0.08`,
		`eidkiosk_authority_intake_in_flight 0`,
		`eidkiosk_authority_issued_total{kind="binding"} 0`,
	)
	for _, bad := range []string{"110101", "Zhang", "0193-x"} {
		if strings.Contains(body, bad) {
			t.Errorf("%q leaked into the metrics", bad)
		}
	}
}

type queue struct{ st metrics.ReviewStats }

func (q queue) ReviewStats(context.Context) (metrics.ReviewStats, error) { return q.st, nil }

// A real authority store: terminals by state from the fleet view, the
// flags, the TUF expiry, and the feeds other modules fill in.
func TestAuthorityFigures(t *testing.T) {
	ctx := context.Background()
	clk := clock.NewFake(time.Date(2027, 1, 10, 12, 0, 0, 0, time.UTC))
	dir := t.TempDir()
	svc, err := service.Open(ctx, service.Config{DataDir: dir, Clock: clk, Face: service.FaceConfig{Off: true}, Version: "9.9.9"})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if err := svc.Fleet.Record(ctx, "dev-silent", "NS01", fleetproto.Report{Healthy: true, OutboxDepth: 2}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if err := svc.Fleet.Record(ctx, "dev-trial", "NS02", fleetproto.Report{Healthy: false, OutboxDepth: 7,
		Update: fleetproto.Update{Phase: "trial"}}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(svc.RepoDir, 0o700)
	writeMeta := func(name, expires string, meta map[string]int) {
		m := map[string]any{"expires": expires}
		if meta != nil {
			mm := map[string]any{}
			for k, v := range meta {
				mm[k] = map[string]int{"version": v}
			}
			m["meta"] = mm
		}
		b, _ := json.Marshal(map[string]any{"signed": m})
		if err := os.WriteFile(filepath.Join(svc.RepoDir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeMeta("root.json", "2028-01-01T00:00:00Z", nil)
	writeMeta("timestamp.json", "2027-01-11T00:00:00Z", map[string]int{"snapshot.json": 3})
	writeMeta("3.snapshot.json", "2027-01-17T00:00:00Z", map[string]int{"targets.json": 2})
	writeMeta("2.targets.json", "2027-04-01T00:00:00Z", nil)
	svc.Metrics.SetReviewQueue(queue{metrics.ReviewStats{Depth: 4, Oldest: clk.Now().Add(-26 * time.Hour)}})
	svc.Metrics.Issued(metrics.IssuedBinding)

	body := scrape(t, svc.Metrics.Handler())
	wantLines(t, body,
		`eidkiosk_authority_build_info{version="9.9.9"} 1`,
		`eidkiosk_authority_enrollments 0`,
		`eidkiosk_authority_terminals{state="total"} 2`,
		`eidkiosk_authority_terminals{state="silent"} 1`,
		`eidkiosk_authority_terminals{state="failing"} 1`,
		`eidkiosk_authority_terminals{state="ok"} 0`,
		`eidkiosk_authority_terminals{state="revoked"} 0`,
		`eidkiosk_authority_terminal_outbox_items{device_id="dev-trial"} 7`,
		`eidkiosk_authority_terminal_update_trial{device_id="dev-trial"} 1`,
		`eidkiosk_authority_terminal_update_trial{device_id="dev-silent"} 0`,
		`eidkiosk_authority_terminal_last_heartbeat_timestamp_seconds{device_id="dev-silent"} 1.7995824e+09`,
		`eidkiosk_authority_tuf_expiry_timestamp_seconds{role="timestamp"} 1.7996256e+09`,
		`eidkiosk_authority_tuf_expiry_timestamp_seconds{role="targets"} 1.8065376e+09`,
		`eidkiosk_authority_review_queue_depth 4`,
		`eidkiosk_authority_review_queue_oldest_age_seconds 93600`,
		`eidkiosk_authority_issued_total{kind="binding"} 1`,
		`eidkiosk_authority_metrics_errors{part="flags"} 0`,
		`eidkiosk_authority_metrics_errors{part="fleet"} 0`,
		`eidkiosk_authority_metrics_errors{part="tuf"} 0`,
	)
	if strings.Contains(body, "NS01") {
		t.Error("station names are not exported")
	}
}

func TestServe(t *testing.T) {
	m := metrics.New(metrics.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- m.Serve(ctx, ln) }()
	res, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), "eidkiosk_authority_intake_requests_total") {
		t.Error("no intake figures served")
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("serve ended with %v", err)
	}
}
