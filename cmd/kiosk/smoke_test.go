package main

import (
	"context"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"eidkiosk/kiosk/config"
	"eidkiosk/sim/simstack"
	"eidkiosk/ui"
	"eidkiosk/ui/font"
	"eidkiosk/ui/uitest"
)

// TestSmoke builds the real kiosk binary once and runs it as a terminal
// does (see smokeAttractScreen) and with a configuration that asks for
// simulation (see simConfigRefused).
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole kiosk")
	}
	bin := filepath.Join(t.TempDir(), "kiosk")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	t.Run("AttractScreen", func(t *testing.T) { smokeAttractScreen(t, bin) })
	t.Run("SimConfigRefused", func(t *testing.T) { simConfigRefused(t, bin) })
	t.Run("HelpFirstLine", func(t *testing.T) { helpFirstLine(t, bin) })
	t.Run("NoDisplay", func(t *testing.T) { noDisplay(t, bin) })
}

// smokeAttractScreen starts the real kiosk binary the way a terminal does, with a configuration file and a provisioned state
// directory, in a real window under Xvfb. The test process plays the
// surroundings (sim/simstack): it runs the authority on loopback, provisions
// the state directory with a one-time token, and runs the card reader on a
// pty that the configuration names. The kiosk must show the attract screen,
// then leave it when a card is placed on the reader. It reports the time
// from start to the attract screen and the idle CPU and RSS of the kiosk.
func smokeAttractScreen(t *testing.T, bin string) {
	d := uitest.StartT(t, 1280, 800)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := simstack.Start(ctx, simstack.Options{Dir: filepath.Join(t.TempDir(), "sim")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfgPath := filepath.Join(st.Dir, "kiosk.toml")
	f, err := os.Create(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := toml.NewEncoder(f).Encode(st.Config(config.Default())); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "--config", cfgPath, "--windowed")
	cmd.Env = append(os.Environ(), "LANG=zh_CN.UTF-8", "EIDKIOSK_TEST=1")
	isAttract := uitest.Attract(ui.NewTheme(font.Faces{}, false))
	s, err := uitest.StartProgram(ctx, d, cmd, isAttract)
	if err != nil {
		if s != nil && s.Shot != nil {
			uitest.SavePNG(filepath.Join(t.TempDir(), "last.png"), s.Shot)
		}
		t.Fatal(err)
	}
	defer s.Stop()
	t.Logf("start to attract screen: %s", s.Ready.Round(10*time.Millisecond))
	if cpu, err := s.Proc.CPUShare(ctx, 5*time.Second); err == nil {
		t.Logf("idle CPU over 5 s: %.1f%% of one core", cpu*100)
	}
	if rss, err := s.Proc.RSS(); err == nil {
		t.Logf("RSS: %.1f MiB", float64(rss)/(1<<20))
	}
	if os.Getenv("EIDKIOSK_SMOKE_SHOT") != "" {
		uitest.SavePNG(os.Getenv("EIDKIOSK_SMOKE_SHOT"), s.Shot)
	}

	// The configured reader is the one the kiosk polls: a card moves it on.
	if err := st.Reader.Place(0); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if _, _, err := d.WaitFor(wctx, func(img image.Image) bool { return !isAttract(img) }); err != nil {
		t.Fatalf("the kiosk stayed on the attract screen with a card on its reader: %v\n%s", err, s.Output.String())
	}
}

// simConfigRefused: a configuration that still says sim = true stops
// the real binary at start with one line saying what to use instead.
func simConfigRefused(t *testing.T, bin string) {
	cfgPath := filepath.Join(t.TempDir(), "kiosk.toml")
	if err := os.WriteFile(cfgPath, []byte("sim = true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfgPath, "--headless")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("kiosk with sim = true: %v, want exit 1\n%s%s", err, &stdout, &stderr)
	}
	// Fyne may complain about the locale first; the kiosk's refusal is its
	// one "kiosk:" line.
	var refusals []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(l, "kiosk: ") {
			refusals = append(refusals, l)
		}
	}
	if len(refusals) != 1 || !strings.Contains(refusals[0], "config: sim: ") || !strings.Contains(refusals[0], "kioskctl sim kiosk") {
		t.Fatalf("refusal %q: want one line naming the key and `kioskctl sim kiosk`", stderr.String())
	}
	for _, flag := range []string{"--sim", "--sim-dir=x"} {
		if out, err := exec.Command(bin, flag).CombinedOutput(); err == nil {
			t.Errorf("kiosk %s accepted:\n%s", flag, out)
		}
	}
}
