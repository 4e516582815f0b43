package ui

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"eidkiosk/idcard"
	"eidkiosk/internal/clock"
	"eidkiosk/internal/pii"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/session"
)

const testPIN = "246810"

// ---- fakes of the engine's dependencies ----

// scriptFace is a FaceCapturer the test steers: each Capture waits for a
// reply on next, reporting the progress it is given first.
type scriptFace struct{ calls chan *faceCall }

type faceCall struct {
	report func(session.FaceProgress)
	reply  chan faceReply
}

type faceReply struct {
	res session.FaceResult
	err error
}

func (f *scriptFace) Capture(ctx context.Context, nonce []byte, report func(session.FaceProgress)) (session.FaceResult, error) {
	c := &faceCall{report: report, reply: make(chan faceReply, 1)}
	select {
	case f.calls <- c:
	case <-ctx.Done():
		return session.FaceResult{}, ctx.Err()
	}
	select {
	case r := <-c.reply:
		return r.res, r.err
	case <-ctx.Done():
		return session.FaceResult{}, ctx.Err()
	}
}

type fakeSubmit struct {
	mu   sync.Mutex
	err  error
	sent bool
	n    int
}

func (s *fakeSubmit) Submit(ctx context.Context, e *session.Enrollment) (session.Receipt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return session.Receipt{}, s.err
	}
	s.n++
	return session.Receipt{EnrollmentID: "01TEST", Short: "NS01-TEST-01", QR: "eid://bind/01TEST", Queued: time.Now(), Sent: s.sent}, nil
}

type gate struct {
	mu  sync.Mutex
	err error
}

func (g *gate) Admit() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

func testPortrait() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 60, 80))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	var b bytes.Buffer
	jpeg.Encode(&b, img, nil)
	return b.Bytes()
}

func testCard(validTo time.Time) idcard.Card {
	return idcard.Card{Kind: idcard.KindResident, Name: pii.Text("禤玥珺"), Number: pii.Text("44010619560301123X"),
		Gender: "2", BirthDate: time.Date(1956, 3, 1, 0, 0, 0, 0, time.UTC), ValidTo: validTo}
}

// ---- the harness ----

type harness struct {
	t      *testing.T
	u      *UI
	e      *session.Engine
	q      *Queue
	clk    *clock.Fake
	face   *scriptFace
	sub    *fakeSubmit
	gate   *gate
	w      fyne.Window
	voice  *fakeVoice
	cancel context.CancelFunc
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	a.Settings().SetTheme(NewTheme(testFaces(t), false))
	h := &harness{t: t, q: NewQueue(), clk: clock.NewFake(time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)),
		face: &scriptFace{calls: make(chan *faceCall, 4)}, sub: &fakeSubmit{sent: true}, gate: &gate{}, voice: &fakeVoice{}}
	var uiRef struct {
		sync.Mutex
		u *UI
	}
	h.e = session.New(session.Options{
		Timeouts: config.Default().Timeouts, Face: h.face, Submit: h.sub, Gate: h.gate, Clock: h.clk,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Lang: "zh-CN", TechnicianPIN: testPIN,
		OnView: func(v session.View) {
			uiRef.Lock()
			u := uiRef.u
			uiRef.Unlock()
			if u != nil {
				u.Render(v)
			}
		},
	})
	h.u = New(Options{Engine: h.e, Do: h.q.Do, Clock: h.clk, NoTicker: true, Voice: h.voice,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	uiRef.Lock()
	uiRef.u = h.u
	uiRef.Unlock()
	h.u.Render(h.e.View())
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	done := make(chan struct{})
	go func() { h.e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; h.u.Close() })
	h.w = test.NewTempWindow(t, h.u.Content())
	h.w.SetPadded(false)
	h.w.Resize(DesignSize)
	h.waitState(session.Attract)
	return h
}

// waitState pumps the UI queue until the screen shows state s.
func (h *harness) waitState(s session.State) {
	h.t.Helper()
	if !h.q.DrainUntil(func() bool { return h.u.State() == s && h.u.cur.Seq == h.e.View().Seq }, 5*time.Second) {
		h.t.Fatalf("screen shows %s (engine %s), want %s", h.u.State(), h.e.View().State, s)
	}
}

// settle pumps until the UI shows the engine's latest view.
func (h *harness) settle() {
	h.t.Helper()
	if !h.q.DrainUntil(func() bool { return h.u.cur.Seq == h.e.View().Seq }, 5*time.Second) {
		h.t.Fatalf("UI stuck at view %d, engine at %d", h.u.cur.Seq, h.e.View().Seq)
	}
}

func (h *harness) tap(b button) {
	h.t.Helper()
	if !b.box.Visible() || !b.Visible() || b.Disabled() {
		h.t.Fatalf("button %q is not shown or disabled", b.Text)
	}
	test.Tap(b.Button)
}

