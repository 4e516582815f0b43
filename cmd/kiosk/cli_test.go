package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"eidkiosk/kiosk/config"
)

// localeEnvs are the locales a shell, a container or a systemd unit hands
// the commands; LANG=C.UTF-8 made Fyne print "Error parsing user locale C".
var localeEnvs = [][]string{{"LANG=C"}, {}, {"LANG=C.UTF-8"}, {"LC_ALL=C.utf8", "LANG=zh_CN.UTF-8"}, {"LANG=POSIX"}}

// cleanEnv is the test's environment without locale and display variables.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, e := range os.Environ() {
		k, _, _ := strings.Cut(e, "=")
		switch {
		case k == "LANG", k == "LANGUAGE", strings.HasPrefix(k, "LC_"), k == "DISPLAY", k == "WAYLAND_DISPLAY":
		default:
			env = append(env, e)
		}
	}
	return append(env, extra...)
}

// helpFirstLine: `kiosk --help` prints its usage first and nothing on
// stderr, whatever the locale.
func helpFirstLine(t *testing.T, bin string) {
	for _, le := range localeEnvs {
		cmd := exec.Command(bin, "--help")
		cmd.Env = cleanEnv(le...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v kiosk --help: %v\n%s", le, err, &stderr)
		}
		// flag prints the asked-for usage on stderr; nothing may precede it.
		all := stderr.String() + string(out)
		if first, _, _ := strings.Cut(all, "\n"); first != "usage: kiosk [flags]" {
			t.Errorf("%v: first line %q, want the usage:\n%s", le, first, all)
		}
		if strings.Contains(all, "Fyne") {
			t.Errorf("%v: Fyne speaks:\n%s", le, all)
		}
	}
}

// noDisplay: the kiosk with its UI but no X display (none set, or one
// that does not answer) stops with one line saying so, exit status 1, no
// GLFW panic.
func noDisplay(t *testing.T, bin string) {
	cfgPath := filepath.Join(t.TempDir(), "kiosk.toml")
	f, err := os.Create(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.State.Dir = t.TempDir()
	if err := toml.NewEncoder(f).Encode(cfg); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, display := range []string{"", ":31999"} {
		cmd := exec.Command(bin, "--config", cfgPath)
		cmd.Env = cleanEnv("LANG=C.UTF-8")
		if display != "" {
			cmd.Env = append(cmd.Env, "DISPLAY="+display)
		}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("DISPLAY=%q: %v, want exit status 1\n%s", display, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "kiosk: no X display: ") || !strings.Contains(lines[0], "--headless") && display == "" {
			t.Errorf("DISPLAY=%q: output %q, want one line saying there is no display", display, out)
		}
	}
}
