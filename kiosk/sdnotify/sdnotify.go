// Package sdnotify tells systemd about the kiosk's life: READY=1 once the
// kiosk is healthy (its engine runs), WATCHDOG=1 keep-alives while it stays
// healthy, a STATUS= line for `systemctl status` that is always the current
// one, STOPPING=1 on the way out. It speaks the sd_notify datagram protocol
// over the socket named by $NOTIFY_SOCKET, in pure Go
// (https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html,
// "Notes" describes the wire format; "@" names an abstract socket).
//
// The unit is the contract, not the process ID: the kiosk runs as a child
// of cage (the unit's main process), so systemd's $WATCHDOG_PID names cage,
// and the unit's NotifyAccess=all lets the kiosk feed the watchdog anyway.
// The keep-alives are therefore sent whatever $WATCHDOG_PID says.
//
// Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op. It does not
// pass file descriptors (FDSTORE) and does not read the watchdog of other
// processes.
package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"eidkiosk/internal/clock"
)

// Notifier sends notifications to systemd. The zero value (and a nil
// *Notifier) sends nothing.
type Notifier struct {
	socket   string        // $NOTIFY_SOCKET; "" outside systemd
	watchdog time.Duration // $WATCHDOG_USEC: the unit's WatchdogSec
}

// FromEnv reads $NOTIFY_SOCKET and $WATCHDOG_USEC with getenv (os.Getenv in
// production). $WATCHDOG_PID is deliberately not compared with this
// process: under cage it names cage, and the unit (NotifyAccess=all)
// accepts keep-alives from every process in it.
func FromEnv(getenv func(string) string) *Notifier {
	n := &Notifier{socket: getenv("NOTIFY_SOCKET")}
	if us, err := strconv.ParseInt(getenv("WATCHDOG_USEC"), 10, 64); err == nil && us > 0 {
		n.watchdog = time.Duration(us) * time.Microsecond
	}
	return n
}

// New returns the Notifier for this process from its environment.
func New() *Notifier { return FromEnv(os.Getenv) }

// Enabled reports whether a notification socket is set.
func (n *Notifier) Enabled() bool { return n != nil && n.socket != "" }

// WatchdogInterval is the unit's WatchdogSec; 0 when the unit has no
// watchdog.
func (n *Notifier) WatchdogInterval() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog
}

// Notify sends one datagram of newline-separated assignments, e.g.
// "READY=1\nSTATUS=running". It returns nil outside systemd.
func (n *Notifier) Notify(state string) error {
	if !n.Enabled() {
		return nil
	}
	addr := &net.UnixAddr{Name: n.socket, Net: "unixgram"} // Go maps a leading '@' to the abstract namespace
	c, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	return nil
}

// Ready tells systemd that start-up finished, with a status line.
func (n *Notifier) Ready(status string) error {
	return n.Notify("READY=1\nSTATUS=" + oneLine(status))
}

// Status sets the line `systemctl status` shows.
func (n *Notifier) Status(status string) error { return n.Notify("STATUS=" + oneLine(status)) }

// Stopping tells systemd the kiosk is shutting down.
func (n *Notifier) Stopping() error { return n.Notify("STOPPING=1") }

// Watchdog sends one keep-alive.
func (n *Notifier) Watchdog() error { return n.Notify("WATCHDOG=1") }

func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

// ErrUnhealthy wraps the health error that made Supervise withhold READY=1
// or a keep-alive.
var ErrUnhealthy = errors.New("sdnotify: unhealthy, keep-alive withheld")

// ReadyPoll is how often Supervise checks health before the first READY=1.
const ReadyPoll = 100 * time.Millisecond

// Health is what Supervise reports.
type Health struct {
	// Check returns nil while the kiosk is healthy (required).
	Check func() error
	// Status is the STATUS= line while healthy, asked afresh at every
	// tick; nil leaves the line as it is.
	Status func() string
	// OnUnhealthy is told why READY=1 or a keep-alive was withheld, and
	// of failed sends; may be nil.
	OnUnhealthy func(error)
}

// Supervise reports the kiosk's health to systemd until ctx ends, and
// returns ctx's error. It checks health every ReadyPoll until the first
// healthy check, which sends READY=1 (so the unit becomes active only once
// the engine runs; meanwhile STATUS=starting: <reason>). After that, every
// half watchdog interval, a healthy check sends WATCHDOG=1 with the current
// STATUS= line, and an unhealthy one withholds the keep-alive (systemd
// restarts the kiosk if it does not recover within WatchdogSec), sets
// STATUS=unhealthy: <reason> and tells OnUnhealthy. Without a watchdog it
// keeps the status current every 15 s. Outside systemd it returns at once.
func (n *Notifier) Supervise(ctx context.Context, clk clock.Clock, h Health) error {
	if !n.Enabled() {
		return nil
	}
	every := n.WatchdogInterval() / 2
	if every <= 0 {
		every = 15 * time.Second
	}
	ready := false
	lastStarting := ""
	var mu sync.Mutex
	var t clock.Timer
	var tick func()
	tick = func() {
		if ctx.Err() != nil {
			return
		}
		switch err := h.Check(); {
		case err != nil && !ready:
			if st := "starting: " + err.Error(); st != lastStarting {
				lastStarting = st
				n.report(h, n.Status(st))
			}
		case err != nil:
			err = fmt.Errorf("%w: %w", ErrUnhealthy, err)
			n.report(h, n.Status("unhealthy: "+err.Error()))
			if h.OnUnhealthy != nil {
				h.OnUnhealthy(err)
			}
		default:
			var parts []string
			if !ready {
				ready = true
				parts = append(parts, "READY=1")
			}
			if n.WatchdogInterval() > 0 {
				parts = append(parts, "WATCHDOG=1")
			}
			if h.Status != nil {
				parts = append(parts, "STATUS="+oneLine(h.Status()))
			}
			if len(parts) > 0 {
				n.report(h, n.Notify(strings.Join(parts, "\n")))
			}
		}
		next := every
		if !ready {
			next = ReadyPoll
		}
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() == nil {
			t = clk.AfterFunc(next, tick)
		}
	}
	mu.Lock()
	t = clk.AfterFunc(0, tick)
	mu.Unlock()
	<-ctx.Done()
	mu.Lock()
	t.Stop()
	mu.Unlock()
	return ctx.Err()
}

// report passes a failed send to OnUnhealthy.
func (n *Notifier) report(h Health, err error) {
	if err != nil && h.OnUnhealthy != nil {
		h.OnUnhealthy(err)
	}
}
