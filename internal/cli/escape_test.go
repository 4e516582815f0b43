package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"NS-PSB-001":            "NS-PSB-001",
		"南山 政务中心":               "南山 政务中心",
		"a\x1b[31mred":          `a\x1b[31mred`,
		"slot\nKT-EVIL\tactive": `slot\nKT-EVIL\tactive`,
		"x\x7fy\u0085z":         `x\x7fy\u0085z`,
		"\u202egnp.exe":         `\u202egnp.exe`,
		"bad\xffutf8":           `bad\xffutf8`,
		"line\u2028break":       `line\u2028break`,
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	var b bytes.Buffer
	Row(&b, "KT-1", "a\nKT-2\tforged")
	if strings.Count(b.String(), "\n") != 1 || strings.Count(b.String(), "\t") != 1 {
		t.Fatalf("a value forged a row or a cell: %q", b.String())
	}
}
