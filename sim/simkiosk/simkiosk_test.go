package simkiosk

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/session"
	"eidkiosk/ui/uitest"
)

// TestConsoleWalksAVisit drives the reader console through a pipe, as the
// person at the keyboard does on stdin: the card placed with "place 0" is
// read over the pty by the real poller and shown (masked) by the engine;
// "remove" and "unplug" reach the engine too; "quit" stops the kiosk.
func TestConsoleWalksAVisit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	views := make(chan session.View, 1024)
	in, console := io.Pipe()
	defer console.Close()
	var out uitest.Buffer // the console writes from its goroutine
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Dir: t.TempDir(), Console: in, Out: &out, Headless: true,
			OnView: func(v session.View) {
				select {
				case views <- v:
				default:
				}
			}})
	}()
	// wait returns the first view that ok accepts.
	wait := func(what string, ok func(session.View) bool) session.View {
		t.Helper()
		for {
			select {
			case v := <-views:
				if ok(v) {
					return v
				}
			case err := <-done:
				t.Fatalf("kiosk stopped waiting for %s: %v\nconsole:\n%s", what, err, out.String())
			case <-ctx.Done():
				t.Fatalf("waiting for %s: %v\nconsole:\n%s", what, ctx.Err(), out.String())
			}
		}
	}
	say := func(line string) {
		t.Helper()
		if _, err := fmt.Fprintln(console, line); err != nil {
			t.Fatal(err)
		}
	}

	wait("the reader", func(v session.View) bool { return v.State == session.Attract && v.ReaderOK })
	say("place 0")
	v := wait("the card's data", func(v session.View) bool { return v.State == session.DataShown })
	if v.Card == nil || len(v.Card.Number) != 18 || !strings.Contains(v.Card.Number, "*") {
		t.Errorf("card shown %+v, want a masked 18-character number", v.Card)
	}
	say("remove")
	say("unplug")
	wait("the reader fault", func(v session.View) bool { return !v.ReaderOK })
	say("quit")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("quit did not stop the kiosk")
	}
	got := out.String()
	for _, want := range []string{"place N", "card 0 placed", "card removed", "unplugged", "bye"} {
		if !strings.Contains(got, want) {
			t.Errorf("console output lacks %q:\n%s", want, got)
		}
	}
}

// TestNoDisplay: a windowed run without a display says how to run instead.
func TestNoDisplay(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	if err := Run(context.Background(), Options{Dir: t.TempDir()}); err != ErrNoDisplay {
		t.Fatalf("Run = %v, want ErrNoDisplay", err)
	}
}

// TestMissingModelIsUnavailable: a kiosk whose face models are missing
// starts anyway (no crash, no fallback to another detector) and its engine
// reports the camera side down from the start, so a visit ends on the
// camera fault screen instead of capturing.
func TestMissingModelIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := config.Default()
	base.Face.ModelsDir = t.TempDir() // empty: every model missing
	views := make(chan session.View, 1024)
	done := make(chan error, 1)
	var out uitest.Buffer
	go func() {
		done <- Run(ctx, Options{Dir: t.TempDir(), Base: &base, Out: &out, Headless: true,
			OnView: func(v session.View) {
				select {
				case views <- v:
				default:
				}
			}})
	}()
	for {
		select {
		case v := <-views:
			if v.State == session.Attract && v.ReaderOK && !v.CameraOK {
				cancel()
				<-done
				return
			}
		case err := <-done:
			t.Fatalf("kiosk stopped: %v", err)
		case <-ctx.Done():
			t.Fatal("no view with the camera side down")
		}
	}
}
