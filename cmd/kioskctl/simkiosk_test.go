package main

import (
	"bytes"
	"context"
	"image"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"eidkiosk/ui"
	"eidkiosk/ui/font"
	"eidkiosk/ui/uitest"
)

// TestSimKioskHelp: `kioskctl sim kiosk --help` says how to walk a visit by
// hand with the console.
func TestSimKioskHelp(t *testing.T) {
	var out bytes.Buffer
	app.Stdout, app.Stderr = &out, &out
	defer func() { app.Stdout, app.Stderr = nil, nil }()
	if err := app.Run(context.Background(), []string{"sim", "kiosk", "--help"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"usage: kioskctl sim kiosk", "place N", "remove", "unplug", "fault", "'place 0'", "kioskctl demo", "-headless", "-dir"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}

// TestSimKioskHeadlessConsole runs `kioskctl sim kiosk --headless` in
// process with the console on a pipe: the banner, a card placed on the
// simulated reader, and "quit" ending the command cleanly.
func TestSimKioskHeadlessConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the authority, provisions and runs the kiosk")
	}
	in, w := io.Pipe()
	consoleIn = in
	var out uitest.Buffer
	app.Stdout, app.Stderr = &out, io.Discard
	defer func() { app.Stdout, app.Stderr = nil, nil }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, []string{"sim", "kiosk", "--headless", "--dir", t.TempDir()}) }()
	waitFor := func(s string) {
		t.Helper()
		for !strings.Contains(out.String(), s) {
			select {
			case err := <-done:
				t.Fatalf("sim kiosk ended (%v) before printing %q:\n%s", err, s, out.String())
			case <-ctx.Done():
				t.Fatalf("no %q:\n%s", s, out.String())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	waitFor("simulated reader console")
	io.WriteString(w, "place 0\n")
	waitFor("card 0 placed")
	io.WriteString(w, "quit\n")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sim kiosk: %v\n%s", err, out.String())
		}
	case <-ctx.Done():
		t.Fatal("quit did not end sim kiosk")
	}
}

// simKioskWindow runs `kioskctl sim kiosk` in a real window under Xvfb with
// its stdin on a pipe: the window shows the attract screen, and "place 0"
// typed on the console puts a card on the reader that the kiosk reads and
// leaves the attract screen for.
func simKioskWindow(t *testing.T, bin string) {
	d := uitest.StartT(t, 1280, 800)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.Command(bin, "sim", "kiosk", "--dir", t.TempDir())
	cmd.Env = append(os.Environ(), "LANG=zh_CN.UTF-8")
	console, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	isAttract := uitest.Attract(ui.NewTheme(font.Faces{}, false))
	s, err := uitest.StartProgram(ctx, d, cmd, isAttract)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	t.Logf("start to attract screen: %s", s.Ready.Round(10*time.Millisecond))
	io.WriteString(console, "place 0\n")
	wctx, wcancel := context.WithTimeout(ctx, time.Minute)
	defer wcancel()
	if _, _, err := d.WaitFor(wctx, func(img image.Image) bool { return !isAttract(img) }); err != nil {
		t.Fatalf("the window stayed on the attract screen after 'place 0': %v\n%s", err, s.Output.String())
	}
	io.WriteString(console, "quit\n")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.Output.String(), "bye") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"simulated reader console", "card 0 placed", "bye"} {
		if !strings.Contains(s.Output.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, s.Output.String())
		}
	}
}
