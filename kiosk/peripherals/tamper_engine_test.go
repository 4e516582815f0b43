package peripherals_test

import (
	"bytes"
	"context"
	"image"
	"log/slog"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	gpiodrv "eidkiosk/drivers/gpio"
	"eidkiosk/idcard"
	"eidkiosk/internal/clock"
	"eidkiosk/internal/pii"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/peripherals"
	"eidkiosk/kiosk/session"
)

var discard = slog.New(slog.DiscardHandler)

// switchPin is an input whose level only the test sets, like a real switch
// that overpowers the pull resistor (gpiotest.Pin's In would pull it).
type switchPin struct{ *gpiotest.Pin }

func (s switchPin) In(gpio.Pull, gpio.Edge) error { return nil }

func out(name string) *gpiotest.Pin { return &gpiotest.Pin{N: name} }

// capturer hands out one portrait per Capture, after the test says so.
type capturer struct {
	started chan context.Context
	result  chan session.FaceResult
}

func (c *capturer) Capture(ctx context.Context, nonce []byte, report func(session.FaceProgress)) (session.FaceResult, error) {
	c.started <- ctx
	select {
	case r := <-c.result:
		return r, nil
	case <-ctx.Done():
		return session.FaceResult{}, ctx.Err()
	}
}

type refuseSubmit struct {
	mu    sync.Mutex
	calls int
}

func (s *refuseSubmit) Submit(ctx context.Context, e *session.Enrollment) (session.Receipt, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	return session.Receipt{}, context.Canceled
}

func allZero(b []byte) bool { return !bytes.ContainsFunc(b, func(r rune) bool { return r != 0 }) }

