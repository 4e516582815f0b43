package main

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
)

// symbolsDep computes the dependency on pkg for soname from the package's
// symbols file (deb-symbols(5)), as dpkg-shlibdeps does: the highest
// minimal version among the symbols the binary imports from that library.
// It reports false when the package has no symbols file for soname.
func symbolsDep(infoDir, pkg, soname string, imported []elf.ImportedSymbol) (string, bool) {
	var b []byte
	for _, name := range []string{pkg + ":" + debArch() + ".symbols", pkg + ".symbols"} {
		var err error
		if b, err = os.ReadFile(filepath.Join(infoDir, name)); err == nil {
			break
		}
	}
	if b == nil {
		return "", false
	}
	used := map[string]bool{}
	for _, s := range imported {
		if s.Library != soname && s.Library != "" {
			continue
		}
		v := s.Version
		if v == "" { // an unversioned import; symbols files spell it @Base
			v = "Base"
		}
		used[s.Name+"@"+v] = true
	}
	template, minver, in := "", "", false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case line == "":
		case line[0] != ' ' && line[0] != '|' && line[0] != '*' && line[0] != '#':
			// "libc.so.6 libc6 #MINVER#" starts a library's block
			fields := strings.Fields(line)
			in = len(fields) >= 2 && fields[0] == soname
			if in {
				template = strings.Join(fields[1:], " ")
			}
		case in && line[0] == ' ':
			// " symbol@VERSION minver [id]"; an id selects an alternative
			// dependency for private symbols, which a public binary does not use.
			fields := strings.Fields(line)
			if len(fields) >= 2 && used[fields[0]] && (minver == "" || compareVersions(fields[1], minver) > 0) {
				minver = fields[1]
			}
		}
	}
	if template == "" {
		return "", false
	}
	if minver == "" || minver == "0" { // "0": any version will do
		return strings.TrimSpace(strings.ReplaceAll(template, "#MINVER#", "")), true
	}
	return strings.ReplaceAll(template, "#MINVER#", "(>= "+minver+")"), true
}

// compareVersions compares two Debian versions (deb-version(7)): epoch,
// upstream version and revision, each compared in alternating non-digit
// and digit parts, '~' sorting before everything.
func compareVersions(a, b string) int {
	ea, ua, ra := splitVersion(a)
	eb, ub, rb := splitVersion(b)
	if c := compareNumbers(ea, eb); c != 0 {
		return c
	}
	if c := compareParts(ua, ub); c != 0 {
		return c
	}
	return compareParts(ra, rb)
}

func splitVersion(v string) (epoch, upstream, revision string) {
	epoch = "0"
	if i := strings.IndexByte(v, ':'); i >= 0 {
		epoch, v = v[:i], v[i+1:]
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func compareParts(a, b string) int {
	for a != "" || b != "" {
		i, j := 0, 0
		for i < len(a) && !isDigit(a[i]) {
			i++
		}
		for j < len(b) && !isDigit(b[j]) {
			j++
		}
		if c := compareLexical(a[:i], b[:j]); c != 0 {
			return c
		}
		a, b = a[i:], b[j:]
		i, j = 0, 0
		for i < len(a) && isDigit(a[i]) {
			i++
		}
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if c := compareNumbers(a[:i], b[:j]); c != 0 {
			return c
		}
		a, b = a[i:], b[j:]
	}
	return 0
}

func order(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case c == '~':
		return -1
	case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
		return int(c)
	default:
		return int(c) + 256
	}
}

func compareLexical(a, b string) int {
	for i := 0; i < len(a) || i < len(b); i++ {
		if oa, ob := order(a, i), order(b, i); oa != ob {
			if oa < ob {
				return -1
			}
			return 1
		}
	}
	return 0
}

func compareNumbers(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	switch {
	case len(a) != len(b):
		if len(a) < len(b) {
			return -1
		}
		return 1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
