package session

import (
	"bytes"
	"context"
	"errors"
	"image"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"eidkiosk/idcard"
	"eidkiosk/internal/clock"
	"eidkiosk/internal/pii"
	"eidkiosk/kiosk/config"
)

// ---- fakes ----

type faceCall struct {
	nonce  []byte
	report func(FaceProgress)
	ctx    context.Context
	result chan faceReply
}

type faceReply struct {
	res FaceResult
	err error
}

type fakeFace struct{ calls chan *faceCall }

func (f *fakeFace) Capture(ctx context.Context, nonce []byte, report func(FaceProgress)) (FaceResult, error) {
	c := &faceCall{nonce: nonce, report: report, ctx: ctx, result: make(chan faceReply, 1)}
	f.calls <- c
	select {
	case r := <-c.result:
		return r.res, r.err
	case <-ctx.Done():
		return FaceResult{}, ctx.Err()
	}
}

type submitted struct {
	number, name string
	portrait     []byte
	photo        []byte
	consent      ConsentRecord
}

type fakeSubmit struct {
	mu    sync.Mutex
	got   []submitted
	err   error
	block chan struct{}
}

func (s *fakeSubmit) Submit(ctx context.Context, e *Enrollment) (Receipt, error) {
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return Receipt{}, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return Receipt{}, s.err
	}
	s.got = append(s.got, submitted{
		number: e.Card.Number.Reveal(), name: e.Card.Name.Reveal(),
		portrait: bytes.Clone(e.Face.Portrait), photo: bytes.Clone(e.Card.Photo), consent: e.Consent,
	})
	return Receipt{EnrollmentID: "0193-test", Short: "DEMO-0001", QR: "eid:bind?e=0193-test", Queued: time.Now()}, nil
}

type fakeGate struct {
	mu  sync.Mutex
	err error
}

func (g *fakeGate) Admit() error  { g.mu.Lock(); defer g.mu.Unlock(); return g.err }
func (g *fakeGate) set(err error) { g.mu.Lock(); g.err = err; g.mu.Unlock() }

type recPrinter struct {
	mu  sync.Mutex
	got []Receipt
}

func (r *recPrinter) PrintReceipt(rc Receipt) {
	r.mu.Lock()
	r.got = append(r.got, rc)
	r.mu.Unlock()
}

func (r *recPrinter) printed() []Receipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Receipt(nil), r.got...)
}

type recSignals struct {
	mu   sync.Mutex
	seen []State
}

func (r *recSignals) StateChanged(from, to State) {
	r.mu.Lock()
	r.seen = append(r.seen, to)
	r.mu.Unlock()
}

// ---- harness ----

type harness struct {
	t      *testing.T
	e      *Engine
	clk    *clock.Fake
	face   *fakeFace
	sub    *fakeSubmit
	gate   *fakeGate
	sig    *recSignals
	print  *recPrinter
	views  chan View
	cancel context.CancelFunc
	done   chan error
	logs   *bytes.Buffer
	logMu  *sync.Mutex
}

type syncWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (s syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func newHarness(t *testing.T, with ...func(*Options)) *harness {
	t.Helper()
	h := &harness{
		t:     t,
		clk:   clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)),
		face:  &fakeFace{calls: make(chan *faceCall, 4)},
		sub:   &fakeSubmit{},
		gate:  &fakeGate{},
		sig:   &recSignals{},
		print: &recPrinter{},
		views: make(chan View, 1024),
		done:  make(chan error, 1),
		logs:  &bytes.Buffer{},
		logMu: &sync.Mutex{},
	}
	n := byte(0)
	o := Options{
		Timeouts:      config.Default().Timeouts,
		Face:          h.face,
		Submit:        h.sub,
		Gate:          h.gate,
		Signals:       h.sig,
		Print:         h.print,
		Clock:         h.clk,
		Logger:        slog.New(slog.NewTextHandler(syncWriter{h.logMu, h.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		TechnicianPIN: "2468",
		OnView:        func(v View) { h.views <- v },
		Nonce:         func() []byte { n++; return []byte{n} },
	}
	for _, f := range with {
		f(&o)
	}
	h.e = New(o)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.e.Run(ctx) }()
	h.wait(Attract)
	t.Cleanup(func() {
		cancel()
		<-h.done
		h.logMu.Lock()
		defer h.logMu.Unlock()
		for _, secret := range []string{"张三", "990101199003071237", "北京市东城区"} {
			if bytes.Contains(h.logs.Bytes(), []byte(secret)) {
				t.Errorf("log contains personal data %q", secret)
			}
		}
	})
	return h
}

// wait returns the first view in state s, failing after 5 s of real time.
func (h *harness) wait(s State) View {
	h.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case v := <-h.views:
			if v.State == s {
				return v
			}
		case <-deadline:
			h.t.Fatalf("state %s not reached; last view %s", s, h.e.View().State)
		}
	}
}

