package app

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"eidkiosk/internal/logging"
	"eidkiosk/ui/techstatus"
)

// TestParseLogLine takes apart lines the kiosk's own logger wrote, in both
// of its formats: time to the nanosecond, level, message and every other
// field in order, the ID-number scrubber's work kept.
func TestParseLogLine(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			log, tail := logging.New(logging.Options{Format: format}, &out)
			log.Warn("uplink: upload failed", "err", "dial tcp 127.0.0.1:443: connection refused", "attempt", 3,
				"card", "440106199001011234")
			log.Info("visit ended", slog.Group("visit", "outcome", "completed"))
			lines := tail.Lines(8)
			if len(lines) != 2 {
				t.Fatalf("tail %q", lines)
			}
			got := parseLogLine(lines[0])
			if got.At.IsZero() || time.Since(got.At) > time.Minute || got.At.Nanosecond() == 0 && format == "json" {
				t.Errorf("time %v from %q", got.At, lines[0])
			}
			want := []techstatus.Field{{Key: "err", Value: "dial tcp 127.0.0.1:443: connection refused"}, {Key: "attempt", Value: "3"},
				{Key: "card", Value: "[redacted]"}}
			if got.Level != "WARN" || got.Msg != "uplink: upload failed" || len(got.Fields) != len(want) {
				t.Fatalf("parsed %+v from %q", got, lines[0])
			}
			for i, f := range want {
				if got.Fields[i] != f {
					t.Errorf("field %d = %+v, want %+v", i, got.Fields[i], f)
				}
			}
			g := parseLogLine(lines[1])
			if g.Msg != "visit ended" || len(g.Fields) != 1 || !strings.Contains(g.Fields[0].Key+"="+g.Fields[0].Value, "completed") {
				t.Errorf("group line parsed as %+v from %q", g, lines[1])
			}
		})
	}
	if l := parseLogLine("not a log line"); l.Msg != "not a log line" || !l.At.IsZero() {
		t.Errorf("a foreign line is kept whole as the message: %+v", l)
	}
}
