package metrics

import (
	"context"
	"errors"
	"image"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"eidkiosk/enroll"
	"eidkiosk/facematch/score"
	"eidkiosk/fleetproto"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/face/liveness"
	"eidkiosk/kiosk/face/measure"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/kiosk/session"
	"eidkiosk/kiosk/uplink"
)

// Recorder turns what the kiosk does into counters and histograms: the
// session engine's views (visits started and ended, time per step), the
// face captures (challenges, quality guidance, 1:1 match decisions), the
// uplink's acknowledgements and refusals and the heartbeats delivered.
// The kiosk feeds it through Observe and the wrappers Face, Matcher,
// Queue and HeartbeatClient; it never reads a card, a name or an image, and
// its labels are closed sets (states, fault kinds, challenge and guidance
// keys, refusal codes), never an enrollment or a person.
type Recorder struct {
	clk clock.Clock

	started     prometheus.Counter
	ended       *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	steps       *prometheus.HistogramVec
	state       *prometheus.GaugeVec
	unavailable *prometheus.CounterVec
	captures    *prometheus.CounterVec
	challenges  *prometheus.CounterVec
	guidance    *prometheus.CounterVec
	matches     *prometheus.CounterVec
	uploads     prometheus.Counter
	upLatency   prometheus.Histogram
	upDelay     prometheus.Histogram
	upFailures  prometheus.Counter
	refusals    *prometheus.CounterVec
	heartbeats  *prometheus.CounterVec

	since         time.Time    // when the Recorder was made
	lastHeartbeat atomic.Int64 // unix nanoseconds of the last delivered heartbeat; 0: none

	mu       sync.Mutex
	cur      session.State
	seen     bool      // a view was observed
	entered  time.Time // when cur was entered
	deadline time.Time // cur's deadline, as the last view said
	inVisit  bool
	closed   bool // the visit in progress already counted its end (failed or receipt)
	begun    time.Time
	upload   upload // the package the uplink took last
}

// upload times the package the uplink is sending (one at a time).
type upload struct {
	id           string
	took, queued time.Time
}

// Step buckets: a card read takes about a second, reading the data and the
// notice a few seconds to minutes, a capture 5–60 s, sealing well under a
// second.
var stepBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300}

func newRecorder(clk clock.Clock) *Recorder {
	if clk == nil {
		clk = clock.Real{}
	}
	r := &Recorder{clk: clk, cur: session.Attract, since: clk.Now()}
	r.started = prometheus.NewCounter(prometheus.CounterOpts{Name: "eidkiosk_visits_started_total",
		Help: "Visits started (a card placed or start tapped while admitted)."})
	r.ended = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eidkiosk_visits_ended_total",
		Help: "Visits ended, by outcome (completed, failed, cancelled, timeout, interrupted) and reason (the fault kind; none when completed)."},
		[]string{"outcome", "reason"})
	r.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "eidkiosk_visit_duration_seconds",
		Help: "Duration of a visit from its start to its end, by outcome.", Buckets: []float64{5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600}},
		[]string{"outcome"})
	r.steps = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "eidkiosk_visit_step_duration_seconds",
		Help:    "Time a visit spent in a step that it completed: card_read, data_shown (until confirmed), consent, capture (with retries), review, seal.",
		Buckets: stepBuckets}, []string{"step"})
	r.state = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "eidkiosk_session_state",
		Help: "The session engine's current state (1 for the current one)."}, []string{"state"})
	r.unavailable = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eidkiosk_unavailable_total",
		Help: "Times the kiosk became unavailable for new visits, by reason."}, []string{"reason"})
	r.captures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eidkiosk_face_captures_total",
		Help: "Face capture attempts by result (ok, liveness_failed, no_portrait, camera_fault, cancelled, error)."}, []string{"result"})
	r.challenges = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eidkiosk_liveness_challenges_total",
		Help: "Active liveness challenges asked, by kind and result (passed, failed)."}, []string{"challenge", "result"})
	r.guidance = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eidkiosk_face_quality_failures_total",
		Help: "Face capture attempts in which the quality gate failed on a key (what the citizen was asked: move_closer, too_dark...), once per key and attempt."},
		[]string{"key"})
	r.matches = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eidkiosk_face_match_decisions_total",
		Help: "1:1 comparisons of the capture with the card photo, by decision (match, refer, no_match, error)."}, []string{"decision"})
	r.uploads = prometheus.NewCounter(prometheus.CounterOpts{Name: "eidkiosk_uplink_uploads_total",
		Help: "Enrollments acknowledged by the authority since start."})
	r.upLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "eidkiosk_uplink_upload_duration_seconds",
		Help: "Time from taking an enrollment from the outbox to its verified acknowledgement (one upload).", Buckets: prometheus.ExponentialBuckets(0.05, 2, 10)})
	r.upDelay = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "eidkiosk_uplink_delivery_delay_seconds",
		Help: "Time from sealing an enrollment into the outbox to its acknowledgement by the authority.", Buckets: []float64{0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600}})
	r.upFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "eidkiosk_uplink_failures_total",
		Help: "Uploads that failed and were put back in the outbox (network, authority busy, terminal refused)."})
	r.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eidkiosk_uplink_refusals_total",
		Help: "Refusals by the authority, by the intake's reason code and scope (package: kept as refused; terminal: the terminal was disabled)."},
		[]string{"code", "scope"})
	r.heartbeats = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eidkiosk_heartbeats_total",
		Help: "Heartbeats sent to the authority, by result (delivered, failed)."}, []string{"result"})
	for _, s := range allStates {
		r.state.WithLabelValues(s.String())
	}
	r.state.WithLabelValues(session.Attract.String()).Set(1)
	for _, res := range []string{"delivered", "failed"} {
		r.heartbeats.WithLabelValues(res)
	}
	r.preset()
	return r
}

