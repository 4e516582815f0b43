// Package logging sets up log/slog for the kiosk binaries: text on a
// terminal, JSON under systemd (or whenever stderr is not a terminal), a ring
// of the last lines for technician mode, and a last line of defence against
// personal data: besides pii.Text values (which print as "[redacted]"
// themselves), any string that looks like a Chinese ID or permit number is
// replaced before it is written.
//
// It does not ship logs anywhere; journald does that on the appliance.
package logging

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"

	"eidkiosk/internal/pii"
)

// idLike matches 15- and 18-character identity numbers and 9-character
// mainland-travel-permit style numbers embedded in text.
var idLike = regexp.MustCompile(`\b(\d{17}[\dXx]|\d{15}|[HMhm]\d{8,10})\b`)

// Scrub replaces identity-number-like runs in s with "[redacted]".
func Scrub(s string) string {
	if !strings.ContainsAny(s, "0123456789") {
		return s
	}
	return idLike.ReplaceAllString(s, pii.Redacted)
}

// Options say how to log: Format is "json", "text" or "" (JSON unless w is
// a terminal); Level is a slog level name ("debug", "info", ...; "" = info).
type Options struct {
	Format string
	Level  string
}

// New returns a logger for c writing to w (normally os.Stderr), and the
// ring of its last lines.
func New(c Options, w io.Writer) (*slog.Logger, *Tail) {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: scrubAttr}
	tail := NewTail(200)
	out := io.MultiWriter(w, tail)
	var h slog.Handler
	if useJSON(c.Format, w) {
		h = slog.NewJSONHandler(out, opts)
	} else {
		h = slog.NewTextHandler(out, opts)
	}
	return slog.New(scrubHandler{h}), tail
}

func useJSON(format string, w io.Writer) bool {
	switch format {
	case "json":
		return true
	case "text":
		return false
	}
	if os.Getenv("JOURNAL_STREAM") != "" || os.Getenv("INVOCATION_ID") != "" {
		return true
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err != nil || fi.Mode()&os.ModeCharDevice == 0
}

func scrubAttr(groups []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(Scrub(a.Value.String()))
	case slog.KindAny:
		switch v := a.Value.Any().(type) {
		case error:
			a.Value = slog.StringValue(Scrub(v.Error()))
		case fmt.Stringer:
			a.Value = slog.StringValue(Scrub(v.String()))
		}
	}
	return a
}

// scrubHandler scrubs the message (attributes are scrubbed by ReplaceAttr).
type scrubHandler struct{ slog.Handler }

func (h scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Message = Scrub(r.Message)
	return h.Handler.Handle(ctx, r)
}

func (h scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return scrubHandler{h.Handler.WithAttrs(as)}
}

func (h scrubHandler) WithGroup(name string) slog.Handler {
	return scrubHandler{h.Handler.WithGroup(name)}
}

// Tail keeps the last n lines written to it.
type Tail struct {
	mu    sync.Mutex
	lines []string
	n     int
	part  []byte
}

// NewTail returns a ring of n lines.
func NewTail(n int) *Tail { return &Tail{n: n} }

// Write implements io.Writer.
func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, string(t.part[:i]))
		t.part = t.part[i+1:]
		if len(t.lines) > t.n {
			t.lines = t.lines[len(t.lines)-t.n:]
		}
	}
	return len(p), nil
}

// Lines returns up to the last n lines, oldest first.
func (t *Tail) Lines(n int) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n > len(t.lines) {
		n = len(t.lines)
	}
	return append([]string(nil), t.lines[len(t.lines)-n:]...)
}
