package systest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Container is one booted Debian root: systemd-nspawn -b with systemd as
// PID 1 inside. Commands run inside through nsenter into its namespaces.
type Container struct {
	Root   string
	nspawn *exec.Cmd
	leader int // the container's PID 1, as the host sees it
	done   chan error
	// Log receives the console and every command with its output: the
	// transcript.
	Log io.Writer
}

// Boot boots root and waits until systemd inside reports the system up
// (running or degraded). The console goes to console, the commands run
// inside and their output to log; binds are host:container read-only bind
// mounts.
func Boot(ctx context.Context, root string, console, log io.Writer, binds ...string) (*Container, error) {
	args := []string{"-q", "-b", "--register=no", "--keep-unit", "-D", root, "--machine=eidkiosk-systest", "--console=read-only"}
	for _, b := range binds {
		args = append(args, "--bind-ro="+b)
	}
	cmd := exec.Command("systemd-nspawn", args...)
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	fmt.Fprintf(log, "$ systemd-nspawn %s\n", strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("systest: systemd-nspawn: %w", err)
	}
	c := &Container{Root: root, nspawn: cmd, done: make(chan error, 1), Log: log}
	go func() { c.done <- cmd.Wait() }()
	for c.leader == 0 {
		select {
		case err := <-c.done:
			return nil, fmt.Errorf("systest: systemd-nspawn exited before the container booted: %v", err)
		case <-ctx.Done():
			c.Kill()
			return nil, fmt.Errorf("systest: waiting for the container's PID 1: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		c.leader = childOf(cmd.Process.Pid, "systemd")
	}
	// systemd's private socket appears a moment after PID 1 starts; until
	// then systemctl cannot connect, or says "offline".
	out, err := c.Run(ctx, "systemctl is-system-running --wait")
	for i := 0; i < 600 && (strings.Contains(out, "Failed to connect to bus") || strings.TrimSpace(out) == "offline"); i++ {
		time.Sleep(100 * time.Millisecond)
		out, err = c.Run(ctx, "systemctl is-system-running --wait")
	}
	if st := strings.TrimSpace(out); st != "running" && st != "degraded" {
		failed, _ := c.Run(ctx, "systemctl --failed --no-legend")
		c.Kill()
		return nil, fmt.Errorf("systest: the container did not come up: %q (%v); failed units:\n%s", st, err, failed)
	}
	return c, nil
}

// childOf finds the child of ppid whose command name is comm; 0 if none.
func childOf(ppid int, comm string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(ppid) {
			continue
		}
		if s[open+1:close] == comm {
			return pid
		}
	}
	return 0
}

// ErrCommand is returned when a command inside exits non-zero.
var ErrCommand = errors.New("systest: command failed")

// Run runs a shell command inside the container as root and returns its
// combined output; a non-zero exit is an ErrCommand error carrying it.
func (c *Container) Run(ctx context.Context, script string) (string, error) {
	cmd := exec.CommandContext(ctx, "nsenter", "-t", strconv.Itoa(c.leader), "-m", "-u", "-i", "-n", "-p", "-r", "-w",
		"/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8",
		"DEBIAN_FRONTEND=noninteractive", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0",
		"/bin/sh", "-c", script)
	cmd.Dir = "/"
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	fmt.Fprintf(c.Log, "# %s\n%s", script, out.String())
	if err != nil {
		return out.String(), fmt.Errorf("%w: %s: %v\n%s", ErrCommand, script, err, out.String())
	}
	return out.String(), nil
}

// PowerOff shuts the container down cleanly and waits for it.
func (c *Container) PowerOff(timeout time.Duration) error {
	_ = c.nspawn.Process.Signal(syscall.SIGTERM) // nspawn -b: an orderly poweroff
	select {
	case err := <-c.done:
		return err
	case <-time.After(timeout):
		c.Kill()
		return fmt.Errorf("systest: the container did not power off within %v", timeout)
	}
}

// Kill is the power cut: every process of the container dies at once.
func (c *Container) Kill() {
	_ = syscall.Kill(-c.nspawn.Process.Pid, syscall.SIGKILL)
	if c.leader != 0 {
		_ = syscall.Kill(c.leader, syscall.SIGKILL)
	}
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
	}
}
