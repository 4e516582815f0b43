package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildOut  []byte
)

// buildKioskctl builds the real binary once for the tests that run it.
func buildKioskctl(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kioskctl-test-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "kioskctl")
		buildOut, buildErr = exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("build: %v\n%s", buildErr, buildOut)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// TestHelpWithoutLocale: `kioskctl --help` and a command's --help print
// the usage first and nothing on stderr, with the locales a shell, a
// container or a systemd unit hands them (LANG=C.UTF-8 made Fyne print
// "Error parsing user locale C" first).
func TestHelpWithoutLocale(t *testing.T) {
	if testing.Short() {
		t.Skip("builds kioskctl")
	}
	bin := buildKioskctl(t)
	var base []string
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); k != "LANG" && k != "LANGUAGE" && !strings.HasPrefix(k, "LC_") {
			base = append(base, e)
		}
	}
	for _, le := range [][]string{{"LANG=C"}, {}, {"LANG=C.UTF-8"}, {"LC_ALL=C.utf8", "LANG=zh_CN.UTF-8"}} {
		for _, args := range [][]string{{"--help"}, {"selftest", "--help"}, {"config", "example"}} {
			cmd := exec.Command(bin, args...)
			cmd.Env = append(append([]string(nil), base...), le...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v kioskctl %v: %v\n%s", le, args, err, &stderr)
			}
			if stderr.Len() != 0 {
				t.Errorf("%v kioskctl %v: stderr %q, want nothing", le, args, &stderr)
			}
			first, _, _ := strings.Cut(string(out), "\n")
			if args[0] != "config" && !strings.HasPrefix(first, "usage: kioskctl ") {
				t.Errorf("%v kioskctl %v: first line %q, want the usage", le, args, first)
			}
		}
	}
}
