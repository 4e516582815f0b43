package sdnotify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
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
	n := FromEnv(env(map[string]string{"NOTIFY_SOCKET": path}))
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
	n := FromEnv(env(map[string]string{"NOTIFY_SOCKET": name}))
	if err := n.Watchdog(); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, srv); got != "WATCHDOG=1" {
		t.Fatalf("got %q", got)
	}
}

func TestOutsideSystemdIsNoop(t *testing.T) {
	n := FromEnv(env(nil))
	if n.Enabled() || n.Ready("x") != nil || n.Watchdog() != nil || n.WatchdogInterval() != 0 {
		t.Fatal("should do nothing outside systemd")
	}
	var nilN *Notifier
	if nilN.Notify("READY=1") != nil || nilN.Enabled() {
		t.Fatal("nil notifier should do nothing")
	}
	if err := n.Supervise(context.Background(), clock.NewFake(time.Now()), Health{Check: func() error { return nil }}); err != nil {
		t.Fatal(err)
	}
}

func TestMissingSocketIsAnError(t *testing.T) {
	n := FromEnv(env(map[string]string{"NOTIFY_SOCKET": filepath.Join(shortDir(t), "gone")}))
	err := n.Ready("x")
	if err == nil || !strings.HasPrefix(err.Error(), "sdnotify: ") {
		t.Fatalf("err = %v", err)
	}
}

func TestWatchdogIntervalWhateverThePID(t *testing.T) {
	cases := []struct {
		usec, pid string
		want      time.Duration
	}{
		{"30000000", "", 30 * time.Second},
		{"30000000", "7", 30 * time.Second},
		{"30000000", "8", 30 * time.Second}, // cage's PID: the unit is the contract
		{"junk", "", 0},
		{"", "", 0},
	}
	for _, c := range cases {
		n := FromEnv(env(map[string]string{"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": c.usec, "WATCHDOG_PID": c.pid}))
		if got := n.WatchdogInterval(); got != c.want {
			t.Errorf("usec %q pid %q: %v, want %v", c.usec, c.pid, got, c.want)
		}
	}
}

