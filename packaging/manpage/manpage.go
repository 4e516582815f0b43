// Package manpage writes a manual page (man(7) roff) for a command from
// the command's own --help output, so the page cannot drift from the
// program: mkdeb runs each shipped binary with --help and, for the
// commands built on internal/cli (kioskctl, eidkiosk-authority), each
// sub-command with --help, and installs the pages gzipped (gzip -9n).
//
// It reads the help layout this repository's commands print: a first
// "usage: ..." line, paragraphs of text, a "flags:" paragraph in the
// format of flag.PrintDefaults, and a "commands:" paragraph of
// "  name  summary" lines. It does not run groff or check the page (the
// tests and lintian do), and it knows no other help layout.
package manpage

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// ErrNoUsage is returned when a command's help does not start with a
// "usage:" line.
var ErrNoUsage = errors.New("manpage: help does not start with a usage line")

// Page says which page to write.
type Page struct {
	Binary  string    // the program to run with --help
	Name    string    // the command's name on the page, e.g. kioskctl
	Section string    // "1" commands, "8" system administration
	Date    time.Time // the page's date (the build's)
	Source  string    // e.g. "eidkiosk 0.1.0"
}

// Help is one parsed --help output.
type Help struct {
	Usage    string      // after "usage: "
	Summary  string      // one line for NAME
	Text     []string    // paragraphs of description
	Flags    []Flag      // from the "flags:" paragraph
	Commands [][2]string // name, summary from the "commands:" paragraph
}

// Flag is one flag as flag.PrintDefaults prints it.
type Flag struct {
	Name, Arg, Text string
}

// Generate runs the binary's --help (and each sub-command's) and renders
// the page.
func Generate(ctx context.Context, p Page) ([]byte, error) {
	top, err := run(ctx, p.Binary)
	if err != nil {
		return nil, err
	}
	var subs []Help
	for _, c := range top.Commands {
		h, err := run(ctx, p.Binary, strings.Fields(c[0])...)
		if err != nil {
			return nil, err
		}
		if h.Summary == "" {
			h.Summary = c[1]
		}
		subs = append(subs, h)
	}
	return Render(p, top, subs), nil
}

// run runs binary [words] --help in the C locale with UTF-8 (no display
// needed) and parses what it prints on stdout and stderr (flag prints
// asked-for help on stderr).
func run(ctx context.Context, binary string, words ...string) (Help, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append(words, "--help")...)
	cmd.Env = append(os.Environ(), "LANG=C.UTF-8", "LC_ALL=", "LANGUAGE=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return Help{}, fmt.Errorf("manpage: %s %s --help: %w", binary, strings.Join(words, " "), err)
	}
	h, err := Parse(string(out))
	if err != nil {
		return Help{}, fmt.Errorf("manpage: %s %s --help: %w", binary, strings.Join(words, " "), err)
	}
	return h, nil
}

var (
	flagLine    = regexp.MustCompile(`^  -(\S+)(?: (\S+))?$`)
	commandLine = regexp.MustCompile(`^  (\S(?:\S| \S)*)\s{2,}(.*)$`)
	named       = regexp.MustCompile(`^[\w-]+: (.+)$`)
)

// Parse reads one --help output.
func Parse(help string) (Help, error) {
	paras := strings.Split(strings.TrimSpace(strings.ReplaceAll(help, "\r", "")), "\n\n")
	first, rest, _ := strings.Cut(paras[0], "\n")
	usage, ok := strings.CutPrefix(first, "usage: ")
	if !ok {
		return Help{}, ErrNoUsage
	}
	h := Help{Usage: strings.TrimSpace(usage)}
	if rest = strings.TrimSpace(rest); rest != "" {
		paras = append([]string{rest}, paras[1:]...)
	} else {
		paras = paras[1:]
	}
	for _, p := range paras {
		switch {
		case p == "flags:": // a command without flags
		case strings.HasPrefix(p, "flags:\n"):
			h.Flags = parseFlags(strings.TrimPrefix(p, "flags:\n"))
		case strings.HasPrefix(p, "commands:\n"):
			for _, l := range strings.Split(strings.TrimPrefix(p, "commands:\n"), "\n") {
				if m := commandLine.FindStringSubmatch(l); m != nil {
					h.Commands = append(h.Commands, [2]string{m[1], m[2]})
				}
			}
		default:
			if m := named.FindStringSubmatch(p); m != nil && h.Summary == "" && len(h.Text) == 0 {
				h.Summary = m[1] // "kioskctl: technicians' tool ..."
				continue
			}
			h.Text = append(h.Text, strings.Join(strings.Fields(p), " "))
		}
	}
	if h.Summary == "" && len(h.Text) > 0 {
		// The first sentence of the description.
		s := h.Text[0]
		if i := strings.Index(s, ". "); i > 0 {
			s = s[:i]
		}
		h.Summary = strings.TrimSuffix(s, ".")
		if strings.TrimSuffix(h.Text[0], ".") == h.Summary {
			h.Text = h.Text[1:] // the summary was the whole paragraph
		}
	}
	return h, nil
}

