package i18n

import (
	"regexp"
	"strings"
	"testing"
)

var verb = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)

func TestFilesComplete(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	zh, en := c.Keys(ZH), c.Keys(EN)
	if len(zh) < 100 {
		t.Fatalf("only %d zh-CN keys", len(zh))
	}
	for _, k := range zh {
		if !c.Has(EN, k) {
			t.Errorf("%q in zh-CN.toml, missing in en.toml", k)
		}
	}
	for _, k := range en {
		if !c.Has(ZH, k) {
			t.Errorf("%q in en.toml, missing in zh-CN.toml", k)
		}
	}
	for _, k := range zh {
		a, b := c.msgs[ZH][k], c.msgs[EN][k]
		if va, vb := strings.Join(verb.FindAllString(a, -1), ","), strings.Join(verb.FindAllString(b, -1), ","); va != vb {
			t.Errorf("%q: format verbs differ: zh-CN %q, en %q", k, va, vb)
		}
		if strings.TrimSpace(a) == "" || strings.TrimSpace(b) == "" {
			t.Errorf("%q: empty text", k)
		}
	}
}

func TestLookupAndFallback(t *testing.T) {
	c := MustLoad()
	if got := c.T(ZH, "attract.start"); got != "开始办理" {
		t.Errorf("zh start = %q", got)
	}
	if got := c.T(EN, "common.seconds", 7); got != "7 s left" {
		t.Errorf("en seconds = %q", got)
	}
	if got := c.T(ZH, "no.such.key"); got != "no.such.key" {
		t.Errorf("unknown key = %q", got)
	}
	// Guidance and challenge keys from the face helper.
	for _, k := range []string{"face.move_closer", "face.too_dark", "face.look_straight", "face.one_face",
		"face.hold_still", "challenge.blink", "challenge.turn_left", "challenge.turn_right",
		"challenge.look_up", "challenge.look_down", "challenge.tilt_left", "challenge.tilt_right", "challenge.move_back",
		"challenge.smile", "challenge.move_closer", "challenge.open_mouth"} {
		for _, l := range Langs {
			g := c.Guidance(l, k)
			if g == k || g == c.T(l, "face.generic") {
				t.Errorf("%s %s: not translated (%q)", l, k, g)
			}
		}
	}
	for _, k := range []string{"challenge.wink_twice", "face.new_check", "attract.title", ""} {
		if g := c.Guidance(EN, k); g != "Please follow the instructions on the screen" {
			t.Errorf("unknown guidance %q = %q, want the generic text", k, g)
		}
	}
	// A key missing in one language falls back to the other.
	c.msgs[EN] = map[string]string{}
	if got := c.T(EN, "attract.start"); got != "开始办理" {
		t.Errorf("fallback = %q", got)
	}
	if Other(ZH) != EN || Other(EN) != ZH || Other("fr") != EN {
		t.Error("Other")
	}
}

func TestParseRejectsNonStrings(t *testing.T) {
	if _, err := Parse("[a]\nb = 3\n"); err == nil || !strings.Contains(err.Error(), "a.b") {
		t.Errorf("err = %v", err)
	}
	if _, err := Parse("[a\n"); err == nil {
		t.Error("broken TOML accepted")
	}
}
