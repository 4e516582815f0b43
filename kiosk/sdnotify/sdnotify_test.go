package sdnotify

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"eidkiosk/internal/clock"
)

// listen opens a unixgram socket like systemd's notify socket.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func shortDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "sdn") // socket paths are limited to 107 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	return string(buf[:n])
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestNotifyOverSocket(t *testing.T) {
	path := filepath.Join(shortDir(t), "notify")
	srv := listen(t, path)
	n := FromEnv(env(map[string]string{"NOTIFY_SOCKET": path}), 42)
	if !n.Enabled() {
		t.Fatal("not enabled with NOTIFY_SOCKET set")
	}
	if err := n.Ready("serving\nvisits"); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, srv); got != "READY=1\nSTATUS=serving visits" {
		t.Fatalf("got %q", got)
	}
	for _, c := range []struct {
		f    func() error
		want string
	}{
		{n.Watchdog, "WATCHDOG=1"}, {n.Stopping, "STOPPING=1"},
		{func() error { return n.Status("outbox 3 queued") }, "STATUS=outbox 3 queued"},
	} {
		f, want := c.f, c.want
		if err := f(); err != nil {
			t.Fatal(err)
		}
		if got := recv(t, srv); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func TestAbstractSocket(t *testing.T) {
	name := "@eidkiosk-test-" + filepath.Base(shortDir(t))
	srv := listen(t, name)
	n := FromEnv(env(map[string]string{"NOTIFY_SOCKET": name}), 1)
	if err := n.Watchdog(); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, srv); got != "WATCHDOG=1" {
		t.Fatalf("got %q", got)
	}
}

func TestOutsideSystemdIsNoop(t *testing.T) {
	n := FromEnv(env(nil), 1)
	if n.Enabled() || n.Ready("x") != nil || n.Watchdog() != nil || n.WatchdogInterval() != 0 {
		t.Fatal("should do nothing outside systemd")
	}
	var nilN *Notifier
	if nilN.Notify("READY=1") != nil || nilN.Enabled() {
		t.Fatal("nil notifier should do nothing")
	}
	if err := n.RunWatchdog(context.Background(), clock.NewFake(time.Now()), func() error { return nil }, nil); err != nil {
		t.Fatal(err)
	}
}

func TestMissingSocketIsAnError(t *testing.T) {
	n := FromEnv(env(map[string]string{"NOTIFY_SOCKET": filepath.Join(shortDir(t), "gone")}), 1)
	err := n.Ready("x")
	if err == nil || !strings.HasPrefix(err.Error(), "sdnotify: ") {
		t.Fatalf("err = %v", err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	cases := []struct {
		usec, pid string
		want      time.Duration
	}{
		{"30000000", "", 30 * time.Second},
		{"30000000", "7", 30 * time.Second},
		{"30000000", "8", 0}, // meant for another process
		{"junk", "", 0},
		{"", "", 0},
	}
	for _, c := range cases {
		n := FromEnv(env(map[string]string{"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": c.usec, "WATCHDOG_PID": c.pid}), 7)
		if got := n.WatchdogInterval(); got != c.want {
			t.Errorf("usec %q pid %q: %v, want %v", c.usec, c.pid, got, c.want)
		}
	}
}

func TestRunWatchdogPingsOnlyWhileHealthy(t *testing.T) {
	path := filepath.Join(shortDir(t), "notify")
	srv := listen(t, path)
	n := FromEnv(env(map[string]string{"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000"}), 1)
	clk := clock.NewFake(time.Unix(0, 0))
	var sick atomic.Bool
	var reported atomic.Value
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- n.RunWatchdog(ctx, clk, func() error {
			if sick.Load() {
				return errors.New("engine stuck")
			}
			return nil
		}, func(err error) { reported.Store(err) })
	}()
	for clk.Pending() == 0 {
		time.Sleep(time.Millisecond)
	}
	clk.Advance(0)
	if got := recv(t, srv); got != "WATCHDOG=1" {
		t.Fatalf("first ping %q", got)
	}
	clk.Advance(5 * time.Second) // half of WatchdogSec
	if got := recv(t, srv); got != "WATCHDOG=1" {
		t.Fatalf("second ping %q", got)
	}
	sick.Store(true)
	clk.Advance(5 * time.Second)
	if got := recv(t, srv); got != "STATUS=unhealthy: engine stuck" {
		t.Fatalf("while unhealthy got %q, want a status and no keep-alive", got)
	}
	if err, _ := reported.Load().(error); !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("onUnhealthy got %v", err)
	}
	sick.Store(false)
	clk.Advance(5 * time.Second)
	if got := recv(t, srv); got != "WATCHDOG=1" {
		t.Fatalf("after recovery %q", got)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("RunWatchdog returned %v", err)
	}
}
