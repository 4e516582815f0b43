// Package cli is the small sub-command framework shared by kioskctl and
// authority: a registry of commands, each with its own flag.FlagSet, a help
// text that lists every flag, and a context cancelled on SIGINT/SIGTERM.
//
// It does not parse configuration files; see kiosk/config.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Command is one sub-command, e.g. "card read".
type Command struct {
	Name    string // words separated by spaces: "card read"
	Summary string // one line
	Help    string // more for --help, after the summary (e.g. how to use it); may be empty
	Usage   string // arguments after the flags, e.g. "DIR"
	// Flags declares the command's flags on fs; may be nil.
	Flags func(fs *flag.FlagSet)
	// Run runs the command with the remaining positional arguments.
	Run func(ctx context.Context, args []string) error
}

// App is a set of commands.
type App struct {
	Name     string
	Summary  string
	Stdout   io.Writer
	Stderr   io.Writer
	commands []*Command
}

// Register adds commands.
func (a *App) Register(cs ...*Command) { a.commands = append(a.commands, cs...) }

// ErrUsage is returned for a wrong command line; Main exits 2 for it.
var ErrUsage = errors.New("usage")

// Main runs the app with os.Args and exits.
func (a *App) Main() {
	if a.Stdout == nil {
		a.Stdout = os.Stdout
	}
	if a.Stderr == nil {
		a.Stderr = os.Stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := a.Run(ctx, os.Args[1:])
	stop()
	switch {
	case err == nil:
	case errors.Is(err, ErrUsage):
		os.Exit(2)
	default:
		fmt.Fprintf(a.Stderr, "%s: %v\n", a.Name, err)
		os.Exit(1)
	}
}

// Run finds the longest registered command name matching args and runs it.
func (a *App) Run(ctx context.Context, args []string) error {
	sort.Slice(a.commands, func(i, j int) bool { return a.commands[i].Name < a.commands[j].Name })
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		a.help(a.Stdout, "")
		if len(args) == 0 {
			return ErrUsage
		}
		return nil
	}
	var best *Command
	bestN := 0
	for _, c := range a.commands {
		words := strings.Fields(c.Name)
		if len(words) <= len(args) && len(words) > bestN && equal(words, args[:len(words)]) {
			best, bestN = c, len(words)
		}
	}
	if best == nil {
		a.help(a.Stderr, args[0])
		fmt.Fprintf(a.Stderr, "%s: unknown command %q\n", a.Name, strings.Join(args, " "))
		return ErrUsage
	}
	fs := flag.NewFlagSet(a.Name+" "+best.Name, flag.ContinueOnError)
	fs.SetOutput(a.Stderr)
	if best.Flags != nil {
		best.Flags(fs)
	}
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: %s %s [flags] %s\n\n%s\n\n", a.Name, best.Name, best.Usage, best.Summary)
		if best.Help != "" {
			fmt.Fprintf(w, "%s\n\n", best.Help)
		}
		fmt.Fprintf(w, "flags:\n")
		fs.PrintDefaults()
	}
	for _, arg := range args[bestN:] {
		if arg == "-h" || arg == "-help" || arg == "--help" {
			fs.SetOutput(a.Stdout) // asked-for help goes to stdout, once
			break
		}
		if arg == "--" {
			break
		}
	}
	if err := fs.Parse(args[bestN:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // flag has printed the usage
		}
		return ErrUsage
	}
	return best.Run(ctx, fs.Args())
}

func (a *App) help(w io.Writer, prefix string) {
	// The usage first, as each command's own help and flag's do.
	fmt.Fprintf(w, "usage: %s COMMAND [flags] [args]\n\n%s: %s\n\ncommands:\n", a.Name, a.Name, a.Summary)
	width := 0
	for _, c := range a.commands {
		width = max(width, len(c.Name))
	}
	for _, c := range a.commands {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\n'%s COMMAND --help' describes every flag of a command.\n", a.Name)
}

func equal(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