// settle waits until the engine has processed everything sent so far.
func (h *harness) settle() View {
	h.t.Helper()
	for i := 0; i < 200; i++ {
		h.e.qmu.Lock()
		n := len(h.e.queue)
		h.e.qmu.Unlock()
		if n == 0 {
			time.Sleep(2 * time.Millisecond)
			h.e.qmu.Lock()
			n = len(h.e.queue)
			h.e.qmu.Unlock()
			if n == 0 {
				return h.e.View()
			}
		}
		time.Sleep(time.Millisecond)
	}
	h.t.Fatal("engine did not settle")
	return View{}
}

func (h *harness) tap(a Action) { h.e.Send(Tap{Action: a}) }

func (h *harness) faceCall() *faceCall {
	h.t.Helper()
	select {
	case c := <-h.face.calls:
		return c
	case <-time.After(5 * time.Second):
		h.t.Fatal("face capture not started")
		return nil
	}
}

func testCard() (idcard.Card, []byte) {
	photo := bytes.Repeat([]byte{0x57}, 1024)
	return idcard.Card{
		Kind:      idcard.KindResident,
		Name:      pii.Text("张三"),
		Gender:    "1",
		Ethnic:    "01",
		BirthDate: time.Date(1990, 3, 7, 0, 0, 0, 0, time.UTC),
		Address:   pii.Text("北京市东城区示例路1号"),
		Number:    pii.Text("990101199003071237"),
		Authority: "北京市公安局东城分局",
		ValidFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		ValidTo:   time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
		Text:      bytes.Repeat([]byte{0x20, 0}, 128),
		Photo:     photo,
	}, photo
}

// toDataShown walks from Attract to DataShown and returns the raw photo bytes.
func (h *harness) toDataShown() []byte {
	h.tap(ActStart)
	h.wait(CardWait)
	h.e.Send(CardPlaced{})
	h.wait(CardReading)
	c, photo := testCard()
	h.e.Send(CardRead{Card: c})
	h.wait(DataShown)
	return photo
}

func (h *harness) toFace() *faceCall {
	h.toDataShown()
	h.tap(ActConfirm)
	h.wait(Consent)
	h.tap(ActAgree)
	h.wait(FaceCapture)
	return h.faceCall()
}

func portraitResult() FaceResult {
	return FaceResult{
		Portrait: bytes.Repeat([]byte{0xFF, 0xD8}, 100),
		Quality:  []Measure{{Name: "sharpness", Value: 120, Threshold: 50, Pass: true}},
		Liveness: Liveness{Live: true, Challenges: []string{"challenge.blink"}, Passed: []bool{true},
			Evidence: [][]byte{bytes.Repeat([]byte{1}, 64)}},
	}
}

// ---- tests ----