func parseFlags(p string) []Flag {
	var fs []Flag
	for _, l := range strings.Split(p, "\n") {
		if m := flagLine.FindStringSubmatch(l); m != nil {
			fs = append(fs, Flag{Name: m[1], Arg: m[2]})
			continue
		}
		// "  -v\tverbose" (a bool flag with a one-letter name)
		if strings.HasPrefix(l, "  -") && strings.Contains(l, "\t") {
			n, t, _ := strings.Cut(strings.TrimPrefix(l, "  -"), "\t")
			fs = append(fs, Flag{Name: strings.TrimSpace(n), Text: strings.TrimSpace(t)})
			continue
		}
		if len(fs) > 0 && strings.TrimSpace(l) != "" {
			last := &fs[len(fs)-1]
			last.Text = strings.TrimSpace(last.Text + " " + strings.TrimSpace(l))
		}
	}
	return fs
}

// Render writes the page of a command and its sub-commands.
func Render(p Page, top Help, subs []Help) []byte {
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w(".\\\" Generated by eidkiosk packaging/manpage from %s --help; do not edit.\n", p.Name)
	w(".TH %s %s %s %s %s\n", quote(strings.ToUpper(p.Name)), p.Section, quote(p.Date.UTC().Format("2006-01-02")), quote(p.Source), quote("eidkiosk manual"))
	w(".SH NAME\n%s \\- %s\n", esc(p.Name), esc(top.Summary))
	w(".SH SYNOPSIS\n.B %s\n%s\n", esc(p.Name), esc(strings.TrimSpace(strings.TrimPrefix(top.Usage, p.Name))))
	if len(top.Text) > 0 {
		w(".SH DESCRIPTION\n")
		paragraphs(&b, top.Text)
	}
	if len(top.Flags) > 0 {
		w(".SH OPTIONS\n")
		flags(&b, top.Flags)
	}
	if len(subs) > 0 {
		w(".SH COMMANDS\n")
		for _, s := range subs {
			w(".SS %s\n", quote(s.Usage))
			w("%s\n", esc(s.Summary))
			paragraphs(&b, s.Text)
			if len(s.Flags) > 0 {
				w(".PP\nFlags:\n.RS\n")
				flags(&b, s.Flags)
				w(".RE\n")
			}
		}
	}
	return b.Bytes()
}

func paragraphs(b *bytes.Buffer, ps []string) {
	for _, p := range ps {
		fmt.Fprintf(b, ".PP\n%s\n", esc(p))
	}
}

func flags(b *bytes.Buffer, fs []Flag) {
	for _, f := range fs {
		fmt.Fprintf(b, ".TP\n.B \\-%s", esc(f.Name))
		if f.Arg != "" {
			fmt.Fprintf(b, " \\fI%s\\fR", esc(f.Arg))
		}
		fmt.Fprintf(b, "\n%s\n", esc(f.Text))
	}
}

// esc makes text safe as roff input: backslashes, minus signs, and a
// leading control character.
func esc(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// quote is esc for a macro argument.
func quote(s string) string {
	return `"` + strings.ReplaceAll(esc(s), `"`, `\(dq`) + `"`
}

// Gzip compresses a page as gzip -9n does: best compression, no name, no
// time stamp (reproducible; lintian's package-contains-timestamped-gzip).
func Gzip(page []byte) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("manpage: %w", err)
	}
	if _, err := zw.Write(page); err != nil {
		return nil, fmt.Errorf("manpage: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("manpage: %w", err)
	}
	return b.Bytes(), nil
}
