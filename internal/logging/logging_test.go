package logging

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"eidkiosk/internal/pii"
)

func TestNoPersonalDataReachesTheLog(t *testing.T) {
	var buf bytes.Buffer
	for _, format := range []string{"json", "text"} {
		log, tail := New(Options{Format: format, Level: "debug"}, &buf)
		name := pii.Text("张三")
		num := "990101199003071237"
		log.Info("read card "+num, "name", name, "err", fmt.Errorf("idcard: bad number %s", num), "n", pii.Text(num))
		log.With("id", num).WithGroup("g").Info("x", "old", "110105194912310021")
		out := buf.String()
		for _, s := range []string{"张三", num, "110105194912310021"} {
			if strings.Contains(out, s) {
				t.Errorf("%s log contains %q: %s", format, s, out)
			}
		}
		if !strings.Contains(out, pii.Redacted) {
			t.Errorf("%s: nothing redacted: %s", format, out)
		}
		if l := tail.Lines(10); len(l) != 2 || strings.Contains(strings.Join(l, ""), num) {
			t.Errorf("tail = %q", l)
		}
		buf.Reset()
	}
}

func TestScrubKeepsOrdinaryNumbers(t *testing.T) {
	for _, s := range []string{"outbox depth 12", "took 112ms", "enrollment 0193a1b2-7c3d", "port /dev/ttyUSB0 at 115200"} {
		if Scrub(s) != s {
			t.Errorf("Scrub(%q) = %q", s, Scrub(s))
		}
	}
	if got := Scrub("id 44010119900307123X."); got != "id [redacted]." {
		t.Errorf("got %q", got)
	}
}

func TestTailRing(t *testing.T) {
	tl := NewTail(3)
	for i := 0; i < 5; i++ {
		fmt.Fprintf(tl, "line %d\n", i)
	}
	fmt.Fprint(tl, "partial")
	if got := tl.Lines(10); strings.Join(got, ",") != "line 2,line 3,line 4" {
		t.Fatalf("got %q", got)
	}
}
