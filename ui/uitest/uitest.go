// Package uitest runs a program's window under a private Xvfb X server, takes
// screenshots of it and measures its process (start-up time, CPU, RSS), for
// smoke tests of the real touch UI (OpenGL through Mesa, not Fyne's test
// driver). Tests skip, with the reason, where Xvfb is not installed.
//
// It does not drive the UI: the program under test decides what it shows.
package uitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Display is a running Xvfb server.
type Display struct {
	Num    int
	Width  int
	Height int
	cmd    *exec.Cmd
}

// Name is the DISPLAY value, e.g. ":93".
func (d *Display) Name() string { return fmt.Sprintf(":%d", d.Num) }

// Env returns env with DISPLAY set to d (and no Wayland).
func (d *Display) Env(env []string) []string {
	out := make([]string, 0, len(env)+2)
	for _, e := range env {
		if !strings.HasPrefix(e, "DISPLAY=") && !strings.HasPrefix(e, "WAYLAND_DISPLAY=") {
			out = append(out, e)
		}
	}
	return append(out, "DISPLAY="+d.Name())
}

// ErrNoXvfb is returned by Start when Xvfb is not installed.
var ErrNoXvfb = errors.New("uitest: Xvfb not installed (Debian packages xvfb, x11-apps for xwd, imagemagick)")