func (h *harness) nextFace() *faceCall {
	h.t.Helper()
	select {
	case c := <-h.face.calls:
		return c
	case <-time.After(5 * time.Second):
		h.t.Fatal("no face capture started")
		return nil
	}
}

// shown reports whether a visible label or text on screen contains s.
func (h *harness) shown(s string) bool {
	found := false
	walk(h.u.Content(), func(o fyne.CanvasObject) {
		switch x := o.(type) {
		case *widget.Label:
			found = found || strings.Contains(x.Text, s)
		case *widget.Button:
			found = found || strings.Contains(x.Text, s)
		}
	})
	return found || strings.Contains(h.u.countdown.Text, s) || strings.Contains(h.u.step.Text, s)
}

// mustShow waits (pumping the UI) until every s is on screen: events go
// through the engine's goroutine first.
func (h *harness) mustShow(ss ...string) {
	h.t.Helper()
	for _, s := range ss {
		if !h.q.DrainUntil(func() bool { return h.shown(s) }, 3*time.Second) {
			h.t.Errorf("screen %s does not show %q", h.u.State(), s)
		}
	}
}

// walk visits every visible object of the tree.
func walk(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	if o == nil || !o.Visible() {
		return
	}
	f(o)
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			walk(c, f)
		}
	case fyne.Widget:
		if _, ok := x.(*widget.Label); ok {
			return
		}
		r := test.WidgetRenderer(x)
		for _, c := range r.Objects() {
			walk(c, f)
		}
	}
}

// startToData walks attract → card → data shown.
func (h *harness) startToData() {
	h.t.Helper()
	h.tap(h.u.attract.start)
	h.waitState(session.CardWait)
	h.e.Send(session.CardPlaced{})
	h.waitState(session.CardReading)
	h.e.Send(session.CardRead{Card: testCard(time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC))})
	h.waitState(session.DataShown)
}

func (h *harness) toFace() *faceCall {
	h.t.Helper()
	h.startToData()
	h.tap(h.u.data.isMe)
	h.waitState(session.Consent)
	h.tap(h.u.consent.agree)
	h.waitState(session.FaceCapture)
	return h.nextFace()
}

// ---- the whole visit ----

func TestWholeVisit(t *testing.T) {
	h := newHarness(t)
	h.mustShow("开通手机电子身份证全功能版", "Activate the full e-ID on your phone", "开始办理")
	// The language can be switched on every screen.
	h.tap(h.u.langBtn)
	h.settle()
	h.mustShow("Activate the full e-ID on your phone", "Start")
	h.tap(h.u.langBtn)
	h.settle()

	h.tap(h.u.attract.start)
	h.waitState(session.CardWait)
	h.mustShow("请放置身份证", "剩余 60 秒", "第 1 步，共 5 步")
	// The countdown follows the clock.
	h.clk.Advance(5 * time.Second)
	h.u.tick()
	h.mustShow("剩余 55 秒")

	h.e.Send(session.CardPlaced{})
	h.waitState(session.CardReading)
	h.mustShow("正在读取身份证")
	h.e.Send(session.CardRead{Card: testCard(time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC))})
	h.waitState(session.DataShown)
	// Masked data only: the full name and number never reach the screen.
	if h.u.data.name.Text != "禤**" || strings.Contains(h.u.data.number.Text, "0619560301") || !strings.HasSuffix(h.u.data.number.Text, "123X") {
		t.Errorf("data shown: name %q number %q", h.u.data.name.Text, h.u.data.number.Text)
	}
	if h.u.data.gender.Text != "女" || h.u.data.birth.Text != "1956" || h.u.data.valid.Text != "2031-05-01" {
		t.Errorf("data shown: %q %q %q", h.u.data.gender.Text, h.u.data.birth.Text, h.u.data.valid.Text)
	}
	if h.u.data.photo.Image != h.u.silhouette {
		t.Error("no card photo: the neutral silhouette must show")
	}
	h.tap(h.u.data.isMe)
	h.waitState(session.Consent)
	h.mustShow("个人信息使用告知", "发送哪些信息", "同意并继续", "不同意")
	h.tap(h.u.consent.agree)
	h.waitState(session.FaceCapture)
	fc := h.nextFace()
	fc.report(session.FaceProgress{Frame: image.Pt(640, 480), Guidance: []string{"face.too_dark"}})
	h.settle()
	h.mustShow("光线太暗", "未检测到人脸", "第 1 次，共 3 次")
	fc.report(session.FaceProgress{Frame: image.Pt(640, 480), Box: image.Rect(200, 100, 400, 340),
		Challenge: "challenge.turn_left", Step: 1, Steps: 2, Deadline: h.clk.Now().Add(8 * time.Second)})
	h.settle()
	h.mustShow("请向左转头", "动作 1 / 2", "已检测到人脸", "剩余 8 秒")
	if !h.u.prev.box.Visible() {
		t.Error("face box not drawn")
	}
	// An unknown challenge key falls back to the generic instruction.
	fc.report(session.FaceProgress{Frame: image.Pt(640, 480), Box: image.Rect(200, 100, 400, 340), Challenge: "challenge.whistle", Step: 2, Steps: 2})
	h.settle()
	h.mustShow("请按屏幕提示操作")
	fc.reply <- faceReply{res: session.FaceResult{Portrait: testPortrait()}}
	h.waitState(session.Review)
	h.mustShow("确认照片", "还可重拍 2 次")
	if h.u.review.portrait.Image == nil {
		t.Fatal("portrait not shown")
	}
	h.tap(h.u.review.keep)
	h.waitState(session.ReceiptShown)
	h.mustShow("办理完成", "NS01-TEST-01", "已发送至公安机关")
	if h.u.receipt.qr.Image == nil {
		t.Error("no QR code on the receipt")
	}
	// The portrait left the screen and its decoded copy is wiped.
	if h.u.review.portrait.Image != h.u.silhouette || h.u.review.decoded != nil || h.u.review.src != nil {
		t.Error("portrait kept after review")
	}
	h.tap(h.u.receipt.done)
	h.waitState(session.Attract)
	if h.u.receipt.qr.Image != nil || h.u.data.name.Text != "" {
		t.Error("receipt or card data still on the widgets after the visit")
	}
	if h.sub.n != 1 {
		t.Errorf("%d submissions", h.sub.n)
	}
}

