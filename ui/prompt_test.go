package ui

import (
	"image"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/session"
)

// newOffline is a UI fed with views directly (no engine).
func newOffline(t *testing.T, o Options) (*UI, *Queue) {
	t.Helper()
	a := test.NewTempApp(t)
	a.Settings().SetTheme(NewTheme(testFaces(t), false))
	q := NewQueue()
	o.Do = q.Do
	o.NoTicker = true
	if o.Clock == nil {
		o.Clock = clock.NewFake(time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC))
	}
	u := New(o)
	t.Cleanup(u.Close)
	w := test.NewTempWindow(t, u.Content())
	w.Resize(DesignSize)
	return u, q
}

func TestPromptPerScreen(t *testing.T) {
	fv := &fakeVoice{}
	clk := clock.NewFake(time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC))
	u, q := newOffline(t, Options{Voice: fv, Clock: clk})
	fv.take()
	show := func(v session.View) []string {
		t.Helper()
		if v.Lang == "" {
			v.Lang = "zh-CN"
		}
		u.Render(v)
		q.Drain()
		return fv.take()
	}
	one := func(v session.View, want ...string) {
		t.Helper()
		got := show(v)
		if len(got) != 1 {
			t.Fatalf("%s: spoke %q, want one prompt", v.State, got)
		}
		for _, w := range want {
			if !strings.Contains(got[0], w) {
				t.Errorf("%s: spoke %q, want it to contain %q", v.State, got[0], w)
			}
		}
	}
	none := func(v session.View) {
		t.Helper()
		if got := show(v); len(got) != 0 {
			t.Errorf("%s: spoke %q, want silence", v.State, got)
		}
	}
	// Attract talks only to someone standing in front of it.
	none(session.View{State: session.Attract})
	one(session.View{State: session.Attract, Present: true}, "zh-CN|开通手机电子身份证全功能版", "开始办理")
	// The same screen is not repeated on every view (countdown, progress).
	none(session.View{State: session.Attract, Present: true, Seq: 9})
	one(session.View{State: session.Attract, Present: true, Lang: "en"}, "en|Activate the full e-ID", "Tap")
	one(session.View{State: session.CardWait}, "zh-CN|请放置身份证。将身份证平放在屏幕下方的读卡区，放好后请勿移动。")
	one(session.View{State: session.CardReading}, "正在读取身份证")
	one(session.View{State: session.DataShown}, "请核对您的证件信息")
	one(session.View{State: session.Consent}, "个人信息使用告知")
	one(session.View{State: session.FaceCapture}, "请看着摄像头")
	one(session.View{State: session.FaceCapture, Face: session.FaceProgress{Challenge: "challenge.blink"}}, "请眨眨眼")
	one(session.View{State: session.FaceCapture, Face: session.FaceProgress{Challenge: "challenge.smile"}}, "请微笑")
	// An unknown challenge is spoken as the generic instruction.
	one(session.View{State: session.FaceCapture, Face: session.FaceProgress{Challenge: "challenge.new"}}, "请按屏幕提示操作")
	// Guidance is spoken, but not more often than every guidanceGap.
	g := func(k string) session.View {
		return session.View{State: session.FaceCapture, Face: session.FaceProgress{Guidance: []string{k}, Frame: image.Pt(4, 3)}}
	}
	clk.Advance(guidanceGap)
	one(g("face.move_closer"), "请靠近一点")
	none(g("face.too_dark"))
	clk.Advance(guidanceGap)
	one(g("face.look_straight"), "请正视摄像头")
	one(session.View{State: session.FaceCapture, Retry: true, Attempt: 2}, "刚才没有成功")
	one(session.View{State: session.Review}, "确认照片")
	one(session.View{State: session.Sealing}, "正在加密保存")
	one(session.View{State: session.ReceiptShown, Receipt: &session.Receipt{Sent: true, Short: "X"}}, "办理完成", "已发送至公安机关", "取回")
	one(session.View{State: session.ReceiptShown, Receipt: &session.Receipt{Sent: false, Short: "X"}, Lang: "en"},
		"en|Done. Saved securely; it is sent automatically when the network is back. Please take your ID card.")
	for _, f := range []session.FaultKind{session.FaultReader, session.FaultLiveness, session.FaultOutboxFull, session.FaultUpdating} {
		st := session.Failed
		if f == session.FaultOutboxFull || f == session.FaultUpdating {
			st = session.Unavailable
		}
		one(session.View{State: st, Fault: f}, u.cat.T("zh-CN", "fault."+f.String()+".title"), u.cat.T("zh-CN", "fault."+f.String()+".what"))
	}
	none(session.View{State: session.Technician})
}

func TestCountdownRoundsUp(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC))
	u, q := newOffline(t, Options{Clock: clk})
	u.Render(session.View{State: session.CardWait, Lang: "en", Deadline: clk.Now().Add(10 * time.Second)})
	q.Drain()
	for _, c := range []struct {
		step time.Duration
		want string
	}{{0, "10 s left"}, {300 * time.Millisecond, "10 s left"}, {700 * time.Millisecond, "9 s left"}, {9 * time.Second, "0 s left"}, {time.Hour, "0 s left"}} {
		clk.Advance(c.step)
		u.tick()
		if u.countdown.Text != c.want {
			t.Errorf("after +%v: %q, want %q", c.step, u.countdown.Text, c.want)
		}
	}
	u.Render(session.View{State: session.Attract, Lang: "en"})
	q.Drain()
	if u.countdown.Text != "" {
		t.Errorf("attract shows countdown %q", u.countdown.Text)
	}
}