func TestWholeVisit(t *testing.T) {
	h := newHarness(t)
	photo := h.toDataShown()
	v := h.e.View()
	if v.Card == nil || v.Card.Name != "张*" || v.Card.Number != "9901**********1237" || v.Card.BirthYear != 1990 {
		t.Fatalf("card view = %+v", v.Card)
	}
	if v.Deadline.IsZero() || !v.Deadline.Equal(h.clk.Now().Add(60*time.Second)) {
		t.Fatalf("deadline = %v", v.Deadline)
	}
	h.e.Send(Tap{Action: ActLanguage, Lang: "en"})
	h.tap(ActConfirm)
	h.wait(Consent)
	h.tap(ActAgree)
	h.wait(FaceCapture)
	fc := h.faceCall()
	fc.report(FaceProgress{Challenge: "challenge.blink", Step: 1, Steps: 2, Box: image.Rect(10, 10, 50, 50)})
	for {
		v = h.wait(FaceCapture)
		if v.Face.Challenge == "challenge.blink" {
			break
		}
	}
	if v.Face.Step != 1 || v.Face.Box.Dx() != 40 || v.Attempt != 1 {
		t.Fatalf("face view = %+v attempt %d", v.Face, v.Attempt)
	}
	res := portraitResult()
	portrait := res.Portrait
	evidence := res.Liveness.Evidence[0]
	fc.result <- faceReply{res: res}
	v = h.wait(Review)
	if !bytes.Equal(v.Portrait, portrait) {
		t.Fatal("review does not show the portrait")
	}
	h.tap(ActKeep)
	v = h.wait(ReceiptShown)
	if v.Receipt == nil || v.Receipt.Short != "DEMO-0001" || v.Card != nil || v.Portrait != nil {
		t.Fatalf("receipt view = %+v", v)
	}
	if v.Visits != 1 {
		t.Fatalf("visits = %d", v.Visits)
	}
	// The receipt is printed once, although the receipt screen publishes
	// further views (a language switch here).
	h.e.Send(Tap{Action: ActLanguage, Lang: "zh-CN"})
	h.e.Send(Tap{Action: ActLanguage, Lang: "en"})
	h.settle()
	if p := h.print.printed(); len(p) != 1 || p[0].Short != "DEMO-0001" || p[0].EnrollmentID != "0193-test" {
		t.Fatalf("printed %+v, want the one receipt once", p)
	}
	h.sub.mu.Lock()
	got := h.sub.got
	h.sub.mu.Unlock()
	if len(got) != 1 || got[0].number != "990101199003071237" || got[0].name != "张三" ||
		len(got[0].portrait) != 200 || len(got[0].photo) != 1024 || got[0].consent.Language != "en" || got[0].consent.TextVersion != "1" {
		t.Fatalf("submitted = %+v", got)
	}
	for name, b := range map[string][]byte{"card photo": photo, "portrait": portrait, "evidence": evidence} {
		if bytes.ContainsFunc(b, func(r rune) bool { return r != 0 }) {
			t.Errorf("%s not wiped after submit", name)
		}
	}
	h.tap(ActDone)
	v = h.wait(Attract)
	if v.Receipt != nil || v.Card != nil || v.Lang != "zh-CN" {
		t.Fatalf("attract after visit = %+v", v)
	}
	h.e.Send(CardPlaced{}) // a new visit starts from the language default
	if v = h.wait(CardReading); v.Lang != "zh-CN" {
		t.Fatalf("lang = %s", v.Lang)
	}
	want := []State{CardWait, CardReading, DataShown, Consent, FaceCapture, Review, Sealing, ReceiptShown, Attract, CardReading}
	h.sig.mu.Lock()
	defer h.sig.mu.Unlock()
	if len(h.sig.seen) != len(want) {
		t.Fatalf("signals = %v, want %v", h.sig.seen, want)
	}
	for i := range want {
		if h.sig.seen[i] != want[i] {
			t.Fatalf("signals = %v, want %v", h.sig.seen, want)
		}
	}
}

func TestCardPlacedOnAttractStartsVisit(t *testing.T) {
	h := newHarness(t)
	h.e.Send(CardPlaced{})
	h.wait(CardReading)
	c, _ := testCard()
	h.e.Send(CardRead{Card: c})
	h.wait(DataShown)
}

func TestEveryWaitingScreenTimesOutAndWipes(t *testing.T) {
	to := config.Default().Timeouts
	cases := []struct {
		state State
		reach func(h *harness) []byte
		d     time.Duration
		then  State
	}{
		{CardWait, func(h *harness) []byte { h.tap(ActStart); h.wait(CardWait); return nil }, to.CardWait.Duration, Attract},
		{CardReading, func(h *harness) []byte {
			h.tap(ActStart)
			h.wait(CardWait)
			h.e.Send(CardPlaced{})
			h.wait(CardReading)
			return nil
		}, to.CardRead.Duration, Failed},
		{DataShown, func(h *harness) []byte { return h.toDataShown() }, to.DataShown.Duration, Attract},
		{Consent, func(h *harness) []byte { p := h.toDataShown(); h.tap(ActConfirm); h.wait(Consent); return p }, to.Consent.Duration, Attract},
		{FaceCapture, func(h *harness) []byte { h.toFace(); return nil }, to.FaceCapture.Duration, Attract},
		{Review, func(h *harness) []byte {
			fc := h.toFace()
			r := portraitResult()
			fc.result <- faceReply{res: r}
			h.wait(Review)
			return r.Portrait
		}, to.Review.Duration, Attract},
		{ReceiptShown, func(h *harness) []byte {
			fc := h.toFace()
			fc.result <- faceReply{res: portraitResult()}
			h.wait(Review)
			h.tap(ActKeep)
			h.wait(ReceiptShown)
			return nil
		}, to.Receipt.Duration, Attract},
		{Failed, func(h *harness) []byte { h.toDataShown(); h.tap(ActNotMe); h.wait(Failed); return nil }, to.Failed.Duration, Attract},
	}
	for _, c := range cases {
		t.Run(c.state.String(), func(t *testing.T) {
			h := newHarness(t)
			secret := c.reach(h)
			h.settle()
			h.clk.Advance(c.d - time.Millisecond)
			if v := h.settle(); v.State != c.state {
				t.Fatalf("left %s before its timeout: %s", c.state, v.State)
			}
			h.clk.Advance(time.Millisecond)
			v := h.wait(c.then)
			if v.Card != nil || v.Portrait != nil {
				t.Fatal("personal data still in view after timeout")
			}
			if h.e.visit != nil && c.then == Attract {
				t.Fatal("visit data still held")
			}
			if secret != nil && bytes.ContainsFunc(secret, func(r rune) bool { return r != 0 }) {
				t.Fatal("personal bytes not zeroed")
			}
		})
	}
}

