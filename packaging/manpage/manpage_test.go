package manpage

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"eidkiosk/internal/cli"
)

// TestMain lets the test binary play a command built on internal/cli, as
// kioskctl and eidkiosk-authority are, so Generate runs a real --help.
func TestMain(m *testing.M) {
	if os.Getenv("MANPAGE_TEST_CLI") == "1" {
		app := &cli.App{Name: "toolctl", Summary: "a tool for the tests"}
		app.Register(&cli.Command{
			Name: "card read", Summary: "read one card", Usage: "[PORT]",
			Help: "Place the card on the antenna.\n.dot at a line start, a back\\slash.",
			Flags: func(fs *flag.FlagSet) {
				fs.Int("baud", 115200, "line rate of the reader")
				fs.Bool("v", false, "verbose")
				fs.String("port", "/dev/idcard", "the reader's\nserial port")
			},
			Run: func(context.Context, []string) error { return nil },
		}, &cli.Command{Name: "selftest", Summary: "check every device", Run: func(context.Context, []string) error { return nil }})
		app.Main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestGenerate(t *testing.T) {
	t.Setenv("MANPAGE_TEST_CLI", "1")
	page, err := Generate(context.Background(), Page{Binary: os.Args[0], Name: "toolctl", Section: "1",
		Date: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC), Source: "eidkiosk 1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	s := string(page)
	for _, want := range []string{
		`.TH "TOOLCTL" 1 "2026\-12\-02" "eidkiosk 1.2.3"`,
		".SH NAME\ntoolctl \\- a tool for the tests\n",
		".SH SYNOPSIS\n.B toolctl\nCOMMAND [flags] [args]\n",
		`.SS "toolctl card read [flags] [PORT]"`,
		"read one card\n",
		".B \\-baud \\fIint\\fR\nline rate of the reader (default 115200)\n",
		".B \\-v\nverbose\n",
		"the reader's serial port (default \"/dev/idcard\")",
		"Place the card on the antenna. .dot at a line start, a back\\eslash.",
		".SS \"toolctl selftest [flags]\"\ncheck every device\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "flags:") || strings.Count(s, "read one card") != 1 {
		t.Errorf("an empty flags paragraph or a repeated summary:\n%s", s)
	}
	// The page formats without a warning from groff (lintian runs man
	// --warnings the same way).
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("groff is not installed")
	}
	cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z", "-k")
	cmd.Stdin = bytes.NewReader(page)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Fatalf("groff: %v\n%s\n%s", err, out, s)
	}
}

func TestParseRefusesOtherLayouts(t *testing.T) {
	if _, err := Parse("Usage of kiosk-launch:\n  -state string\n"); !errors.Is(err, ErrNoUsage) {
		t.Fatalf("err = %v, want ErrNoUsage", err)
	}
	h, err := Parse("usage: kiosk [flags]\n\nThe eidkiosk enrollment terminal. On simulated hardware: kioskctl sim kiosk.\n\nflags:\n  -headless\n    \trun without the touch UI\n")
	if err != nil {
		t.Fatal(err)
	}
	if h.Summary != "The eidkiosk enrollment terminal" || len(h.Flags) != 1 || h.Flags[0].Name != "headless" || h.Flags[0].Arg != "" {
		t.Fatalf("%+v", h)
	}
}

// TestGzip: gzip -9n: no name, no time stamp, and it decompresses.
func TestGzip(t *testing.T) {
	z, err := Gzip([]byte(".TH X 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := gzip.NewReader(bytes.NewReader(z))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	if string(b) != ".TH X 1\n" || r.Name != "" || !r.ModTime.IsZero() || z[8] != 2 /* XFL: best compression */ {
		t.Fatalf("name %q mtime %v xfl %d body %q", r.Name, r.ModTime, z[8], b)
	}
}
