package kioskui

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// Xvfb is a virtual X display for machines without a screen (CI, the demo
// on a server).
type Xvfb struct {
	Display string // e.g. ":97"
	cmd     *exec.Cmd
}

// StartXvfb starts Xvfb on the first free display from :90 at the given
// screen size and waits until it accepts clients.
func StartXvfb(ctx context.Context, width, height int) (*Xvfb, error) {
	bin, err := exec.LookPath("Xvfb")
	if err != nil {
		return nil, fmt.Errorf("kioskui: no display and no Xvfb: install the Debian package xvfb (make deps)")
	}
	for n := 90; n < 140; n++ {
		if _, err := os.Stat(filepath.Join("/tmp/.X11-unix", "X"+strconv.Itoa(n))); err == nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); err == nil {
			continue
		}
		disp := ":" + strconv.Itoa(n)
		cmd := exec.Command(bin, disp, "-screen", "0", fmt.Sprintf("%dx%dx24", width, height), "-dpi", "96", "-nolisten", "tcp", "-noreset")
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("kioskui: start Xvfb: %w", err)
		}
		x := &Xvfb{Display: disp, cmd: cmd}
		sock := filepath.Join("/tmp/.X11-unix", "X"+strconv.Itoa(n))
		for i := 0; i < 100; i++ {
			if _, err := os.Stat(sock); err == nil {
				return x, nil
			}
			select {
			case <-ctx.Done():
				x.Stop()
				return nil, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		x.Stop()
	}
	return nil, fmt.Errorf("kioskui: Xvfb did not start on any display :90-:139")
}

// Stop ends the Xvfb process.
func (x *Xvfb) Stop() {
	if x.cmd != nil && x.cmd.Process != nil {
		x.cmd.Process.Kill()
		x.cmd.Wait()
	}
}

// Screenshot saves the whole virtual screen as PNG (xwd piped through
// ImageMagick; Fyne's own capture reads back black under Xvfb's software GL).
func (x *Xvfb) Screenshot(ctx context.Context, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", `xwd -root -silent -display "$1" | convert xwd:- "png:$2"`, "sh", x.Display, path)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kioskui: screenshot (needs x11-apps and imagemagick): %v: %s", err, out)
	}
	return nil
}
