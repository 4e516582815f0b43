package outbox

import (
	"fmt"
	"io"
	"path/filepath"
	"time"
)

// Subdir is the outbox's directory inside the kiosk's state directory.
const Subdir = "outbox"

// DirIn is the outbox directory of a state directory.
func DirIn(stateDir string) string { return filepath.Join(stateDir, Subdir) }

// WriteStatus prints the outbox state for `kioskctl outbox status`.
func WriteStatus(w io.Writer, s Stats, now time.Time) {
	age := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), now.Sub(t).Round(time.Second))
	}
	fmt.Fprintf(w, "pending:   %d packages, %d bytes\n", s.Pending, s.Bytes)
	if s.Pending > 0 {
		fmt.Fprintf(w, "oldest:    %s, %d attempts\n", age(s.Oldest), s.LastAttempts)
	}
	fmt.Fprintf(w, "refused:   %d", s.Refused)
	if s.Refused > 0 {
		fmt.Fprintf(w, " (last: %s; export them and call city IT)", s.LastRefusal)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "acked:     %d in the last %s\n", s.Acked, AckedRetention)
	fmt.Fprintf(w, "last ack:  %s\n", age(s.LastAck))
	if s.Disabled != "" {
		fmt.Fprintf(w, "DISABLED:  the authority refused this terminal (%s)\n", s.Disabled)
	}
}
