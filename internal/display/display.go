// Package display tells whether the X display a UI would open is there,
// so a command can say so in one line instead of GLFW's panic and stack
// trace ("The DISPLAY environment variable is missing", "GLFW library is
// not initialized"). It reads DISPLAY as X11 clients do and connects to
// the server's socket: the abstract and the filesystem unix socket for
// ":N" and "unix:N", TCP port 6000+N for "host:N".
//
// It does not speak the X protocol (a socket that accepts is taken as a
// server), and it knows no Wayland: Fyne's GLFW driver, as built here, is
// an X11 client (under cage it talks to Xwayland).
package display

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrNoDisplay is returned when DISPLAY is unset, malformed or names a
// server that does not answer.
var ErrNoDisplay = errors.New("no X display")

// Check reports whether the display named by the DISPLAY environment
// variable accepts connections, within two seconds.
func Check(ctx context.Context) error {
	return CheckName(ctx, os.Getenv("DISPLAY"))
}

// CheckName is Check for a given display name, e.g. ":0" or "host:10.0".
func CheckName(ctx context.Context, name string) error {
	if name == "" {
		return fmt.Errorf("%w: DISPLAY is not set (start the kiosk under cage, or use --headless)", ErrNoDisplay)
	}
	addrs, err := addresses(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var d net.Dialer
	var last error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, a[0], a[1])
		if err == nil {
			c.Close()
			return nil
		}
		last = err
	}
	return fmt.Errorf("%w: DISPLAY=%s does not answer (%v)", ErrNoDisplay, name, last)
}

// addresses returns the (network, address) pairs an X client tries for
// the display name.
func addresses(name string) ([][2]string, error) {
	i := strings.LastIndexByte(name, ':')
	if i < 0 {
		return nil, fmt.Errorf("%w: DISPLAY=%q is not [host]:display[.screen]", ErrNoDisplay, name)
	}
	host, rest := name[:i], name[i+1:]
	num, _, _ := strings.Cut(rest, ".")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > 59535 {
		return nil, fmt.Errorf("%w: DISPLAY=%q is not [host]:display[.screen]", ErrNoDisplay, name)
	}
	switch {
	case host == "" || host == "unix":
		sock := "/tmp/.X11-unix/X" + num
		return [][2]string{{"unix", "@" + sock}, {"unix", sock}}, nil
	case strings.HasPrefix(host, "/"): // a socket path, e.g. launchd's
		return [][2]string{{"unix", name}}, nil
	default:
		return [][2]string{{"tcp", net.JoinHostPort(host, strconv.Itoa(6000+n))}}, nil
	}
}
