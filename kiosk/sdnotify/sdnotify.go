// Package sdnotify tells systemd about the kiosk's life: READY=1 once the
// kiosk runs, WATCHDOG=1 keep-alives while it is healthy, STATUS= lines for
// `systemctl status`, STOPPING=1 on the way out. It speaks the sd_notify
// datagram protocol over the socket named by $NOTIFY_SOCKET, in pure Go
// (https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html,
// "Notes" describes the wire format; "@" names an abstract socket).
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
	watchdog time.Duration // from $WATCHDOG_USEC when meant for this process
}

// FromEnv reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID with
// getenv (os.Getenv in production) for process pid.
func FromEnv(getenv func(string) string, pid int) *Notifier {
	n := &Notifier{socket: getenv("NOTIFY_SOCKET")}
	if us, err := strconv.ParseInt(getenv("WATCHDOG_USEC"), 10, 64); err == nil && us > 0 {
		wpid := getenv("WATCHDOG_PID")
		if wpid == "" || wpid == strconv.Itoa(pid) {
			n.watchdog = time.Duration(us) * time.Microsecond
		}
	}
	return n
}

// New returns the Notifier for this process from its environment.
func New() *Notifier { return FromEnv(os.Getenv, os.Getpid()) }

// Enabled reports whether a notification socket is set.
func (n *Notifier) Enabled() bool { return n != nil && n.socket != "" }

// WatchdogInterval is systemd's WatchdogSec for this process; 0 when the
// unit has no watchdog.
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

// ErrUnhealthy wraps the health error that made RunWatchdog withhold a
// keep-alive.
var ErrUnhealthy = errors.New("sdnotify: unhealthy, keep-alive withheld")

// RunWatchdog sends WATCHDOG=1 every half watchdog interval while healthy
// returns nil, until ctx ends. When healthy returns an error, the keep-alive
// is withheld (so systemd restarts the kiosk if it does not recover within
// WatchdogSec) and the reason goes to STATUS= and to onUnhealthy, which may
// be nil. Without a watchdog it returns at once. It returns ctx's error.
func (n *Notifier) RunWatchdog(ctx context.Context, clk clock.Clock, healthy func() error, onUnhealthy func(error)) error {
	every := n.WatchdogInterval() / 2
	if every <= 0 || !n.Enabled() {
		return nil
	}
	var mu sync.Mutex
	var t clock.Timer
	var tick func()
	tick = func() {
		if ctx.Err() != nil {
			return
		}
		if err := healthy(); err != nil {
			_ = n.Status("unhealthy: " + err.Error())
			if onUnhealthy != nil {
				onUnhealthy(fmt.Errorf("%w: %w", ErrUnhealthy, err))
			}
		} else if err := n.Watchdog(); err != nil && onUnhealthy != nil {
			onUnhealthy(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() == nil {
			t = clk.AfterFunc(every, tick)
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
