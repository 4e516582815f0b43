package metrics

import (
	"context"
	"errors"
	"fmt"
	"image"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"eidkiosk/facematch/score"
	"eidkiosk/fleetproto"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/kiosk/session"
)

// sample is one gathered series: its value (a histogram's count) by name
// and labels "k=v,k=v" (sorted).
func samples(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(ls)
			key := f.GetName() + "{" + strings.Join(ls, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key] = float64(m.GetHistogram().GetSampleCount())
				out[key+"sum"] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

func expect(t *testing.T, got map[string]float64, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if t.Failed() {
		for k, v := range got {
			if strings.HasPrefix(k, "eidkiosk_") {
				t.Logf("have %s %v", k, v)
			}
		}
	}
}

// walk feeds the recorder views through states, stepping the clock by the
// given seconds before each one.
func walk(r *Recorder, clk *clock.Fake, steps ...any) {
	for i := 0; i < len(steps); i += 2 {
		clk.Advance(time.Duration(steps[i].(int)) * time.Second)
		switch v := steps[i+1].(type) {
		case session.State:
			r.Observe(session.View{State: v})
		case session.View:
			r.Observe(v)
		}
	}
}

func TestVisitOutcomesAndSteps(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	m := New(Sources{Clock: clk})
	r := m.Visits
	walk(r, clk,
		0, session.Attract,
		// A completed visit: 1 s card read, 4 s reading the data, 6 s consent, 12 s capture, 3 s review, 1 s sealing.
		5, session.CardReading,
		1, session.DataShown,
		4, session.Consent,
		6, session.FaceCapture,
		12, session.Review,
		3, session.Sealing,
		1, session.ReceiptShown,
		10, session.Attract,
		// An expired card: Attract straight to Failed in one view.
		5, session.View{State: session.Failed, Fault: session.FaultCardExpired},
		3, session.Attract,
		// Liveness failed after consent.
		2, session.CardReading, 1, session.DataShown, 2, session.Consent, 2, session.FaceCapture,
		30, session.View{State: session.Failed, Fault: session.FaultLiveness},
		20, session.Attract,
		2, session.CardReading)
	// Walked away at the data screen: back at Attract at its deadline.
	walk(r, clk, 1, session.View{State: session.DataShown, Deadline: clk.Now().Add(61 * time.Second)})
	walk(r, clk, 60, session.Attract,
		2, session.CardWait, 1, session.CardReading, 1, session.DataShown, 1, session.Consent)
	// Cancelled during the capture, before its deadline.
	walk(r, clk, 1, session.View{State: session.FaceCapture, Deadline: clk.Now().Add(101 * time.Second)})
	walk(r, clk, 5, session.Attract,
		// Tamper mid-visit.
		2, session.CardReading, 1, session.DataShown,
		1, session.View{State: session.Unavailable, Fault: session.FaultTamper})

	expect(t, samples(t, m.Registry), map[string]float64{
		"eidkiosk_visits_started_total{}":                                 6,
		"eidkiosk_visits_ended_total{outcome=completed,reason=none}":      1,
		"eidkiosk_visits_ended_total{outcome=failed,reason=card_expired}": 1,
		"eidkiosk_visits_ended_total{outcome=failed,reason=liveness}":     1,
		"eidkiosk_visits_ended_total{outcome=timeout,reason=timeout}":     1,
		"eidkiosk_visits_ended_total{outcome=cancelled,reason=canceled}":  1,
		"eidkiosk_visits_ended_total{outcome=interrupted,reason=tamper}":  1,
		"eidkiosk_visit_duration_seconds{outcome=completed}":              1,
		"eidkiosk_visit_duration_seconds{outcome=completed}sum":           27,
		"eidkiosk_visit_duration_seconds{outcome=failed}":                 2,
		"eidkiosk_visit_duration_seconds{outcome=failed}sum":              35,
		"eidkiosk_visit_duration_seconds{outcome=timeout}sum":             61,
		"eidkiosk_visit_duration_seconds{outcome=cancelled}sum":           9,
		"eidkiosk_visit_duration_seconds{outcome=interrupted}sum":         2,
		"eidkiosk_visit_step_duration_seconds{step=card_read}":            5,
		"eidkiosk_visit_step_duration_seconds{step=card_read}sum":         5,
		"eidkiosk_visit_step_duration_seconds{step=data_shown}":           3,
		"eidkiosk_visit_step_duration_seconds{step=data_shown}sum":        7,
		"eidkiosk_visit_step_duration_seconds{step=consent}":              3,
		"eidkiosk_visit_step_duration_seconds{step=consent}sum":           9,
		"eidkiosk_visit_step_duration_seconds{step=capture}":              1,
		"eidkiosk_visit_step_duration_seconds{step=capture}sum":           12,
		"eidkiosk_visit_step_duration_seconds{step=review}sum":            3,
		"eidkiosk_visit_step_duration_seconds{step=seal}sum":              1,
		"eidkiosk_unavailable_total{reason=tamper}":                       1,
		"eidkiosk_session_state{state=unavailable}":                       1,
		"eidkiosk_session_state{state=attract}":                           0,
	})
}

// scriptedFace reports guidance and a challenge, then returns its result.
type scriptedFace struct {
	res session.FaceResult
	err error
}

func (f scriptedFace) Capture(ctx context.Context, nonce []byte, report func(session.FaceProgress)) (session.FaceResult, error) {
	report(session.FaceProgress{Guidance: []string{"face.move_closer", "face.too_dark"}})
	report(session.FaceProgress{Guidance: []string{"face.move_closer"}, Challenge: "challenge.blink"})
	report(session.FaceProgress{Guidance: []string{"Zhang San 110101199003071234"}}) // never a label
	return f.res, f.err
}

type scriptedMatch struct {
	d   score.Decision
	err error
}

func (m scriptedMatch) MatchCard(context.Context, image.Image, session.FaceResult) (session.FaceMatch, error) {
	return session.FaceMatch{Decision: m.d}, m.err
}

func TestFaceAndMatch(t *testing.T) {
	m := New(Sources{})
	r := m.Visits
	live := session.Liveness{Challenges: []string{"challenge.blink", "challenge.turn_left"}, Passed: []bool{true, false}}
	ctx := context.Background()
	for _, f := range []scriptedFace{
		{res: session.FaceResult{Liveness: live}, err: fmt.Errorf("face: %w", session.ErrLivenessFailed)},
		{res: session.FaceResult{Liveness: session.Liveness{Challenges: []string{"challenge.blink"}, Passed: []bool{true}}}},
		{err: fmt.Errorf("face: %w", session.ErrNoPortrait)},
	} {
		if _, err := r.Face(f).Capture(ctx, nil, func(session.FaceProgress) {}); !errors.Is(err, f.err) {
			t.Fatalf("capture error %v, want %v", err, f.err)
		}
	}
	if r.Matcher(nil) != nil {
		t.Error("a nil matcher must stay nil (no comparison)")
	}
	for _, mm := range []scriptedMatch{{d: score.Match}, {d: score.NoMatch}, {d: score.Match}, {err: errors.New("too few frames")}} {
		r.Matcher(mm).MatchCard(ctx, nil, session.FaceResult{})
	}
	got := samples(t, m.Registry)
	expect(t, got, map[string]float64{
		"eidkiosk_face_captures_total{result=liveness_failed}":                  1,
		"eidkiosk_face_captures_total{result=ok}":                               1,
		"eidkiosk_face_captures_total{result=no_portrait}":                      1,
		"eidkiosk_liveness_challenges_total{challenge=blink,result=passed}":     2,
		"eidkiosk_liveness_challenges_total{challenge=turn_left,result=failed}": 1,
		"eidkiosk_face_quality_failures_total{key=move_closer}":                 3, // once per attempt
		"eidkiosk_face_quality_failures_total{key=too_dark}":                    3,
		"eidkiosk_face_quality_failures_total{key=other}":                       3,
		"eidkiosk_face_match_decisions_total{decision=match}":                   2,
		"eidkiosk_face_match_decisions_total{decision=no_match}":                1,
		"eidkiosk_face_match_decisions_total{decision=error}":                   1,
	})
	for k := range got {
		if strings.Contains(k, "110101") || strings.Contains(k, "Zhang") {
			t.Errorf("personal data in a label: %s", k)
		}
	}
}

// fakeQueue is the outbox as the uplink sees it, with one item.
type fakeQueue struct {
	item outbox.Item
}

func (q *fakeQueue) Next(context.Context) (outbox.Item, bool, error) { return q.item, true, nil }
func (q *fakeQueue) Release(context.Context, string, string) error   { return nil }
func (q *fakeQueue) Ack(context.Context, string, []byte) error       { return nil }
func (q *fakeQueue) Refuse(context.Context, string, string) error    { return nil }
func (q *fakeQueue) SetDisabled(context.Context, string) error       { return nil }
func (q *fakeQueue) Stats() outbox.Stats                             { return outbox.Stats{} }
func (q *fakeQueue) Subscribe() (<-chan struct{}, func())            { return nil, func() {} }

func TestUplinkAndHeartbeat(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	m := New(Sources{Clock: clk})
	r := m.Visits
	q := r.Queue(&fakeQueue{item: outbox.Item{ID: "0193-a", Queued: clk.Now().Add(-30 * time.Second)}})
	ctx := context.Background()
	it, _, _ := q.Next(ctx)
	clk.Advance(2 * time.Second)
	q.Ack(ctx, it.ID, nil)
	q.Next(ctx)
	q.Release(ctx, it.ID, "uplink: connection refused")
	q.Next(ctx)
	q.Refuse(ctx, it.ID, "check_digit")
	q.SetDisabled(ctx, "device_revoked")
	q.SetDisabled(ctx, "")
	q.Release(ctx, it.ID, "shutdown")

	ok := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ok {
			http.Error(w, "revoked", http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c := r.HeartbeatClient(srv.Client())
	post := func() {
		res, err := c.Post(srv.URL+fleetproto.Path, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	clk.Advance(10 * time.Second)
	post()
	clk.Advance(50 * time.Second)
	ok = false
	post()
	clk.Advance(7 * time.Second)
	expect(t, samples(t, m.Registry), map[string]float64{
		"eidkiosk_uplink_uploads_total{}":                                    1,
		"eidkiosk_uplink_upload_duration_seconds{}sum":                       2,
		"eidkiosk_uplink_delivery_delay_seconds{}sum":                        32,
		"eidkiosk_uplink_failures_total{}":                                   1,
		"eidkiosk_uplink_refusals_total{code=check_digit,scope=package}":     1,
		"eidkiosk_uplink_refusals_total{code=device_revoked,scope=terminal}": 1,
		"eidkiosk_heartbeats_total{result=delivered}":                        1,
		"eidkiosk_heartbeats_total{result=failed}":                           1,
		"eidkiosk_heartbeat_age_seconds{}":                                   57,
		"eidkiosk_heartbeat_last_success_timestamp_seconds{}":                1_800_000_012,
	})
}
