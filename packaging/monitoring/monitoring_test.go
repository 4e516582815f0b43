package monitoring

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	authmetrics "eidkiosk/authority/metrics"
	"eidkiosk/authority/release"
	"eidkiosk/sim/demo"
)

// promtool finds promtool (Debian's prometheus package, in `make deps`);
// in CI its absence fails the test, elsewhere it skips it.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("promtool is not installed (make deps installs Debian's prometheus package): %v", err)
		}
		t.Skip("promtool is not installed (apt-get install prometheus, or make deps)")
	}
	return p
}

func run(t *testing.T, stdin []byte, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestRules(t *testing.T) {
	pt := promtool(t)
	rules, _ := filepath.Glob("*.rules.yml")
	tests, _ := filepath.Glob("*_test.yml")
	if len(rules) < 2 || len(tests) < 2 {
		t.Fatalf("rules %v, tests %v: want the kiosk's and the authority's", rules, tests)
	}
	run(t, nil, pt, append([]string{"check", "rules"}, rules...)...)
	t.Log(run(t, nil, pt, append([]string{"test", "rules"}, tests...)...))
	// Every rule file has its tests.
	for _, r := range rules {
		test := strings.TrimSuffix(r, ".rules.yml") + "_test.yml"
		b, err := os.ReadFile(test)
		if err != nil {
			t.Errorf("%s has no tests: %v", r, err)
			continue
		}
		if !bytes.Contains(b, []byte("rule_files:\n  - "+r)) {
			t.Errorf("%s does not load %s in rule_files", test, r)
		}
	}
}

// review stands in for the review console, which feeds the authority's
// review queue figures.
type review struct{}

func (review) ReviewStats(context.Context) (authmetrics.ReviewStats, error) {
	return authmetrics.ReviewStats{Depth: 1, Oldest: time.Now().Add(-time.Hour)}, nil
}

func scrape(t *testing.T, h http.Handler) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d", rec.Code)
	}
	return rec.Body.Bytes()
}

// value reads one sample ("name{labels}" exactly as exposed) from an
// exposition; -1 when absent.
func value(body []byte, series string) float64 {
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return -1
			}
			return f
		}
	}
	return -1
}

// total sums the samples of the series starting with prefix and holding
// label.
func total(body []byte, prefix, label string) float64 {
	sum := 0.0
	for _, l := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(l, prefix) || !strings.Contains(l, label) {
			continue
		}
		if i := strings.LastIndexByte(l, ' '); i > 0 {
			if f, err := strconv.ParseFloat(l[i+1:], 64); err == nil {
				sum += f
			}
		}
	}
	return sum
}

// names lists the metric names an exposition has (histograms with their
// _bucket, _sum and _count series).
func names(body []byte) map[string]bool {
	out := map[string]bool{}
	for _, l := range strings.Split(string(body), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if i := strings.IndexAny(l, "{ "); i > 0 {
			out[l[:i]] = true
		}
	}
	return out
}

// demoRun is a demo environment with the repository initialised and the
// review queue fed, ready for a visit.
type demoRun struct {
	env *demo.Env
	out bytes.Buffer
}

