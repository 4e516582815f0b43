// Package i18n holds the touch UI's strings in Simplified Chinese and English,
// one TOML file per language embedded in the binary (zh-CN.toml, en.toml),
// and looks them up by "section.key".
//
// Lookups never fail: a key missing in a language falls back to the other
// language, a face-guidance or liveness-challenge key unknown to both falls
// back to a generic "follow the instructions", and any other unknown key is
// returned as is (a test keeps the files complete). It does not choose the
// language: the session engine does (View.Lang).
package i18n

import (
	"embed"
	"fmt"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Languages, in the order the UI offers them.
const (
	ZH = "zh-CN"
	EN = "en"
)

// Langs lists the supported languages.
var Langs = []string{ZH, EN}

//go:embed zh-CN.toml en.toml
var files embed.FS

// Catalog is the loaded translations. Its zero value is not usable; use Load.
type Catalog struct {
	msgs map[string]map[string]string // lang → key → text
}

// Load parses the embedded translation files.
func Load() (*Catalog, error) {
	c := &Catalog{msgs: map[string]map[string]string{}}
	for _, l := range Langs {
		b, err := files.ReadFile(l + ".toml")
		if err != nil {
			return nil, fmt.Errorf("i18n: %w", err)
		}
		m, err := Parse(string(b))
		if err != nil {
			return nil, fmt.Errorf("i18n: %s.toml: %w", l, err)
		}
		c.msgs[l] = m
	}
	return c, nil
}

// MustLoad is Load for the embedded files, which a test keeps valid.
func MustLoad() *Catalog {
	c, err := Load()
	if err != nil {
		panic(err)
	}
	return c
}

// Parse reads one translation file into a flat map of "section.key" to text.
func Parse(text string) (map[string]string, error) {
	var raw map[string]any
	if _, err := toml.Decode(text, &raw); err != nil {
		return nil, err
	}
	out := map[string]string{}
	var walk func(prefix string, v any) error
	walk = func(prefix string, v any) error {
		switch v := v.(type) {
		case string:
			out[prefix] = v
		case map[string]any:
			for k, x := range v {
				key := k
				if prefix != "" {
					key = prefix + "." + k
				}
				if err := walk(key, x); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("%s: not a string", prefix)
		}
		return nil
	}
	if err := walk("", raw); err != nil {
		return nil, err
	}
	return out, nil
}

// Other returns the language that is not lang.
func Other(lang string) string {
	if lang == EN {
		return ZH
	}
	return EN
}

// Has reports whether key exists in lang.
func (c *Catalog) Has(lang, key string) bool {
	_, ok := c.msgs[lang][key]
	return ok
}

// Keys returns the keys of lang, sorted.
func (c *Catalog) Keys(lang string) []string {
	ks := make([]string, 0, len(c.msgs[lang]))
	for k := range c.msgs[lang] {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// T returns the text of key in lang, formatted with args when given.
func (c *Catalog) T(lang, key string, args ...any) string {
	s, ok := c.lookup(lang, key)
	if !ok {
		return key
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Guidance translates a message key from the face pipeline ("face.…",
// "challenge.…"); unknown keys become the generic "follow the instructions".
func (c *Catalog) Guidance(lang, key string) string {
	if s, ok := c.lookup(lang, key); ok && (strings.HasPrefix(key, "face.") || strings.HasPrefix(key, "challenge.")) {
		return s
	}
	return c.T(lang, "face.generic")
}

func (c *Catalog) lookup(lang, key string) (string, bool) {
	if s, ok := c.msgs[lang][key]; ok {
		return s, true
	}
	if s, ok := c.msgs[Other(lang)][key]; ok {
		return s, true
	}
	return "", false
}
