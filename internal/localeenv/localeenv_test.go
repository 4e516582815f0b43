package localeenv

import (
	"testing"

	"github.com/jeandeaual/go-locale"
	"golang.org/x/text/language"
)

// TestFix checks the rule against the same library Fyne reads the locale
// with: after Fix, every locale it reports parses as a language tag.
func TestFix(t *testing.T) {
	for _, c := range []struct {
		lcAll, lang, language string
		changed               bool
	}{
		{lang: "C.UTF-8", changed: true},
		{lang: "C.utf8", changed: true},
		{lang: "POSIX.UTF-8", changed: true},
		{lcAll: "C.UTF-8", lang: "de_DE.UTF-8", changed: true},
		{lang: "C"},
		{lang: ""},
		{lang: "POSIX"},
		{lang: "zh_CN.UTF-8"},
		{lang: "C.UTF-8", language: "zh_CN"},
		{lcAll: "de_DE.UTF-8", lang: "C.UTF-8"},
	} {
		t.Setenv("LC_ALL", c.lcAll)
		t.Setenv("LC_MESSAGES", "")
		t.Setenv("LANG", c.lang)
		t.Setenv("LANGUAGE", c.language)
		if got := Fix(); got != c.changed {
			t.Errorf("%+v: changed %v", c, got)
		}
		locs, err := locale.GetLocales()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range locs {
			if _, err := language.Parse(l); err != nil {
				t.Errorf("%+v: Fyne would read %q: %v", c, l, err)
			}
		}
	}
}
