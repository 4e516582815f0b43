package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

//go:generate go test -run ^TestReferenceCurrent$ -update

// ExampleCommented returns the default configuration as TOML with each
// section's and key's meaning above it, taken from the doc comments of
// the configuration's Go types (reference_gen.go, regenerated with `go
// generate`): `kioskctl config example --comments`, and the shipped
// /etc/eidkiosk/kiosk.toml.
func ExampleCommented() string {
	var raw strings.Builder
	enc := toml.NewEncoder(&raw)
	enc.Indent = ""
	_ = enc.Encode(Default())
	var b strings.Builder
	b.WriteString("# eidkiosk configuration. Every key is optional; shown here with its default.\n")
	b.WriteString("# Unknown keys are refused at start; `kioskctl config check` validates the file.\n")
	b.WriteString("# The reference with every key is /usr/share/doc/eidkiosk-kiosk/configuration.md.\n")
	section := ""
	for _, line := range strings.Split(strings.TrimRight(raw.String(), "\n"), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "["):
			section = strings.Trim(t, "[]")
			b.WriteString("\n")
			comment(&b, sectionDocs[section])
		case strings.Contains(t, "="):
			k := strings.TrimSpace(t[:strings.Index(t, "=")])
			if section != "" {
				k = section + "." + k
			}
			comment(&b, keyDocs[k])
		case t == "":
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

func comment(b *strings.Builder, text string) {
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			b.WriteString("# " + l + "\n")
		}
	}
}

// Reference returns docs/configuration.md: every section and key with its
// default and meaning.
func Reference() string {
	var raw strings.Builder
	_ = toml.NewEncoder(&raw).Encode(Default())
	defaults := map[string]string{}
	var order []string
	section := ""
	for _, line := range strings.Split(raw.String(), "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "["):
			section = strings.Trim(t, "[]")
			order = append(order, "["+section)
		case strings.Contains(t, "="):
			i := strings.Index(t, "=")
			k := strings.TrimSpace(t[:i])
			if section != "" {
				k = section + "." + k
			}
			defaults[k] = strings.TrimSpace(t[i+1:])
			order = append(order, k)
		}
	}
	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("<!-- Generated from the doc comments of kiosk/config by `go generate ./kiosk/config`; a test keeps it current. Do not edit. -->\n\n")
	b.WriteString("The kiosk reads one TOML file, `/etc/eidkiosk/kiosk.toml` (`kiosk --config`). Every key is\n")
	b.WriteString("optional and shown here with its default; unknown keys and impossible values are refused at\n")
	b.WriteString("start with the key's name and the fix (`kioskctl config check` checks a file).\n")
	b.WriteString("`kioskctl config example --comments` prints the whole file with these meanings.\n")
	b.WriteString("Secrets are never here: keys, certificates and the technician PIN live in the state directory.\n")
	if len(order) > 0 && !strings.HasPrefix(order[0], "[") {
		b.WriteString("\n## Top-level keys\n\n| key | default | meaning |\n| --- | --- | --- |\n")
	}
	for _, k := range order {
		if s, ok := strings.CutPrefix(k, "["); ok {
			fmt.Fprintf(&b, "\n## [%s]\n\n", s)
			if d := sectionDocs[s]; d != "" {
				b.WriteString(oneParagraph(d) + "\n\n")
			}
			b.WriteString("| key | default | meaning |\n| --- | --- | --- |\n")
			continue
		}
		name := k
		if i := strings.LastIndex(k, "."); i >= 0 {
			name = k[i+1:]
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s |\n", name, defaults[k], strings.ReplaceAll(oneParagraph(keyDocs[k]), "|", `\|`))
	}
	return b.String()
}

func oneParagraph(s string) string { return strings.Join(strings.Fields(s), " ") }

// undocumentedKeys lists the keys without a doc comment (the test refuses them).
func undocumentedKeys() []string {
	var out []string
	for _, k := range knownKeys() {
		if strings.TrimSpace(keyDocs[k]) == "" {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