func TestErrorPaths(t *testing.T) {
	valid := time.Date(2031, 5, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		run   func(h *harness)
		state session.State
		shows []string
	}{
		{"not me", func(h *harness) { h.startToData(); h.tap(h.u.data.notMe) }, session.Failed, []string{"信息与本人不符", "确定"}},
		{"declined", func(h *harness) {
			h.startToData()
			h.tap(h.u.data.isMe)
			h.waitState(session.Consent)
			h.tap(h.u.consent.decline)
		}, session.Failed, []string{"您未同意信息使用告知"}},
		{"card unreadable", func(h *harness) {
			h.tap(h.u.attract.start)
			h.waitState(session.CardWait)
			h.e.Send(session.CardPlaced{})
			h.waitState(session.CardReading)
			h.e.Send(session.CardReadFailed{Err: errors.New("crc")})
		}, session.Failed, []string{"未能读取身份证", "重新平放"}},
		{"card invalid", func(h *harness) {
			h.tap(h.u.attract.start)
			h.waitState(session.CardWait)
			h.e.Send(session.CardReadFailed{Err: errors.New("check digit"), Invalid: true})
		}, session.Failed, []string{"证件信息校验未通过"}},
		{"card expired", func(h *harness) {
			h.tap(h.u.attract.start)
			h.waitState(session.CardWait)
			h.e.Send(session.CardRead{Card: testCard(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))})
		}, session.Failed, []string{"身份证已过有效期"}},
		{"card removed early", func(h *harness) {
			h.tap(h.u.attract.start)
			h.waitState(session.CardWait)
			h.e.Send(session.CardPlaced{})
			h.waitState(session.CardReading)
			h.e.Send(session.CardRemoved{})
		}, session.Failed, []string{"身份证被提前移开"}},
		{"reader fault", func(h *harness) {
			h.tap(h.u.attract.start)
			h.waitState(session.CardWait)
			h.e.Send(session.ReaderFault{Err: errors.New("eof")})
		}, session.Failed, []string{"读卡器暂时无法使用"}},
		{"camera fault", func(h *harness) {
			fc := h.toFace()
			fc.reply <- faceReply{err: session.ErrCameraFault}
		}, session.Failed, []string{"摄像头暂时无法使用"}},
		{"liveness failed after retries", func(h *harness) {
			fc := h.toFace()
			for i := 1; i <= 3; i++ {
				if i > 1 {
					fc = h.nextFace()
					h.settle()
					h.mustShow("刚才没有成功，我们再试一次")
				}
				fc.reply <- faceReply{err: session.ErrLivenessFailed}
			}
		}, session.Failed, []string{"人像核验未通过"}},
		{"no portrait", func(h *harness) {
			fc := h.toFace()
			for i := 1; i <= 3; i++ {
				if i > 1 {
					fc = h.nextFace()
				}
				fc.reply <- faceReply{err: session.ErrNoPortrait}
			}
		}, session.Failed, []string{"未能拍到清晰的照片"}},
		{"sealing failed", func(h *harness) {
			h.sub.err = errors.New("disk full")
			fc := h.toFace()
			fc.reply <- faceReply{res: session.FaceResult{Portrait: testPortrait()}}
			h.waitState(session.Review)
			h.tap(h.u.review.keep)
		}, session.Failed, []string{"保存失败，信息未保存"}},
		{"authority offline: saved, will be sent", func(h *harness) {
			h.sub.sent = false
			fc := h.toFace()
			fc.reply <- faceReply{res: session.FaceResult{Portrait: testPortrait()}}
			h.waitState(session.Review)
			h.tap(h.u.review.keep)
		}, session.ReceiptShown, []string{"已安全保存，联网后自动发送"}},
		{"retake until none left", func(h *harness) {
			fc := h.toFace()
			for i := 1; i <= 3; i++ {
				if i > 1 {
					fc = h.nextFace()
				}
				fc.reply <- faceReply{res: session.FaceResult{Portrait: testPortrait()}}
				h.waitState(session.Review)
				if i < 3 {
					h.tap(h.u.review.retake)
					h.waitState(session.FaceCapture)
				}
			}
			if !h.u.review.retake.Disabled() {
				h.t.Error("retake enabled with no attempts left")
			}
		}, session.Review, []string{"已无重拍次数"}},
		{"cancel", func(h *harness) {
			h.startToData()
			h.tap(h.u.cancelBtn)
		}, session.Attract, []string{"开始办理"}},
		{"timeout", func(h *harness) {
			h.startToData()
			h.clk.Advance(61 * time.Second)
		}, session.Attract, []string{"开始办理"}},
		{"outbox full", func(h *harness) {
			h.gate.mu.Lock()
			h.gate.err = session.ErrOutboxFull
			h.gate.mu.Unlock()
			h.tap(h.u.attract.start)
		}, session.Unavailable, []string{"本机暂停服务", "存储已满"}},
		{"tampered", func(h *harness) { h.e.Send(session.Tamper{Open: true}) }, session.Unavailable, []string{"本机需要维护"}},
	}
	_ = valid
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			c.run(h)
			h.waitState(c.state)
			h.mustShow(c.shows...)
			if c.state == session.Failed {
				// Failed: OK returns to attract, the data wiped.
				h.tap(h.u.failed.ok)
				h.waitState(session.Attract)
			}
		})
	}
}

