package gpio

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"eidkiosk/internal/clock"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

// change is one write to an output pin, at fake-clock time since t0.
type change struct {
	At time.Duration
	L  gpio.Level
}

func (c change) String() string { return fmt.Sprintf("%v@%v", c.L, c.At) }

// recPin is a gpiotest pin that records every write with the fake time.
type recPin struct {
	*gpiotest.Pin
	clk *clock.Fake

	mu  sync.Mutex
	log []change
}

func newRec(name string, clk *clock.Fake) *recPin {
	return &recPin{Pin: &gpiotest.Pin{N: name}, clk: clk}
}

func (r *recPin) Out(l gpio.Level) error {
	r.mu.Lock()
	r.log = append(r.log, change{r.clk.Now().Sub(t0), l})
	r.mu.Unlock()
	return r.Pin.Out(l)
}

// changes returns the recorded writes where the level changed, from the
// given fake time on, and forgets older ones.
func (r *recPin) changes() []change {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []change
	for i, c := range r.log {
		if i > 0 && r.log[i-1].L == c.L {
			continue
		}
		out = append(out, c)
	}
	return out
}

func (r *recPin) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = nil
}

func (r *recPin) level() gpio.Level { return r.Pin.Read() }

// switchPin is an input whose level is set by the test, like a real switch
// that overpowers the pull resistor: In does not change the level.
type switchPin struct {
	*gpiotest.Pin
	mu       sync.Mutex
	pull     gpio.Pull
	noEdges  bool
	noPull   bool // like sysfs GPIO: only PullNoChange
	setupErr error
}

func newSwitch(name string, l gpio.Level, edges bool) *switchPin {
	p := &switchPin{Pin: &gpiotest.Pin{N: name, L: l}, noEdges: !edges}
	if edges {
		p.EdgesChan = make(chan gpio.Level) // unbuffered: a send returns once the watcher took it
	}
	return p
}

func (s *switchPin) In(pull gpio.Pull, edge gpio.Edge) error {
	if s.setupErr != nil {
		return s.setupErr
	}
	if edge != gpio.NoEdge && s.noEdges {
		return fmt.Errorf("gpiotest: no edge support")
	}
	if s.noPull && pull != gpio.PullNoChange && pull != gpio.Float {
		return fmt.Errorf("gpiotest: doesn't support pull-up/pull-down")
	}
	s.mu.Lock()
	s.pull = pull
	s.mu.Unlock()
	return nil
}

func (s *switchPin) set(l gpio.Level) { _ = s.Pin.Out(l) }

func (s *switchPin) gotPull() gpio.Pull {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pull
}

// step advances clk by total in 5ms steps so that recorded writes carry
// their scheduled time.
func step(clk *clock.Fake, total time.Duration) {
	for d := time.Duration(0); d < total; d += 5 * time.Millisecond {
		clk.Advance(5 * time.Millisecond)
	}
}

func expect(t *testing.T, what string, got []change, want ...change) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got  %v\n want %v", what, got, want)
	}
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// logBuf is a slog logger writing text into a buffer, for checking what is
// logged.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))
