package pii

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestTextNeverPrints(t *testing.T) {
	v := Text("张三 990101199003071237")
	for _, verb := range []string{"%s", "%v", "%+v", "%#v", "%q", "%x", "%X", "%d"} {
		if got := fmt.Sprintf(verb, v); strings.Contains(got, "张") || strings.Contains(got, "9901") || strings.Contains(got, "e5bca0") {
			t.Errorf("fmt %s leaked: %q", verb, got)
		}
	}
	s := struct{ N Text }{v}
	if got := fmt.Sprintf("%+v %#v", s, s); strings.Contains(got, "9901") {
		t.Errorf("struct leaked: %q", got)
	}
	j, _ := json.Marshal(s)
	if bytes.Contains(j, []byte("9901")) {
		t.Errorf("json leaked: %s", j)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "n", v, "s", s)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "n", v)
	if strings.Contains(buf.String(), "9901") {
		t.Errorf("slog leaked: %s", buf.String())
	}
	if v.Reveal() != "张三 990101199003071237" {
		t.Errorf("Reveal = %q", v.Reveal())
	}
}

func TestMask(t *testing.T) {
	cases := []struct{ in, want string }{
		{"张三", "张*"},
		{"欧阳娜娜", "欧***"},
		{"", ""},
		{"A", "*"},
	}
	for _, c := range cases {
		if got := Mask(c.in, 0); got != c.want {
			t.Errorf("Mask(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := MaskID("44010119900307123X"); got != "4401**********123X" {
		t.Errorf("MaskID = %q", got)
	}
	if got := MaskID("H1234567"); got != "******67" {
		t.Errorf("MaskID short = %q", got)
	}
}

func TestZero(t *testing.T) {
	b := []byte{1, 2, 3}
	Zero(b)
	if !bytes.Equal(b, []byte{0, 0, 0}) {
		t.Fatal(b)
	}
}
