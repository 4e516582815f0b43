package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestDefaultsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParseOverDefaults(t *testing.T) {
	c, err := Parse(`
[station]
id = "NS-PSB-001"
[reader]
port = "/dev/ttyUSB0"
baud = 57600
poll_interval = "500ms"
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Station.ID != "NS-PSB-001" || c.Reader.Baud != 57600 || c.Reader.PollInterval.Duration != 500*time.Millisecond {
		t.Fatalf("got %+v", c.Reader)
	}
	if c.Timeouts.Consent.Duration != 120*time.Second {
		t.Fatal("default lost")
	}
}

func TestTypoNamesKeyAndFix(t *testing.T) {
	_, err := Parse("[reader]\nbaud_rate = 9600\n")
	if err == nil || !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "reader.baud_rate") || !strings.Contains(msg, `"reader.baud"`) || strings.Contains(msg, "\n") {
		t.Fatalf("message %q should name the key and the fix on one line", msg)
	}
}

func TestImpossibleValues(t *testing.T) {
	cases := map[string]string{
		"[reader]\nbaud = 12345\n":             "reader.baud",
		"[reader]\npoll_interval = \"50ms\"\n": "reader.poll_interval",
		"[timeouts]\nconsent = \"-1s\"\n":      "timeouts.consent",
		"[timeouts]\nconsent = \"soon\"\n":     "timeouts.consent",
		"[authority]\nurl = \"http://x\"\n":    "authority.url",
		"[state]\ndir = \"relative\"\n":        "state.dir",
		"[ui]\nlanguage = \"fr\"\n":            "ui.language",
		"[station]\nid = \"bad id\"\n":         "station.id",
		"[camera]\nfps = 1000\n":               "camera.fps",
		"[reader]\nbaud = \"fast\"\n":          "reader.baud",
	}
	for text, key := range cases {
		_, err := Parse(text)
		if err == nil {
			t.Errorf("%q: accepted", text)
			continue
		}
		if !strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %q does not name %s on one line", text, err, key)
		}
	}
}

func TestExampleRoundTrips(t *testing.T) {
	c, err := Parse(Example())
	if err != nil {
		t.Fatalf("example does not parse: %v", err)
	}
	if c.Reader.Baud != Default().Reader.Baud || c.Timeouts.Receipt != Default().Timeouts.Receipt {
		t.Fatal("example differs from defaults")
	}
	if len(knownKeys()) < 30 {
		t.Fatalf("knownKeys = %v", knownKeys())
	}
}

// TestSimKeyRefused: a configuration that still asks for simulated hardware
// is refused on one line that names the key and what to use instead; the
// `sim = false` that older examples wrote is accepted.
func TestSimKeyRefused(t *testing.T) {
	for _, text := range []string{"sim = true\n", "sim = \"yes\"\n", "sim = true\n[reader]\nport = \"/dev/ttyUSB0\"\n"} {
		_, err := Parse(text)
		if !errors.Is(err, ErrSimRemoved) {
			t.Fatalf("%q: err = %v, want ErrSimRemoved", text, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "config: sim: ") || !strings.Contains(msg, "kioskctl sim kiosk") || !strings.Contains(msg, "kioskctl demo") || strings.Contains(msg, "\n") {
			t.Fatalf("%q: message %q should say what to use instead, on one line", text, msg)
		}
	}
	c, err := Parse("sim = false\n[reader]\nbaud = 57600\n")
	if err != nil || c.Reader.Baud != 57600 {
		t.Fatalf("sim = false: %v (baud %d)", err, c.Reader.Baud)
	}
	// In a section it is just an unknown key.
	if _, err := Parse("[reader]\nsim = true\n"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("[reader] sim: err = %v, want ErrUnknownKey", err)
	}
}

// TestExampleHasNoSim: the example `kioskctl config example` prints has no
// key that could switch a terminal into simulation.
func TestExampleHasNoSim(t *testing.T) {
	for _, line := range strings.Split(Example(), "\n") {
		if k, _, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "sim" {
			t.Fatalf("example has %q", line)
		}
	}
	for _, k := range knownKeys() {
		if k == "sim" {
			t.Fatal("knownKeys has sim")
		}
	}
}