// Start starts Xvfb on a free display number with a w×h×24 screen and waits
// until it accepts connections.
func Start(ctx context.Context, w, h int) (*Display, error) {
	if _, err := exec.LookPath("Xvfb"); err != nil {
		return nil, ErrNoXvfb
	}
	for n := 90 + os.Getpid()%50; n < 400; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); err == nil {
			continue
		}
		cmd := exec.Command("Xvfb", fmt.Sprintf(":%d", n), "-screen", "0", fmt.Sprintf("%dx%dx24", w, h), "-nolisten", "tcp", "+extension", "GLX")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("uitest: Xvfb: %w", err)
		}
		d := &Display{Num: n, Width: w, Height: h, cmd: cmd}
		sock := fmt.Sprintf("/tmp/.X11-unix/X%d", n)
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		for {
			if _, err := os.Stat(sock); err == nil {
				return d, nil
			}
			select {
			case <-exited:
				if strings.Contains(stderr.String(), "already active") {
					goto next
				}
				return nil, fmt.Errorf("uitest: Xvfb :%d exited: %s", n, strings.TrimSpace(stderr.String()))
			case <-ctx.Done():
				d.Stop()
				return nil, fmt.Errorf("uitest: Xvfb :%d: %w", n, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	next:
	}
	return nil, errors.New("uitest: no free X display number")
}

// StartT starts Xvfb for a test, skipping it when Xvfb is missing, and
// stops the server when the test ends.
func StartT(t testing.TB, w, h int) *Display {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := Start(ctx, w, h)
	if errors.Is(err, ErrNoXvfb) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	return d
}

// Stop ends the server.
func (d *Display) Stop() {
	if d.cmd != nil && d.cmd.Process != nil {
		d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			for i := 0; i < 100; i++ {
				if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", d.Num)); err != nil {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			close(done)
		}()
		<-done
	}
}

// Screenshot captures the whole screen: xwd piped through ImageMagick, or
// ImageMagick's import when xwd is missing.
func (d *Display) Screenshot(ctx context.Context) (image.Image, error) {
	var cmd *exec.Cmd
	if _, err := exec.LookPath("xwd"); err == nil {
		cmd = exec.CommandContext(ctx, "sh", "-c", "xwd -root -silent -display "+d.Name()+" | convert xwd:- png:-")
	} else if _, err := exec.LookPath("import"); err == nil {
		cmd = exec.CommandContext(ctx, "import", "-display", d.Name(), "-window", "root", "png:-")
	} else {
		return nil, errors.New("uitest: neither xwd nor ImageMagick's import is installed")
	}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("uitest: screenshot: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	img, err := png.Decode(&out)
	if err != nil {
		return nil, fmt.Errorf("uitest: screenshot: %w", err)
	}
	return img, nil
}

// WaitFor takes screenshots until match accepts one or ctx ends; it returns
// the last screenshot and when it was taken.
func (d *Display) WaitFor(ctx context.Context, match func(image.Image) bool) (image.Image, time.Time, error) {
	var last image.Image
	for {
		img, err := d.Screenshot(ctx)
		if err == nil {
			last = img
			if match(img) {
				return img, time.Now(), nil
			}
		}
		select {
		case <-ctx.Done():
			return last, time.Time{}, fmt.Errorf("uitest: screen never matched: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// SavePNG writes img to path (for failed tests and reports).
func SavePNG(path string, img image.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Near reports whether c is within tol of want in each channel.
func Near(c color.Color, want color.NRGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	d := func(a uint32, w uint8) bool { x := int(a>>8) - int(w); return x <= tol && x >= -tol }
	return d(r, want.R) && d(g, want.G) && d(b, want.B)
}

// Share is the fraction of pixels of rect in img that are near want.
func Share(img image.Image, rect image.Rectangle, want color.NRGBA, tol int) float64 {
	rect = rect.Intersect(img.Bounds())
	if rect.Empty() {
		return 0
	}
	n := 0
	for y := rect.Min.Y; y < rect.Max.Y; y++ {
		for x := rect.Min.X; x < rect.Max.X; x++ {
			if Near(img.At(x, y), want, tol) {
				n++
			}
		}
	}
	return float64(n) / float64(rect.Dx()*rect.Dy())
}

// Proc samples a process's CPU time and resident memory from /proc.
type Proc struct{ Pid int }

// CPU is the user+system CPU time used so far.
func (p Proc) CPU() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("uitest: bad /proc stat")
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0, errors.New("uitest: short /proc stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100, nil // USER_HZ is 100 on Linux
}

// RSS is the resident set size in bytes.
func (p Proc) RSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("uitest: no VmRSS")
}

// CPUShare measures the process's CPU use over d as a fraction of one core.
func (p Proc) CPUShare(ctx context.Context, d time.Duration) (float64, error) {
	c0, err := p.CPU()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(d):
	}
	c1, err := p.CPU()
	if err != nil {
		return 0, err
	}
	return float64(c1-c0) / float64(time.Since(t0)), nil
}

// Smoke is the result of starting a program under Xvfb.
type Smoke struct {
	Display  *Display
	Cmd      *exec.Cmd
	Started  time.Time     // when the program was started
	Ready    time.Duration // from start until the screen matched
	Shot     image.Image   // the matching screenshot
	Proc     Proc
	Output   *Buffer // the program's stdout and stderr
	waitDone chan error
}

// StartProgram starts cmd on d and waits until a screenshot matches; the
// program keeps running (Stop it).
func StartProgram(ctx context.Context, d *Display, cmd *exec.Cmd, match func(image.Image) bool) (*Smoke, error) {
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = d.Env(cmd.Env)
	out := &Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	s := &Smoke{Display: d, Cmd: cmd, Output: out, waitDone: make(chan error, 1)}
	s.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("uitest: start %s: %w", cmd.Path, err)
	}
	s.Proc = Proc{Pid: cmd.Process.Pid}
	go func() { s.waitDone <- cmd.Wait() }()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.waitDone:
			s.waitDone <- errors.New("exited")
			cancel()
		case <-wctx.Done():
		}
	}()
	img, at, err := d.WaitFor(wctx, match)
	s.Shot = img
	if err != nil {
		s.Stop()
		return s, fmt.Errorf("%w; program output:\n%s", err, tail(out.String(), 2000))
	}
	s.Ready = at.Sub(s.Started)
	return s, nil
}

// Signal sends sig to the program.
func (s *Smoke) Signal(sig os.Signal) error { return s.Cmd.Process.Signal(sig) }

// Stop ends the program (SIGTERM, then SIGKILL after 5 s).
func (s *Smoke) Stop() {
	if s.Cmd.Process == nil {
		return
	}
	s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.waitDone:
	case <-time.After(5 * time.Second):
		s.Cmd.Process.Kill()
		<-s.waitDone
	}
}

// Buffer is a bytes.Buffer safe for one writer and concurrent readers.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Len is the number of bytes written so far.
func (b *Buffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Len()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