// TestTamperDuringVisitWithEngine opens the enclosure while a citizen's
// portrait is on the review screen, with the real session engine driven by
// these peripherals: the debounced tamper event reaches the engine, which
// wipes the visit and locks; the LEDs show the tamper, the authority hook is
// called, and nothing of the visit remains.
func TestTamperDuringVisitWithEngine(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	red, green, amber, ir, buzz := out("R"), out("G"), out("A"), out("IR"), out("B")
	// Unbuffered: a send returns once the watcher took the edge.
	tamper := switchPin{&gpiotest.Pin{N: "TAMPER", L: gpio.Low, EdgesChan: make(chan gpio.Level)}}
	samples := make(chan bool, 4096)
	var hookMu sync.Mutex
	var hook []bool
	periph := gpiodrv.New(gpiodrv.Pins{
		Green: &gpiodrv.Out{Key: "led_green", Pin: green}, Amber: &gpiodrv.Out{Key: "led_amber", Pin: amber},
		Red: &gpiodrv.Out{Key: "led_red", Pin: red}, Buzzer: &gpiodrv.Out{Key: "buzzer", Pin: buzz},
		IR:     &gpiodrv.Out{Key: "ir_light", Pin: ir},
		Tamper: &gpiodrv.In{Key: "tamper", Pin: tamper},
	}, gpiodrv.Options{Clock: clk, Log: discard, EdgeWait: 20 * time.Millisecond,
		OnTamper: func(open bool, at time.Time) {
			hookMu.Lock()
			hook = append(hook, open)
			hookMu.Unlock()
		},
		OnSample: func(r gpiodrv.Reading) {
			select {
			case samples <- r.Active:
			default:
			}
		}})
	waitSample := func(active bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case s := <-samples:
				if s == active {
					return
				}
			case <-deadline:
				t.Fatalf("tamper not sampled at %v", active)
			}
		}
	}

	var logs bytes.Buffer
	var logMu sync.Mutex
	face := &capturer{started: make(chan context.Context, 1), result: make(chan session.FaceResult, 1)}
	sub := &refuseSubmit{}
	views := make(chan session.View, 1024)
	eng := session.New(session.Options{
		Timeouts: config.Default().Timeouts, Face: face, Submit: sub, Signals: peripherals.Signals{P: periph}, Clock: clk,
		Logger:        slog.New(slog.NewTextHandler(syncWriter{&logMu, &logs}, nil)),
		TechnicianPIN: "2468", OnView: func(v session.View) { views <- v },
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	engDone, watchDone := make(chan error, 1), make(chan error, 1)
	go func() { engDone <- eng.Run(ctx) }()
	go func() { watchDone <- periph.Watch(ctx, peripherals.Inputs(eng.Send)) }()
	wait := func(s session.State) session.View {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case v := <-views:
				if v.State == s {
					return v
				}
			case <-deadline:
				t.Fatalf("state %v not reached (now %v)", s, eng.View().State)
			}
		}
	}
	wait(session.Attract)
	waitSample(false)
	clk.Advance(50 * time.Millisecond) // the closed enclosure is reported once stable

	// A visit up to the portrait review.
	number := "990101199003071237"
	photo := bytes.Repeat([]byte{0x57}, 1024)
	text := bytes.Repeat([]byte{0x20, 0x4e}, 128)
	decoded := image.NewRGBA(image.Rect(0, 0, 102, 126))
	for i := range decoded.Pix {
		decoded.Pix[i] = 0x80
	}
	eng.Send(session.Tap{Action: session.ActStart})
	wait(session.CardWait)
	eng.Send(session.CardPlaced{})
	wait(session.CardReading)
	eng.Send(session.CardRead{Card: idcard.Card{Kind: idcard.KindResident, Name: pii.Text("张三"), Number: pii.Text(number),
		Address: pii.Text("北京市东城区示例路1号"), BirthDate: time.Date(1990, 3, 7, 0, 0, 0, 0, time.UTC),
		ValidTo: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC), Text: text, Photo: photo}, Photo: decoded})
	if v := wait(session.DataShown); v.Card == nil {
		t.Fatal("no card shown")
	}
	eng.Send(session.Tap{Action: session.ActConfirm})
	wait(session.Consent)
	eng.Send(session.Tap{Action: session.ActAgree})
	wait(session.FaceCapture)
	faceCtx := <-face.started
	if ir.Read() != gpio.High {
		t.Fatal("IR light off during face capture")
	}
	portrait := bytes.Repeat([]byte{0xd8}, 4096)
	evidence := bytes.Repeat([]byte{0xd9}, 512)
	face.result <- session.FaceResult{Portrait: portrait, Liveness: session.Liveness{Live: true, Evidence: [][]byte{evidence}}}
	if v := wait(session.Review); len(v.Portrait) == 0 {
		t.Fatal("no portrait under review")
	}
	if ir.Read() != gpio.Low || amber.Read() != gpio.High {
		t.Fatal("review: IR should be off and the amber (busy) LED on")
	}

	// The enclosure is opened, with contact bounce.
	tamper.EdgesChan <- gpio.High
	waitSample(true)
	clk.Advance(3 * time.Millisecond)
	tamper.EdgesChan <- gpio.Low
	waitSample(false)
	clk.Advance(3 * time.Millisecond)
	tamper.EdgesChan <- gpio.High
	waitSample(true)
	clk.Advance(50 * time.Millisecond)

	v := wait(session.Unavailable)
	if v.Fault != session.FaultTamper || !v.Tampered {
		t.Fatalf("view after tamper %+v", v)
	}
	// Nothing of the visit remains: not in the view, not in the buffers the
	// engine held.
	if v.Card != nil || v.Portrait != nil || v.Receipt != nil {
		t.Fatalf("the locked view still carries the visit: card %v portrait %d receipt %v", v.Card, len(v.Portrait), v.Receipt)
	}
	for name, b := range map[string][]byte{"card photo": photo, "card text": text, "portrait": portrait, "evidence": evidence, "decoded photo": decoded.Pix} {
		if !allZero(b) {
			t.Errorf("%s not wiped", name)
		}
	}
	if faceCtx.Err() == nil {
		t.Error("face capture still running")
	}
	if sub.calls != 0 {
		t.Error("the visit was submitted")
	}
	logMu.Lock()
	for _, secret := range []string{"张三", number, "北京市东城区"} {
		if bytes.Contains(logs.Bytes(), []byte(secret)) {
			t.Errorf("log contains %q", secret)
		}
	}
	logMu.Unlock()

	// The peripherals show it, and the authority hook heard it.
	ind := periph.Indication()
	if !ind.Tamper || ind.Red != gpiodrv.BlinkFast.Name || ind.Mode != gpiodrv.ModeFault || ind.IR {
		t.Fatalf("indication %+v", ind)
	}
	if green.Read() != gpio.Low || amber.Read() != gpio.Low {
		t.Fatal("green/amber lit while locked")
	}
	hookMu.Lock()
	if len(hook) != 2 || hook[0] || !hook[1] {
		t.Fatalf("OnTamper calls %v, want [false true]", hook)
	}
	hookMu.Unlock()

	// Closing the enclosure does not unlock it: a technician must.
	tamper.EdgesChan <- gpio.Low
	waitSample(false)
	clk.Advance(50 * time.Millisecond)
	eng.Send(session.Recheck{})
	time.Sleep(20 * time.Millisecond)
	if s := eng.View().State; s != session.Unavailable {
		t.Fatalf("unlocked by closing the enclosure: %v", s)
	}
	if ind := periph.Indication(); ind.Tamper || ind.Red != gpiodrv.Steady.Name {
		t.Fatalf("after closing: %+v, want steady red (locked, no longer open)", ind)
	}

	cancel()
	for _, ch := range []chan error{engDone, watchDone} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("engine or watcher did not stop")
		}
	}
}

type syncWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (s syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