// preset exports every known label value at 0 from the start, so that
// rates, ratios and alerts have a series before the first event.
func (r *Recorder) preset() {
	for k := session.FaultNone; k.String() != "fault(?)"; k++ {
		switch k {
		case session.FaultOutboxFull, session.FaultOutboxStale, session.FaultDisabled, session.FaultUpdating:
			r.unavailable.WithLabelValues(reason(k))
			continue
		case session.FaultTamper:
			r.unavailable.WithLabelValues(reason(k))
		}
		r.ended.WithLabelValues(outcome(k), reason(k))
	}
	r.ended.WithLabelValues("timeout", "timeout")
	r.ended.WithLabelValues("cancelled", "canceled")
	for _, o := range []string{"completed", "failed", "cancelled", "timeout", "interrupted"} {
		r.duration.WithLabelValues(o)
	}
	for _, st := range stepOf {
		r.steps.WithLabelValues(st)
	}
	for _, res := range []string{"ok", "liveness_failed", "no_portrait", "camera_fault", "cancelled", "error"} {
		r.captures.WithLabelValues(res)
	}
	for _, c := range liveness.All {
		r.challenges.WithLabelValues(keyLabel(c), "passed")
		r.challenges.WithLabelValues(keyLabel(c), "failed")
	}
	for _, g := range []string{measure.GuideNoFace, measure.GuideOneFace, measure.GuideCloser, measure.GuideBack,
		measure.GuideLeft, measure.GuideRight, measure.GuideUp, measure.GuideDown, measure.GuideStraight,
		measure.GuideLevel, measure.GuideOpenEyes, measure.GuideHoldStill, measure.GuideTooDark,
		measure.GuideTooBright, measure.GuideUnevenLite} {
		r.guidance.WithLabelValues(keyLabel(g))
	}
	for _, d := range []string{string(score.Match), string(score.Refer), string(score.NoMatch), "error"} {
		r.matches.WithLabelValues(d)
	}
	for _, c := range []string{enroll.CodeReplayOtherDevice, enroll.CodeDeviceMismatch, enroll.CodeMalformed,
		enroll.CodeTampered, enroll.CodeBadSignature, enroll.CodeWrongKey, enroll.CodeUndecryptable,
		enroll.CodeIDMismatch, enroll.CodeSchema, enroll.CodeCheckDigit, enroll.CodeConflict, enroll.CodeTooLarge} {
		r.refusals.WithLabelValues(c, "package")
	}
	for _, c := range []string{enroll.CodeNoClientCert, enroll.CodeDeviceUnknown, enroll.CodeDeviceRevoked} {
		r.refusals.WithLabelValues(c, "terminal")
	}
}

var allStates = []session.State{session.Attract, session.CardWait, session.CardReading, session.DataShown,
	session.Consent, session.FaceCapture, session.Review, session.Sealing, session.ReceiptShown,
	session.Failed, session.Unavailable, session.Technician}

func (r *Recorder) collectors() []prometheus.Collector {
	return []prometheus.Collector{r.started, r.ended, r.duration, r.steps, r.state, r.unavailable, r.captures,
		r.challenges, r.guidance, r.matches, r.uploads, r.upLatency, r.upDelay, r.upFailures, r.refusals, r.heartbeats}
}

// inVisit says whether a state belongs to a citizen's visit.
func visitState(s session.State) bool {
	switch s {
	case session.Attract, session.Unavailable, session.Technician:
		return false
	}
	return true
}