func TestCancelFromEveryState(t *testing.T) {
	reach := map[State]func(h *harness) *faceCall{
		CardWait:    func(h *harness) *faceCall { h.tap(ActStart); h.wait(CardWait); return nil },
		DataShown:   func(h *harness) *faceCall { h.toDataShown(); return nil },
		Consent:     func(h *harness) *faceCall { h.toDataShown(); h.tap(ActConfirm); h.wait(Consent); return nil },
		FaceCapture: func(h *harness) *faceCall { return h.toFace() },
		Review: func(h *harness) *faceCall {
			fc := h.toFace()
			fc.result <- faceReply{res: portraitResult()}
			h.wait(Review)
			return nil
		},
		Failed: func(h *harness) *faceCall {
			h.toDataShown()
			h.tap(ActDecline)
			h.tap(ActNotMe)
			h.wait(Failed)
			return nil
		},
	}
	for s, f := range reach {
		t.Run(s.String(), func(t *testing.T) {
			h := newHarness(t)
			fc := f(h)
			h.tap(ActCancel)
			v := h.wait(Attract)
			if v.Card != nil || h.settle().Card != nil {
				t.Fatal("card still shown after cancel")
			}
			if fc != nil {
				select {
				case <-fc.ctx.Done():
				case <-time.After(5 * time.Second):
					t.Fatal("face capture not cancelled")
				}
			}
		})
	}
}

func TestLivenessRetriesThenFails(t *testing.T) {
	h := newHarness(t)
	fc := h.toFace()
	nonces := map[string]bool{string(fc.nonce): true}
	for i := 1; i < 3; i++ {
		fc.result <- faceReply{err: ErrLivenessFailed}
		fc = h.faceCall()
		if nonces[string(fc.nonce)] {
			t.Fatal("retry reused the liveness nonce")
		}
		nonces[string(fc.nonce)] = true
		v := h.settle()
		if v.State != FaceCapture || !v.Retry || v.Attempt != i+1 {
			t.Fatalf("after failure %d: %+v", i, v)
		}
	}
	fc.result <- faceReply{err: ErrLivenessFailed}
	v := h.wait(Failed)
	if v.Fault != FaultLiveness {
		t.Fatalf("fault = %s", v.Fault)
	}
}

func TestFaceErrors(t *testing.T) {
	for _, c := range []struct {
		err   error
		fault FaultKind
	}{
		{ErrCameraFault, FaultCamera},
		{errors.New("v4l2: device gone"), FaultCamera},
	} {
		h := newHarness(t)
		fc := h.toFace()
		fc.result <- faceReply{err: c.err}
		if v := h.wait(Failed); v.Fault != c.fault {
			t.Errorf("%v: fault %s", c.err, v.Fault)
		}
	}
	h := newHarness(t)
	fc := h.toFace()
	for i := 0; i < 3; i++ {
		fc.result <- faceReply{err: ErrNoPortrait}
		if i < 2 {
			fc = h.faceCall()
		}
	}
	if v := h.wait(Failed); v.Fault != FaultQuality {
		t.Errorf("fault %s", v.Fault)
	}
}

