// Package xvfb starts a virtual X display (Xvfb) for the demo and other
// simulations on machines without a screen (CI, a server), and captures it.
// It is not part of the appliance: a kiosk has a screen, and tests of the
// real window use ui/uitest.
package xvfb

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Server is a virtual X display for machines without a screen (CI, the demo
// on a server).
type Server struct {
	Display string // e.g. ":97"
	cmd     *exec.Cmd
}

// Start starts Xvfb at the given screen size on a display number the
// server picks itself (-displayfd: no race with other servers starting at
// the same time) and returns once it accepts clients.
func Start(ctx context.Context, width, height int) (*Server, error) {
	bin, err := exec.LookPath("Xvfb")
	if err != nil {
		return nil, fmt.Errorf("xvfb: no display and no Xvfb: install the Debian package xvfb (make deps)")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("xvfb: %w", err)
	}
	defer r.Close()
	cmd := exec.Command(bin, "-displayfd", "3", "-screen", "0", fmt.Sprintf("%dx%dx24", width, height),
		"-dpi", "96", "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		w.Close()
		return nil, fmt.Errorf("xvfb: start Xvfb: %w", err)
	}
	w.Close()
	x := &Server{cmd: cmd}
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(io.LimitReader(r, 16)).ReadString('\n') // written once the server is ready
		got <- strings.TrimSpace(line)
	}()
	select {
	case n := <-got:
		if _, err := strconv.Atoi(n); err != nil || n == "" {
			x.Stop()
			return nil, fmt.Errorf("xvfb: Xvfb did not report a display")
		}
		x.Display = ":" + n
	case <-time.After(10 * time.Second):
		x.Stop()
		return nil, fmt.Errorf("xvfb: Xvfb did not start within 10 s")
	case <-ctx.Done():
		x.Stop()
		return nil, ctx.Err()
	}
	return x, nil
}

// Stop ends the Xvfb process.
func (x *Server) Stop() {
	if x.cmd != nil && x.cmd.Process != nil {
		x.cmd.Process.Kill()
		x.cmd.Wait()
	}
}

// Screenshot saves the whole virtual screen as PNG (xwd piped through
// ImageMagick; Fyne's own capture reads back black under Xvfb's software GL).
func (x *Server) Screenshot(ctx context.Context, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", `xwd -root -silent -display "$1" | convert xwd:- "png:$2"`, "sh", x.Display, path)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("xvfb: screenshot (needs x11-apps and imagemagick): %v: %s", err, out)
	}
	return nil
}