// steps maps a forward move between states to the step it completed.
var stepOf = map[[2]session.State]string{
	{session.CardReading, session.DataShown}: "card_read",
	{session.DataShown, session.Consent}:     "data_shown",
	{session.Consent, session.FaceCapture}:   "consent",
	{session.FaceCapture, session.Review}:    "capture",
	{session.Review, session.Sealing}:        "review",
	{session.Sealing, session.ReceiptShown}:  "seal",
}

// outcome groups a visit's fault into the outcome label.
func outcome(k session.FaultKind) string {
	switch k {
	case session.FaultNone:
		return "completed"
	case session.FaultCanceled, session.FaultNotMe, session.FaultDeclined:
		return "cancelled"
	case session.FaultTimeout:
		return "timeout"
	case session.FaultTamper, session.FaultUpdating, session.FaultDisabled, session.FaultOutboxFull, session.FaultOutboxStale:
		return "interrupted"
	}
	return "failed"
}

func reason(k session.FaultKind) string { return strings.ReplaceAll(k.String(), "-", "_") }

// Observe takes one of the engine's views (session.Options.OnView); it is
// cheap and never blocks. Visits are told from the states the views pass
// through: a visit starts when a visit state follows Attract (or
// Unavailable), and ends at the receipt, at an error screen (its fault is
// the reason), or when the kiosk is back at Attract without either — a
// timeout when the screen's deadline had passed, else a cancel.
func (r *Recorder) Observe(v session.View) {
	now := r.clk.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.cur
	if !r.seen {
		r.seen, r.entered = true, now
	}
	if v.State == prev {
		r.deadline = v.Deadline
		return
	}
	if step := stepOf[[2]session.State{prev, v.State}]; step != "" {
		r.steps.WithLabelValues(step).Observe(now.Sub(r.entered).Seconds())
	}
	r.state.WithLabelValues(prev.String()).Set(0)
	r.state.WithLabelValues(v.State.String()).Set(1)
	if v.State == session.Unavailable {
		r.unavailable.WithLabelValues(reason(v.Fault)).Inc()
	}
	switch {
	case !r.inVisit && visitState(v.State):
		r.inVisit, r.closed, r.begun = true, false, now
		r.started.Inc()
		if v.State == session.Failed { // the card was refused at once (expired, unreadable)
			r.end(now, outcome(v.Fault), reason(v.Fault))
		}
	case r.inVisit && !r.closed && v.State == session.ReceiptShown:
		r.end(now, "completed", "none")
	case r.inVisit && !r.closed && v.State == session.Failed:
		r.end(now, outcome(v.Fault), reason(v.Fault))
	case r.inVisit && !visitState(v.State):
		if !r.closed {
			switch {
			case v.State == session.Unavailable:
				r.end(now, "interrupted", reason(v.Fault))
			case !r.deadline.IsZero() && !now.Before(r.deadline):
				r.end(now, "timeout", "timeout")
			default:
				r.end(now, "cancelled", "canceled")
			}
		}
		r.inVisit = false
	}
	r.cur, r.entered, r.deadline = v.State, now, v.Deadline
}

func (r *Recorder) end(now time.Time, outcome, reason string) {
	r.closed = true
	r.ended.WithLabelValues(outcome, reason).Inc()
	r.duration.WithLabelValues(outcome).Observe(now.Sub(r.begun).Seconds())
}

// keyLabel keeps a label value from a closed set of keys readable and
// bounded: the prefix before the first dot is dropped ("challenge.blink" →
// "blink"), and anything not a short lower-case word becomes "other".
var keyRE = regexp.MustCompile(`^[a-z0-9_]{1,40}$`)

func keyLabel(k string) string {
	if i := strings.IndexByte(k, '.'); i >= 0 {
		k = k[i+1:]
	}
	if !keyRE.MatchString(k) {
		return "other"
	}
	return k
}

// Face wraps the engine's face capturer: every attempt's result, its
// challenges and the quality keys it asked for are counted.
func (r *Recorder) Face(f session.FaceCapturer) session.FaceCapturer {
	return faceRecorder{FaceCapturer: f, r: r}
}

type faceRecorder struct {
	session.FaceCapturer
	r *Recorder
}

// Capture implements session.FaceCapturer.
func (f faceRecorder) Capture(ctx context.Context, nonce []byte, report func(session.FaceProgress)) (session.FaceResult, error) {
	var mu sync.Mutex
	asked := map[string]bool{}
	res, err := f.FaceCapturer.Capture(ctx, nonce, func(p session.FaceProgress) {
		mu.Lock()
		for _, g := range p.Guidance {
			asked[g] = true
		}
		mu.Unlock()
		report(p)
	})
	mu.Lock()
	for g := range asked {
		f.r.guidance.WithLabelValues(keyLabel(g)).Inc()
	}
	mu.Unlock()
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, session.ErrLivenessFailed):
		result = "liveness_failed"
	case errors.Is(err, session.ErrNoPortrait):
		result = "no_portrait"
	case errors.Is(err, session.ErrCameraFault):
		result = "camera_fault"
	case ctx.Err() != nil:
		result = "cancelled"
	default:
		result = "error"
	}
	f.r.captures.WithLabelValues(result).Inc()
	for i, c := range res.Liveness.Challenges {
		passed := "failed"
		if i < len(res.Liveness.Passed) && res.Liveness.Passed[i] {
			passed = "passed"
		}
		f.r.challenges.WithLabelValues(keyLabel(c), passed).Inc()
	}
	return res, err
}

