package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

func testApp(ran *[]string) (*App, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	a := &App{Name: "tool", Summary: "a tool", Stdout: &out, Stderr: &errb}
	var n int
	a.Register(&Command{Name: "card read", Summary: "read one card", Help: "Place the card on the antenna.",
		Flags: func(fs *flag.FlagSet) { fs.IntVar(&n, "baud", 115200, "line rate") },
		Run: func(ctx context.Context, args []string) error {
			*ran = append(*ran, "card read", strings.Join(args, ","))
			return nil
		}},
		&Command{Name: "card", Summary: "card commands", Run: func(ctx context.Context, args []string) error {
			*ran = append(*ran, "card")
			return nil
		}})
	return a, &out, &errb
}

func TestLongestMatchAndArgs(t *testing.T) {
	var ran []string
	a, _, _ := testApp(&ran)
	if err := a.Run(context.Background(), []string{"card", "read", "--baud", "9600", "x"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Run(context.Background(), []string{"card"}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ran, "|") != "card read|x|card" {
		t.Fatalf("ran %q", ran)
	}
}

func TestHelpOnceOnStdout(t *testing.T) {
	var ran []string
	a, out, errb := testApp(&ran)
	if err := a.Run(context.Background(), []string{"card", "read", "--help"}); err != nil {
		t.Fatal(err)
	}
	if c := strings.Count(out.String(), "usage: tool card read"); c != 1 || errb.Len() != 0 {
		t.Fatalf("help printed %d times on stdout; stderr %q", c, errb.String())
	}
	if !strings.Contains(out.String(), "read one card\n\nPlace the card on the antenna.\n\nflags:") {
		t.Fatalf("help does not show the summary, then the help text: %q", out.String())
	}
	if !strings.Contains(out.String(), "-baud") || !strings.Contains(out.String(), "line rate") {
		t.Fatalf("help does not describe the flag: %q", out.String())
	}
	if len(ran) != 0 {
		t.Fatal("--help ran the command")
	}
}

// TestAppHelpStartsWithUsage: the first line of `tool --help` is the
// usage (issue 16), as for each command.
func TestAppHelpStartsWithUsage(t *testing.T) {
	var ran []string
	a, out, _ := testApp(&ran)
	if err := a.Run(context.Background(), []string{"--help"}); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(out.String(), "\n"); first != "usage: tool COMMAND [flags] [args]" {
		t.Fatalf("first line %q, want the usage", first)
	}
}

func TestUnknownAndBadFlags(t *testing.T) {
	var ran []string
	a, _, errb := testApp(&ran)
	if err := a.Run(context.Background(), []string{"frobnicate"}); !errors.Is(err, ErrUsage) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(errb.String(), `unknown command "frobnicate"`) {
		t.Fatalf("stderr %q", errb.String())
	}
	if err := a.Run(context.Background(), []string{"card", "read", "--nope"}); !errors.Is(err, ErrUsage) {
		t.Fatalf("err = %v", err)
	}
}