func TestTechnicianMode(t *testing.T) {
	h := newHarness(t)
	// Four taps are not enough; taps spread over more than 3 s do not count.
	for i := 0; i < 4; i++ {
		test.Tap(h.u.corner)
	}
	h.clk.Advance(4 * time.Second)
	test.Tap(h.u.corner)
	if h.u.keypad.visible {
		t.Fatal("keypad opened without the tap pattern")
	}
	enter := func(pin string) {
		for i := 0; i < tapPattern; i++ {
			test.Tap(h.u.corner)
		}
		if !h.u.keypad.visible {
			t.Fatal("keypad not opened by the tap pattern")
		}
		h.mustShow("请输入维护密码")
		if !h.u.keypad.enter.Disabled() {
			t.Error("enter enabled before 4 digits")
		}
		for _, d := range pin {
			h.tap(h.u.keypad.digits[d-'0'])
		}
		if got := h.u.keypad.dots.Text; strings.Count(got, "●") != len(pin) || strings.ContainsAny(got, "0123456789") {
			t.Errorf("PIN display %q", got)
		}
		h.tap(h.u.keypad.enter)
		if h.u.keypad.visible || len(h.u.keypad.pin) != 0 {
			t.Error("keypad still open or PIN kept after enter")
		}
	}
	enter("1111")
	h.settle()
	h.mustShow("密码错误")
	// Backspace and clear work.
	for i := 0; i < tapPattern; i++ {
		test.Tap(h.u.corner)
	}
	h.tap(h.u.keypad.digits[9])
	h.tap(h.u.keypad.back)
	h.tap(h.u.keypad.digits[9])
	h.tap(h.u.keypad.clear)
	if len(h.u.keypad.pin) != 0 {
		t.Error("clear kept digits")
	}
	h.tap(h.u.keypad.close)
	enter(testPIN)
	h.waitState(session.Technician)
	h.mustShow("技术维护", "退出维护")
	h.e.Send(session.Tamper{Open: true})
	h.settle()
	h.mustShow("机箱已打开", "解除防拆锁定")
	h.tap(h.u.tech.clearTamper)
	if !h.q.DrainUntil(func() bool { return !h.u.tech.clearTamper.box.Visible() }, 3*time.Second) {
		t.Error("clear tamper still offered after clearing")
	}
	h.tap(h.u.tech.leave)
	h.waitState(session.Attract)
}