func TestRetakeLimited(t *testing.T) {
	h := newHarness(t)
	fc := h.toFace()
	for i := 0; i < 3; i++ {
		r := portraitResult()
		fc.result <- faceReply{res: r}
		h.wait(Review)
		h.tap(ActRetake)
		if i < 2 {
			fc = h.faceCall()
			if bytes.ContainsFunc(r.Portrait, func(r rune) bool { return r != 0 }) {
				t.Fatal("discarded portrait not wiped")
			}
		}
	}
	if v := h.settle(); v.State != Review || v.Attempt != 3 {
		t.Fatalf("retake beyond the limit: %s attempt %d", v.State, v.Attempt)
	}
}

func TestCardProblems(t *testing.T) {
	start := func(h *harness) { h.tap(ActStart); h.wait(CardWait); h.e.Send(CardPlaced{}); h.wait(CardReading) }
	t.Run("expired", func(t *testing.T) {
		h := newHarness(t)
		start(h)
		c, photo := testCard()
		c.ValidTo = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
		h.e.Send(CardRead{Card: c})
		if v := h.wait(Failed); v.Fault != FaultCardExpired || v.Card != nil {
			t.Fatalf("%+v", v)
		}
		if bytes.ContainsFunc(photo, func(r rune) bool { return r != 0 }) {
			t.Fatal("expired card's photo not wiped")
		}
	})
	t.Run("valid through last day", func(t *testing.T) {
		h := newHarness(t)
		start(h)
		c, _ := testCard()
		c.ValidTo = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
		h.e.Send(CardRead{Card: c})
		h.wait(DataShown)
	})
	t.Run("no expiry", func(t *testing.T) {
		h := newHarness(t)
		start(h)
		c, _ := testCard()
		c.ValidTo, c.NoExpiry = time.Time{}, true
		h.e.Send(CardRead{Card: c})
		if v := h.wait(DataShown); !v.Card.NoExpiry {
			t.Fatal("NoExpiry lost")
		}
	})
	t.Run("invalid", func(t *testing.T) {
		h := newHarness(t)
		start(h)
		h.e.Send(CardReadFailed{Err: errors.New("idcard: check digit"), Invalid: true})
		if v := h.wait(Failed); v.Fault != FaultCardInvalid {
			t.Fatal(v.Fault)
		}
	})
	t.Run("unread", func(t *testing.T) {
		h := newHarness(t)
		start(h)
		h.e.Send(CardReadFailed{Err: errors.New("idcard: SW3 41")})
		if v := h.wait(Failed); v.Fault != FaultCardUnread {
			t.Fatal(v.Fault)
		}
	})
	t.Run("removed early", func(t *testing.T) {
		h := newHarness(t)
		start(h)
		h.e.Send(CardRemoved{})
		if v := h.wait(Failed); v.Fault != FaultCardRemovedEarly {
			t.Fatal(v.Fault)
		}
	})
	t.Run("read outside a visit is wiped", func(t *testing.T) {
		h := newHarness(t)
		h.toDataShown()
		c, photo := testCard()
		h.e.Send(CardRead{Card: c})
		h.settle()
		if bytes.ContainsFunc(photo, func(r rune) bool { return r != 0 }) {
			t.Fatal("stray card read kept")
		}
	})
}

func TestReaderFault(t *testing.T) {
	h := newHarness(t)
	h.tap(ActStart)
	h.wait(CardWait)
	h.e.Send(ReaderFault{Err: errors.New("idcard: port vanished")})
	v := h.wait(Failed)
	if v.Fault != FaultReader || v.ReaderOK {
		t.Fatalf("%+v", v)
	}
	h.e.Send(ReaderBack{})
	if v := h.settle(); !v.ReaderOK {
		t.Fatal("reader not back")
	}
}

func TestGateRefusesAndRecovers(t *testing.T) {
	h := newHarness(t)
	h.gate.set(ErrOutboxFull)
	h.tap(ActStart)
	if v := h.wait(Unavailable); v.Fault != FaultOutboxFull {
		t.Fatal(v.Fault)
	}
	h.e.Send(CardPlaced{})
	if v := h.settle(); v.State != Unavailable {
		t.Fatal("card started a visit while unavailable")
	}
	h.gate.set(errors.Join(errors.New("x"), ErrOutboxStale))
	h.e.Send(Recheck{})
	if v := h.settle(); v.Fault != FaultOutboxStale {
		t.Fatal(v.Fault)
	}
	h.gate.set(nil)
	h.clk.Advance(unavailableRecheck)
	h.wait(Attract)
	h.gate.set(ErrDisabled)
	h.e.Send(Recheck{})
	if v := h.wait(Unavailable); v.Fault != FaultDisabled {
		t.Fatal(v.Fault)
	}
}