func startDemo(t *testing.T) *demoRun {
	t.Helper()
	d := &demoRun{}
	env, err := demo.Setup(context.Background(), demo.Options{Dir: t.TempDir(), Out: &d.out, Timeout: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	d.env = env
	// City IT's update repository (`eidkiosk-authority release init`), for
	// its expiry.
	keys := t.TempDir()
	if err := release.Init(env.Stack.Authority.RepoDir, filepath.Join(keys, "offline"), filepath.Join(keys, "online"),
		release.InitOptions{Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	env.Stack.Authority.Metrics.SetReviewQueue(review{})
	return d
}

// visit runs the scripted citizen's visit to the end (the enrollment at
// the authority).
func (d *demoRun) visit(t *testing.T) demo.Result {
	t.Helper()
	res, err := d.env.Run(context.Background())
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, d.out.String())
	}
	if !res.AtAuthority {
		t.Fatalf("the enrollment did not reach the authority: %+v\n%s", res, d.out.String())
	}
	return res
}

// TestDemoVisitEndpoints runs one demo visit (the real kiosk on the
// simulated stack, the face through OpenCV on the webcam recording) and
// checks both endpoints after it.
func TestDemoVisitEndpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a whole demo visit")
	}
	pt := promtool(t)
	d := startDemo(t)
	kiosk, auth := d.env.System.Metrics, d.env.Stack.Authority.Metrics
	before := scrape(t, kiosk.Handler())
	res := d.visit(t)
	k := scrape(t, kiosk.Handler())
	a := scrape(t, auth.Handler())
	run(t, k, pt, "check", "metrics") // fails the test on any finding
	run(t, a, pt, "check", "metrics")

	moved := func(body, before []byte, series string, min float64) {
		t.Helper()
		was := max(value(before, series), 0)
		if now := value(body, series); now-was < min {
			t.Errorf("%s: %v before the visit, %v after, want at least +%v", series, was, now, min)
		}
	}
	moved(k, before, `eidkiosk_visits_started_total`, 1)
	moved(k, before, `eidkiosk_visits_ended_total{outcome="completed",reason="none"}`, 1)
	moved(k, before, `eidkiosk_visit_duration_seconds_count{outcome="completed"}`, 1)
	for _, step := range []string{"card_read", "data_shown", "consent", "capture", "review", "seal"} {
		moved(k, before, `eidkiosk_visit_step_duration_seconds_count{step="`+step+`"}`, 1)
		if value(k, `eidkiosk_visit_step_duration_seconds_sum{step="`+step+`"}`) <= 0 {
			t.Errorf("step %s took no time", step)
		}
	}
	moved(k, before, `eidkiosk_face_captures_total{result="ok"}`, 1)
	moved(k, before, `eidkiosk_uplink_uploads_total`, 1)
	moved(k, before, `eidkiosk_uplink_upload_duration_seconds_count`, 1)
	moved(k, before, `eidkiosk_heartbeats_total{result="delivered"}`, 1)
	if total(k, `eidkiosk_liveness_challenges_total{`, `result="passed"`) < 1 {
		t.Error("no liveness challenge counted as passed")
	}
	if res.CardPhoto {
		moved(k, before, `eidkiosk_face_match_decisions_total{decision="match"}`, 1)
	}
	if v := value(k, `eidkiosk_device_up{device="reader"}`); v != 1 {
		t.Errorf("reader up = %v after a visit it read the card of", v)
	}
	moved(a, nil, `eidkiosk_authority_intake_requests_total{result="stored"}`, 1)
	moved(a, nil, `eidkiosk_authority_intake_duration_seconds_count{result="stored"}`, 1)
	moved(a, nil, `eidkiosk_authority_enrollments`, 1)
	moved(a, nil, `eidkiosk_authority_terminals{state="total"}`, 1)
	if v := value(a, `eidkiosk_authority_tuf_expiry_timestamp_seconds{role="timestamp"}`); v < float64(time.Now().Unix()) {
		t.Errorf("the repository's timestamp expires at %v, before now", v)
	}

	// No personal data: the demo card's number and name never appear.
	for _, body := range [][]byte{k, a} {
		if regexp.MustCompile(`\d{17}[\dX]`).Match(body) || bytes.Contains(body, []byte(res.EnrollmentID)) {
			t.Error("an ID number or an enrollment ID in the metrics")
		}
	}

	known := names(k)
	for n := range names(a) {
		known[n] = true
	}
	checkDashboards(t, known)
	checkRuleMetrics(t, known)
}

var metricRE = regexp.MustCompile(`\beidkiosk_[a-z0-9_]+`)

// exprMetrics lists the eidkiosk metrics an expression names (recording
// rules, with a colon, are not metrics).
func exprMetrics(expr string) []string {
	var out []string
	for _, m := range metricRE.FindAllStringIndex(expr, -1) {
		if m[1] < len(expr) && expr[m[1]] == ':' {
			continue
		}
		out = append(out, expr[m[0]:m[1]])
	}
	return out
}

type panel struct {
	Title   string  `json:"title"`
	Type    string  `json:"type"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func checkDashboards(t *testing.T, known map[string]bool) {
	files, _ := filepath.Glob("*.dashboard.json")
	if len(files) < 2 {
		t.Fatalf("dashboards %v: want the fleet's and the authority's", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID    string  `json:"uid"`
			Title  string  `json:"title"`
			Panels []panel `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Errorf("%s: not valid JSON: %v", f, err)
			continue
		}
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: no uid or title", f)
		}
		var walk func([]panel)
		count := 0
		walk = func(ps []panel) {
			for _, p := range ps {
				walk(p.Panels)
				if p.Type == "row" {
					continue
				}
				count++
				if len(p.Targets) == 0 {
					t.Errorf("%s: panel %q has no query", f, p.Title)
				}
				for _, q := range p.Targets {
					ms := exprMetrics(q.Expr)
					if len(ms) == 0 {
						t.Errorf("%s: panel %q: query %q names no eidkiosk metric", f, p.Title, q.Expr)
					}
					for _, m := range ms {
						if !known[m] {
							t.Errorf("%s: panel %q: %s is not exported by the kiosk or the authority", f, p.Title, m)
						}
					}
				}
			}
		}
		walk(d.Panels)
		t.Logf("%s: %d panels, every query names exported metrics", f, count)
	}
}

func checkRuleMetrics(t *testing.T, known map[string]bool) {
	files, _ := filepath.Glob("*.rules.yml")
	exprRE := regexp.MustCompile(`(?m)^\s+expr:\s*(\|\s*\n((?:\s{10,}.*\n)+)|(.*))`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for _, m := range exprRE.FindAllStringSubmatch(string(b), -1) {
			all = append(all, exprMetrics(m[2]+m[3])...)
		}
		if len(all) == 0 {
			t.Errorf("%s: no expression names a metric", f)
		}
		slices.Sort(all)
		for _, m := range slices.Compact(all) {
			if !known[m] {
				t.Errorf("%s: %s is not exported by the kiosk or the authority", f, m)
			}
		}
	}
}