// Matcher wraps the comparison with the card photo (nil stays nil): its
// decisions are counted.
func (r *Recorder) Matcher(m session.CardMatcher) session.CardMatcher {
	if m == nil {
		return nil
	}
	return matchRecorder{m: m, r: r}
}

type matchRecorder struct {
	m session.CardMatcher
	r *Recorder
}

// MatchCard implements session.CardMatcher.
func (m matchRecorder) MatchCard(ctx context.Context, card image.Image, f session.FaceResult) (session.FaceMatch, error) {
	res, err := m.m.MatchCard(ctx, card, f)
	switch {
	case err != nil && ctx.Err() != nil:
	case err != nil:
		m.r.matches.WithLabelValues("error").Inc()
	default:
		d := string(res.Decision)
		if d != string(score.Match) && d != string(score.Refer) && d != string(score.NoMatch) {
			d = "other"
		}
		m.r.matches.WithLabelValues(d).Inc()
	}
	return res, err
}

// Queue wraps the outbox as the uplink uses it: acknowledgements (with the
// upload's duration and the delay since sealing), refusals by code and
// failed attempts are counted. Enrollment IDs are used only to time an
// upload and are never exported.
func (r *Recorder) Queue(q uplink.Queue) uplink.Queue { return queueRecorder{Queue: q, r: r} }

type queueRecorder struct {
	uplink.Queue
	r *Recorder
}

func (q queueRecorder) Next(ctx context.Context) (outbox.Item, bool, error) {
	it, ok, err := q.Queue.Next(ctx)
	if ok && err == nil {
		q.r.mu.Lock()
		q.r.upload = upload{id: it.ID, took: q.r.clk.Now(), queued: it.Queued}
		q.r.mu.Unlock()
	}
	return it, ok, err
}

func (q queueRecorder) Ack(ctx context.Context, id string, receipt []byte) error {
	err := q.Queue.Ack(ctx, id, receipt)
	if err != nil {
		return err
	}
	now := q.r.clk.Now()
	q.r.uploads.Inc()
	q.r.mu.Lock()
	u := q.r.upload
	q.r.upload = upload{}
	q.r.mu.Unlock()
	if u.id == id {
		q.r.upLatency.Observe(now.Sub(u.took).Seconds())
		if !u.queued.IsZero() {
			q.r.upDelay.Observe(now.Sub(u.queued).Seconds())
		}
	}
	return nil
}

func (q queueRecorder) Refuse(ctx context.Context, id, code string) error {
	q.r.refusals.WithLabelValues(keyLabel(code), "package").Inc()
	return q.Queue.Refuse(ctx, id, code)
}

func (q queueRecorder) SetDisabled(ctx context.Context, code string) error {
	if code != "" {
		q.r.refusals.WithLabelValues(keyLabel(code), "terminal").Inc()
	}
	return q.Queue.SetDisabled(ctx, code)
}

func (q queueRecorder) Release(ctx context.Context, id, why string) error {
	if why != "shutdown" {
		q.r.upFailures.Inc()
	}
	return q.Queue.Release(ctx, id, why)
}

// HeartbeatClient returns c with a transport that notes every heartbeat
// the authority took (200 or 204 to fleetproto.Path), for the heartbeat
// age; other requests pass through untouched. A nil c stays nil.
func (r *Recorder) HeartbeatClient(c *http.Client) *http.Client {
	if c == nil {
		return nil
	}
	cc := *c
	base := cc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	cc.Transport = heartbeatTransport{base: base, r: r}
	return &cc
}

type heartbeatTransport struct {
	base http.RoundTripper
	r    *Recorder
}

func (t heartbeatTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.base.RoundTrip(req)
	if req.Method != http.MethodPost || req.URL.Path != fleetproto.Path {
		return res, err
	}
	if err == nil && (res.StatusCode == http.StatusOK || res.StatusCode == http.StatusNoContent) {
		t.r.heartbeats.WithLabelValues("delivered").Inc()
		t.r.lastHeartbeat.Store(t.r.clk.Now().UnixNano())
	} else {
		t.r.heartbeats.WithLabelValues("failed").Inc()
	}
	return res, err
}