func TestTamperWipesAndLocks(t *testing.T) {
	h := newHarness(t)
	fc := h.toFace()
	h.e.Send(Tamper{Open: true})
	v := h.wait(Unavailable)
	if v.Fault != FaultTamper || !v.Tampered || v.Card != nil || h.e.visit != nil {
		t.Fatalf("%+v", v)
	}
	<-fc.ctx.Done()
	h.e.Send(Tamper{Open: false})
	h.e.Send(Recheck{})
	if v := h.settle(); v.State != Unavailable {
		t.Fatal("tamper lock lifted without a technician")
	}
	h.e.Send(Tap{Action: ActTechnician, PIN: "2468"})
	h.wait(Technician)
	h.tap(ActClearTamper)
	h.tap(ActDone)
	h.wait(Attract)
}

func TestTamperDuringSealingKeepsSubmitSafe(t *testing.T) {
	h := newHarness(t)
	h.sub.block = make(chan struct{})
	fc := h.toFace()
	fc.result <- faceReply{res: portraitResult()}
	h.wait(Review)
	h.tap(ActKeep)
	h.wait(Sealing)
	h.e.Send(Tamper{Open: true})
	h.wait(Unavailable)
	close(h.sub.block)
	if v := h.settle(); v.State != Unavailable || v.Receipt != nil {
		t.Fatalf("%+v", v)
	}
}

func TestSealFailure(t *testing.T) {
	h := newHarness(t)
	h.sub.err = errors.New("outbox: disk full")
	fc := h.toFace()
	fc.result <- faceReply{res: portraitResult()}
	h.wait(Review)
	h.tap(ActKeep)
	if v := h.wait(Failed); v.Fault != FaultSeal {
		t.Fatal(v.Fault)
	}
	if p := h.print.printed(); len(p) != 0 {
		t.Fatalf("a receipt was printed for an enrollment that was not saved: %+v", p)
	}
}

func TestStaleFaceResultIsWiped(t *testing.T) {
	h := newHarness(t)
	fc := h.toFace()
	h.tap(ActCancel)
	h.wait(Attract)
	r := portraitResult()
	// the capturer returns after the visit ended (a late result)
	h.e.Send(faceDone{gen: 1, res: r})
	h.settle()
	if bytes.ContainsFunc(r.Portrait, func(r rune) bool { return r != 0 }) {
		t.Fatal("late portrait not wiped")
	}
	_ = fc
}

func TestTechnicianPIN(t *testing.T) {
	h := newHarness(t)
	h.e.Send(Tap{Action: ActTechnician, PIN: "0000"})
	if v := h.settle(); v.State != Attract || v.Notice != "technician.pin_wrong" {
		t.Fatalf("%+v", v)
	}
	for i := 0; i < 4; i++ {
		h.e.Send(Tap{Action: ActTechnician, PIN: "1111"})
	}
	h.e.Send(Tap{Action: ActTechnician, PIN: "2468"})
	if v := h.settle(); v.State != Attract || v.Notice != "technician.locked" {
		t.Fatalf("not locked after 5 wrong PINs: %+v", v)
	}
	h.clk.Advance(pinLockFor)
	h.e.Send(Tap{Action: ActTechnician, PIN: "2468"})
	h.wait(Technician)
	h.clk.Advance(config.Default().Timeouts.Technician.Duration)
	h.wait(Attract)
}

func TestNotMeAndDeclineEndVisit(t *testing.T) {
	for _, c := range []struct {
		a     Action
		fault FaultKind
	}{{ActNotMe, FaultNotMe}, {ActDecline, FaultDeclined}} {
		h := newHarness(t)
		h.toDataShown()
		if c.a == ActDecline {
			h.tap(ActConfirm)
			h.wait(Consent)
		}
		h.tap(c.a)
		v := h.wait(Failed)
		if v.Fault != c.fault || v.Card != nil {
			t.Fatalf("%+v", v)
		}
		h.tap(ActDone)
		h.wait(Attract)
	}
}

func TestRunReturnsOnCancelAndWipes(t *testing.T) {
	h := newHarness(t)
	photo := h.toDataShown()
	h.cancel()
	if err := <-h.done; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	h.done <- nil // for Cleanup
	if bytes.ContainsFunc(photo, func(r rune) bool { return r != 0 }) {
		t.Fatal("shutdown did not wipe")
	}
}
