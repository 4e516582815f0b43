package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/kiosk/session"
)

// TestSoak runs scripted visits through the real engine, the reader
// simulator on a pty, sealing, the outbox, the mTLS uplink and the
// authority (a still image stands in for the camera pipeline), with faults
// mixed in: the card pulled while it is read, a citizen who stops
// answering (timeouts), the camera unplugged during a capture, and the
// authority unreachable for a stretch (a proxy in front of it refuses and
// cuts connections). At the end every completed visit is at the authority
// exactly once and nothing else is; goroutines and open files are back
// where they were after the warm-up, and the figures are printed. 40
// visits; EIDKIOSK_LONG=1 runs 10,000, with the authority down for two
// minutes every 2,000 visits; EIDKIOSK_SOAK_VISITS=n runs n.
func TestSoak(t *testing.T) {
	visits, warm, downEvery, downFor := 40, 10, 20, 3*time.Second
	if os.Getenv("EIDKIOSK_LONG") != "" {
		visits, warm, downEvery, downFor = 10000, 200, 2000, 2*time.Minute
	}
	if n, err := strconv.Atoi(os.Getenv("EIDKIOSK_SOAK_VISITS")); err == nil && n > warm {
		visits = n // a shorter or longer soak by hand
	}
	if testing.Short() {
		t.Skip("runs many visits")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	face := &flakyFace{stillFace: stillFace{sharedFace(t)}}
	var px *proxy
	env, err := Setup(ctx, Options{Dir: t.TempDir(), Face: face, Timeout: 10 * time.Minute, Config: func(c *config.Config) {
		for _, d := range []*config.Duration{&c.Timeouts.DataShown, &c.Timeouts.Consent, &c.Timeouts.Review,
			&c.Timeouts.Receipt, &c.Timeouts.Failed} {
			*d = config.D(time.Second)
		}
		c.Reader.PollInterval = config.D(100 * time.Millisecond)
		var err error
		if px, err = startProxy(strings.TrimPrefix(c.Authority.URL, "https://")); err != nil {
			t.Fatal(err)
		}
		c.Authority.URL = "https://" + px.addr
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	defer px.close()
	sysErr := make(chan error, 1)
	go func() { sysErr <- env.System.Run(ctx) }()
	if err := env.waitReader(ctx); err != nil {
		t.Fatal(err)
	}

	completed := map[string]bool{}
	kinds := map[string]int{}
	var rss0, g0, fd0 int
	start := time.Now()
	downUntil := time.Time{}
	for i := range visits {
		if i == warm {
			rss0, g0, fd0 = footprint()
		}
		if i%downEvery == downEvery/2 {
			px.setDown(true)
			downUntil = time.Now().Add(downFor)
			kinds["authority-down"]++
		}
		if !downUntil.IsZero() && time.Now().After(downUntil) {
			px.setDown(false)
			downUntil = time.Time{}
		}
		kind := "complete"
		switch i % 10 {
		case 3:
			kind = "card-pulled"
		case 6:
			kind = "timeout"
		case 8:
			kind = "camera-unplugged"
		}
		kinds[kind]++
		id, err := env.soakVisit(ctx, kind, face)
		if err != nil {
			t.Fatalf("visit %d (%s): %v", i, kind, err)
		}
		if id != "" {
			if completed[id] {
				t.Fatalf("visit %d: enrollment %s twice", i, id)
			}
			completed[id] = true
		}
	}
	elapsed := time.Since(start)
	px.setDown(false)
	// Drain: everything completed reaches the authority.
	deadline := time.Now().Add(5 * time.Minute)
	for env.System.Outbox.Stats().Pending > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained: %+v, uplink %+v", env.System.Outbox.Stats(), env.System.Uplink.Status())
		}
		time.Sleep(100 * time.Millisecond)
	}
	st := env.System.Outbox.Stats()
	if st.Refused != 0 {
		t.Fatalf("refused by the authority: %+v", st)
	}
	ids, err := env.Stack.Authority.Intake.IDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	at := map[string]int{}
	for _, id := range ids {
		at[id]++
	}
	for id := range completed {
		if at[id] != 1 {
			t.Errorf("completed enrollment %s is at the authority %d times", id, at[id])
		}
		if s, _, err := env.System.Outbox.State(ctx, id); err != nil || s != outbox.Acked {
			t.Errorf("completed enrollment %s: outbox %q %v", id, s, err)
		}
	}
	for id := range at {
		if !completed[id] {
			t.Errorf("the authority holds %s, which no visit completed", id)
		}
	}
	time.Sleep(2 * time.Second) // let connections and timers of the last visit settle
	rss1, g1, fd1 := footprint()
	t.Logf("soak: %d visits in %s (%.0f ms/visit) %v; %d completed, all at the authority once; "+
		"RSS %d → %d MiB, goroutines %d → %d, open files %d → %d (after %d warm-up visits → end; the whole stack in this process)",
		visits, elapsed.Round(time.Second), float64(elapsed.Milliseconds())/float64(visits), kinds, len(completed),
		rss0>>20, rss1>>20, g0, g1, fd0, fd1, warm)
	if g1 > g0+10 {
		t.Errorf("goroutines grew from %d to %d", g0, g1)
	}
	if fd1 > fd0+10 {
		t.Errorf("open files grew from %d to %d", fd0, fd1)
	}
	cancel()
	if err := <-sysErr; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// soakVisit runs one visit of the given kind and returns the enrollment ID
// when it completed (the receipt was shown).
func (e *Env) soakVisit(ctx context.Context, kind string, face *flakyFace) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	eng := e.System.Engine
	if _, err := e.wait(ctx, session.Attract); err != nil {
		return "", err
	}
	// A visit starts from a quiet reader: the last card is gone.
	if err := e.Stack.Reader.Place(e.opts.Card); err != nil {
		return "", err
	}
	if kind == "card-pulled" {
		// Pulled at once: while it is read, or just after (then the data
		// screen times out).
		if err := e.pull(ctx); err != nil {
			return "", err
		}
		return "", e.backToAttract(ctx)
	}
	if _, err := e.wait(ctx, session.DataShown); err != nil {
		return "", err
	}
	eng.Send(session.Tap{Action: session.ActConfirm})
	if _, err := e.wait(ctx, session.Consent); err != nil {
		return "", err
	}
	if kind == "timeout" {
		// The citizen walks away: the consent screen times out.
		if err := e.pull(ctx); err != nil {
			return "", err
		}
		return "", e.backToAttract(ctx)
	}
	if kind == "camera-unplugged" {
		face.unplugged.Store(true)
		defer face.unplugged.Store(false)
	}
	eng.Send(session.Tap{Action: session.ActAgree})
	v, err := e.wait(ctx, session.Review)
	if kind == "camera-unplugged" {
		if err == nil {
			return "", fmt.Errorf("face capture succeeded with the camera unplugged")
		}
		if err := e.pull(ctx); err != nil {
			return "", err
		}
		return "", e.backToAttract(ctx)
	}
	if err != nil {
		return "", err
	}
	eng.Send(session.Tap{Action: session.ActKeep})
	if v, err = e.wait(ctx, session.ReceiptShown); err != nil {
		return "", err
	}
	if err := e.pull(ctx); err != nil {
		return "", err
	}
	eng.Send(session.Tap{Action: session.ActDone})
	return v.Receipt.EnrollmentID, e.backToAttract(ctx)
}

// pull takes the card off the reader and waits until the kiosk has seen
// the empty reader.
func (e *Env) pull(ctx context.Context) error { return e.Stack.Reader.Pull(ctx) }

// backToAttract waits for the attract screen, answering a failure screen
// as the citizen would (done).
func (e *Env) backToAttract(ctx context.Context) error {
	for {
		v, err := e.wait(ctx, session.Attract)
		if err == nil {
			return nil
		}
		if v.State != session.Failed {
			return err
		}
		e.System.Engine.Send(session.Tap{Action: session.ActDone})
	}
}

// flakyFace is stillFace with a camera that can be unplugged.
type flakyFace struct {
	stillFace
	unplugged atomic.Bool
}

// errUnplugged is what the camera pipeline reports for a lost device.
var errUnplugged = errors.New("camera: device gone")

func (f *flakyFace) Capture(ctx context.Context, nonce []byte, report func(session.FaceProgress)) (session.FaceResult, error) {
	if f.unplugged.Load() {
		return session.FaceResult{}, errUnplugged
	}
	return f.stillFace.Capture(ctx, nonce, report)
}

// footprint is this process's RSS in bytes, goroutines and open files.
func footprint() (rss, goroutines, fds int) {
	runtime.GC()
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			rss = kb << 10
		}
	}
	ents, _ := os.ReadDir("/proc/self/fd")
	return rss, runtime.NumGoroutine(), len(ents)
}

// proxy forwards TCP to the authority; down, it refuses new connections
// and cuts the open ones (the authority unreachable).
type proxy struct {
	addr, target string
	ln           net.Listener
	mu           sync.Mutex
	down         bool
	conns        map[net.Conn]bool
}

func startProxy(target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]bool{}}
	go p.serve()
	return p, nil
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		go p.pipe(c)
	}
}

func (p *proxy) pipe(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[u] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(u, c); done <- struct{}{} }()
	go func() { io.Copy(c, u); done <- struct{}{} }()
	<-done
	c.Close()
	u.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *proxy) close() {
	if p != nil {
		p.ln.Close()
		p.setDown(true)
	}
}