// supervise starts Supervise on a fake clock against a socket, with a
// health that fails while sick holds a reason.
func supervise(t *testing.T, vars map[string]string, sick *atomic.Value, status *atomic.Value, reported *atomic.Value) (*net.UnixConn, *clock.Fake, func() error) {
	t.Helper()
	path := filepath.Join(shortDir(t), "notify")
	srv := listen(t, path)
	vars["NOTIFY_SOCKET"] = path
	n := FromEnv(env(vars))
	clk := clock.NewFake(time.Unix(0, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- n.Supervise(ctx, clk, Health{
			Check: func() error {
				if why, _ := sick.Load().(string); why != "" {
					return errors.New(why)
				}
				return nil
			},
			Status:      func() string { return status.Load().(string) },
			OnUnhealthy: func(err error) { reported.Store(err) },
		})
	}()
	for clk.Pending() == 0 {
		time.Sleep(time.Millisecond)
	}
	return srv, clk, func() error { cancel(); return <-done }
}

func TestSuperviseReadyOnlyOnceHealthy(t *testing.T) {
	var sick, status, reported atomic.Value
	sick.Store("session engine not running")
	status.Store("kiosk running, version 1.2.3")
	srv, clk, stop := supervise(t, map[string]string{"WATCHDOG_USEC": "10000000"}, &sick, &status, &reported)
	clk.Advance(0)
	if got := recv(t, srv); got != "STATUS=starting: session engine not running" {
		t.Fatalf("before the engine runs got %q, want a starting status and no READY", got)
	}
	clk.Advance(ReadyPoll) // the same reason is not sent again
	sick.Store("")
	clk.Advance(ReadyPoll)
	if got := recv(t, srv); got != "READY=1\nWATCHDOG=1\nSTATUS=kiosk running, version 1.2.3" {
		t.Fatalf("once healthy got %q", got)
	}
	if err, _ := reported.Load().(error); err != nil {
		t.Fatalf("a slow start was reported as unhealthy: %v", err)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Supervise returned %v", err)
	}
}

func TestSuperviseKeepAlivesOnlyWhileHealthyStatusCurrent(t *testing.T) {
	var sick, status, reported atomic.Value
	sick.Store("")
	status.Store("kiosk running")
	srv, clk, stop := supervise(t, map[string]string{"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": "1"}, &sick, &status, &reported)
	clk.Advance(0)
	if got := recv(t, srv); got != "READY=1\nWATCHDOG=1\nSTATUS=kiosk running" {
		t.Fatalf("first message %q", got)
	}
	status.Store("kiosk running; outbox 2 queued")
	clk.Advance(5 * time.Second) // half of WatchdogSec
	if got := recv(t, srv); got != "WATCHDOG=1\nSTATUS=kiosk running; outbox 2 queued" {
		t.Fatalf("second keep-alive %q", got)
	}
	sick.Store("engine stuck")
	clk.Advance(5 * time.Second)
	if got := recv(t, srv); got != "STATUS=unhealthy: sdnotify: unhealthy, keep-alive withheld: engine stuck" {
		t.Fatalf("while unhealthy got %q, want a status and no keep-alive", got)
	}
	if err, _ := reported.Load().(error); !errors.Is(err, ErrUnhealthy) {
		t.Fatalf("OnUnhealthy got %v", err)
	}
	sick.Store("")
	clk.Advance(5 * time.Second)
	if got := recv(t, srv); got != "WATCHDOG=1\nSTATUS=kiosk running; outbox 2 queued" {
		t.Fatalf("after recovery %q: the status must not stay on the failure", got)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Supervise returned %v", err)
	}
}

func TestSuperviseWithoutWatchdogStillReady(t *testing.T) {
	var sick, status, reported atomic.Value
	sick.Store("")
	status.Store("up")
	srv, clk, stop := supervise(t, map[string]string{}, &sick, &status, &reported)
	clk.Advance(0)
	if got := recv(t, srv); got != "READY=1\nSTATUS=up" {
		t.Fatalf("got %q", got)
	}
	clk.Advance(15 * time.Second)
	if got := recv(t, srv); got != "STATUS=up" {
		t.Fatalf("got %q", got)
	}
	stop()
}

// TestKeepAlivesFromAChildOfAnotherMainProcess runs this test binary as
// the child of a shell that plays cage: WATCHDOG_PID names the shell, as
// systemd sets it for the unit's main process. The child must still send
// READY=1 and keep-alives; the socket's credentials show they come from
// the child, not from the PID systemd named.
func TestKeepAlivesFromAChildOfAnotherMainProcess(t *testing.T) {
	if os.Getenv("SDNOTIFY_TEST_CHILD") == "1" {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = New().Supervise(ctx, clock.Real{}, Health{Check: func() error { return nil }, Status: func() string { return "child" }})
		return
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	path := filepath.Join(shortDir(t), "notify")
	srv := listen(t, path)
	f, err := srv.File()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetsockoptInt(int(f.Fd()), syscall.SOL_SOCKET, syscall.SO_PASSCRED, 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// The shell stays the parent (the trailing ":" keeps it from exec'ing).
	cmd := exec.Command(sh, "-c", `echo $$; WATCHDOG_PID=$$ "$@"; :`, "sh", os.Args[0], "-test.run=^TestKeepAlivesFromAChildOfAnotherMainProcess$")
	cmd.Env = append(os.Environ(), "SDNOTIFY_TEST_CHILD=1", "NOTIFY_SOCKET="+path, "WATCHDOG_USEC=200000")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var shellPID int
	if _, err := fmt.Fscan(out, &shellPID); err != nil {
		t.Fatal(err)
	}
	var got []string
	buf, oob := make([]byte, 512), make([]byte, 512)
	for len(got) < 4 {
		_ = srv.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, oobn, _, _, err := srv.ReadMsgUnix(buf, oob)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			t.Fatalf("no credentials: %v", err)
		}
		cred, err := syscall.ParseUnixCredentials(&msgs[0])
		if err != nil {
			t.Fatal(err)
		}
		if int(cred.Pid) == shellPID {
			t.Fatalf("datagram from the stand-in parent %d itself", shellPID)
		}
		got = append(got, string(buf[:n]))
	}
	if got[0] != "READY=1\nWATCHDOG=1\nSTATUS=child" {
		t.Fatalf("first datagram %q", got[0])
	}
	for _, g := range got[1:] {
		if !strings.HasPrefix(g, "WATCHDOG=1\n") {
			t.Fatalf("datagram %q, want a keep-alive", g)
		}
	}
}
