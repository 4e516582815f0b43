package display

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestUnsetAndMalformed(t *testing.T) {
	for _, name := range []string{"", "nonsense", ":x", "host:", ":-1"} {
		err := CheckName(context.Background(), name)
		if !errors.Is(err, ErrNoDisplay) {
			t.Errorf("DISPLAY=%q: %v, want ErrNoDisplay", name, err)
		}
	}
}

// TestTCP: a listener on 6000+N is a display; nothing there is none.
func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if port < 6000 {
		ln.Close()
		t.Skipf("loopback port %d is below 6000", port)
	}
	name := "127.0.0.1:" + strconv.Itoa(port-6000)
	if err := CheckName(context.Background(), name); err != nil {
		t.Fatalf("listening display %s: %v", name, err)
	}
	ln.Close()
	if err := CheckName(context.Background(), name); !errors.Is(err, ErrNoDisplay) {
		t.Fatalf("closed display %s: %v, want ErrNoDisplay", name, err)
	}
}

// TestXvfb runs a real X server on a free display number and checks it
// is found, and that the next number is not.
func TestXvfb(t *testing.T) {
	if _, err := exec.LookPath("Xvfb"); err != nil {
		t.Skip("Xvfb is not installed")
	}
	n := 0
	for n = 150; n < 250; n++ {
		if _, err := os.Stat(filepath.Join("/tmp/.X11-unix", "X"+strconv.Itoa(n))); os.IsNotExist(err) {
			if _, err := os.Stat("/tmp/.X" + strconv.Itoa(n) + "-lock"); os.IsNotExist(err) {
				break
			}
		}
	}
	name := ":" + strconv.Itoa(n)
	if err := CheckName(context.Background(), name); !errors.Is(err, ErrNoDisplay) {
		t.Fatalf("no server on %s yet: %v", name, err)
	}
	cmd := exec.Command("Xvfb", name, "-nolisten", "tcp", "-screen", "0", "64x64x24")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		err := CheckName(ctx, name+".0")
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Xvfb %s never answered: %v\n%s", name, err, stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
