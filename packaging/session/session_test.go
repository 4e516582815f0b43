package session

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestFyneFullScreenUnderCage builds a small Fyne program and runs it as
// cage's only client on the headless backend (1280x720): the window must
// come up and fill the output. It is skipped with -short and where cage is
// not installed.
func TestFyneFullScreenUnderCage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the kiosk session check builds Fyne and starts cage")
	}
	cage, err := exec.LookPath("cage")
	if err != nil {
		t.Skip("cage is not installed (apt-get install cage xwayland)")
	}
	if _, err := exec.LookPath("Xwayland"); err != nil {
		t.Skip("Xwayland is not installed (apt-get install xwayland)")
	}
	dir, err := os.MkdirTemp("", "cage-check-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "window")
	build := exec.Command("go", "build", "-o", bin, "./testdata/window")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the Fyne check: %v\n%s", err, out)
	}
	xdg := filepath.Join(dir, "run")
	if err := os.Mkdir(xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	args := []string{cage, "-d", "--", bin}
	if os.Geteuid() == 0 { // cage refuses to run as root, like the unit (User=eidkiosk)
		u, err := user.Lookup("nobody")
		if err != nil {
			t.Skip("running as root and no user nobody to drop to")
		}
		uid, _ := strconv.Atoi(u.Uid)
		if err := os.Chown(xdg, uid, -1); err != nil {
			t.Fatal(err)
		}
		args = append([]string{"runuser", "-u", "nobody", "--"}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+xdg, "HOME="+xdg,
		"WLR_BACKENDS=headless", "WLR_LIBINPUT_NO_DEVICES=1", "WLR_RENDERER=pixman")
	out, err := cmd.CombinedOutput()
	m := regexp.MustCompile(`window up: (\d+)x(\d+) pixels`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("the window did not come up (%v):\n%s", err, tail(out, 2000))
	}
	if got := fmt.Sprintf("%sx%s", m[1], m[2]); got != "1280x720" {
		t.Fatalf("window %s, want the whole 1280x720 output", got)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
