package main

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/google/licensecheck"
	"golang.org/x/mod/module"
)

// linkedModule is a Go module linked into one or more binaries, with the
// licence found for it in the module cache.
type linkedModule struct {
	Path, Version string
	Binaries      []string
	LicenceFile   string   // e.g. LICENSE; "" when the module has none
	IDs           []string // SPDX identifiers licensecheck recognised
	Text          string
	Holders       []string // the licence file's copyright lines
}

// linkedModules lists the modules `go version -m` reports for the
// binaries (the replacement where a module is replaced), sorted by path.
func linkedModules(binaries map[string]string) ([]*linkedModule, error) {
	byKey := map[string]*linkedModule{}
	names := make([]string, 0, len(binaries))
	for n := range binaries {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		bi, err := buildinfo.ReadFile(binaries[name])
		if err != nil {
			return nil, fmt.Errorf("mkdeb: reading the Go build information of %s: %w", name, err)
		}
		for _, d := range bi.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			key := d.Path + "@" + d.Version
			m := byKey[key]
			if m == nil {
				m = &linkedModule{Path: d.Path, Version: d.Version}
				byKey[key] = m
			}
			if !slices.Contains(m.Binaries, name) {
				m.Binaries = append(m.Binaries, name)
			}
		}
	}
	out := make([]*linkedModule, 0, len(byKey))
	for _, m := range byKey {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path+"@"+out[i].Version < out[j].Path+"@"+out[j].Version })
	return out, nil
}

// moduleCache is `go env GOMODCACHE`.
func moduleCache() (string, error) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("mkdeb: go env GOMODCACHE: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

var holderLine = regexp.MustCompile(`(?i)^\s*(?:copyright\b|\(c\)|©)\s*(?:\(c\)|©)?\s*(.*\d{4}.*)$`)

// findLicence fills in the module's licence from its directory in the
// module cache: the first LICENSE, LICENCE or COPYING file at its root.
func findLicence(cache string, m *linkedModule) error {
	ep, err := module.EscapePath(m.Path)
	if err != nil {
		return fmt.Errorf("mkdeb: %s: %w", m.Path, err)
	}
	ev, err := module.EscapeVersion(m.Version)
	if err != nil {
		return fmt.Errorf("mkdeb: %s: %w", m.Path, err)
	}
	dir := filepath.Join(cache, ep+"@"+ev)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("mkdeb: %s %s is not in the module cache (go mod download): %w", m.Path, m.Version, err)
	}
	for _, e := range entries {
		up := strings.ToUpper(e.Name())
		if e.IsDir() || !(strings.HasPrefix(up, "LICEN") || strings.HasPrefix(up, "COPYING")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("mkdeb: %w", err)
		}
		matches := licensecheck.Scan(b).Match
		for _, match := range matches {
			if !slices.Contains(m.IDs, match.ID) {
				m.IDs = append(m.IDs, match.ID)
			}
		}
		m.LicenceFile, m.Text = e.Name(), strings.TrimSpace(strings.ReplaceAll(string(cutCommon(b, matches)), "\r", ""))
		for _, l := range strings.Split(m.Text, "\n") {
			if h := holderLine.FindStringSubmatch(l); h != nil {
				m.Holders = append(m.Holders, strings.TrimSpace(h[1]))
			}
		}
		return nil
	}
	return nil
}

// cutCommon replaces, in a licence file that holds more than one licence
// (e.g. MIT and the whole Apache-2.0 text), the full text of each licence
// Debian ships in /usr/share/common-licenses by a reference to it: the
// copyright file copies the rest (lintian's
// copyright-file-contains-full-apache-2-license). A file of a single
// licence is referred to as a whole by copyrightFile.
func cutCommon(b []byte, matches []licensecheck.Match) []byte {
	if len(matches) < 2 {
		return b
	}
	ms := slices.Clone(matches)
	slices.SortFunc(ms, func(x, y licensecheck.Match) int { return y.Start - x.Start })
	out := slices.Clone(b)
	for _, m := range ms {
		common, ok := commonLicences[m.ID]
		if !ok || m.Start < 0 || m.End > len(out) || m.Start >= m.End {
			continue
		}
		ref := fmt.Sprintf("[The full text of the %s licence: on Debian systems in /usr/share/common-licenses/%s.]", m.ID, common)
		out = slices.Concat(out[:m.Start], []byte(ref), out[m.End:])
	}
	return out
}

// commonLicences are the licences Debian ships in /usr/share/common-licenses,
// by SPDX identifier: the copyright file refers to them instead of copying
// them (lintian's copyright-not-using-common-license-for-*).
var commonLicences = map[string]string{
	"Apache-2.0": "Apache-2.0", "MPL-2.0": "MPL-2.0", "CC0-1.0": "CC0-1.0",
	"GPL-2.0": "GPL-2", "GPL-2.0-only": "GPL-2", "GPL-2.0-or-later": "GPL-2",
	"GPL-3.0": "GPL-3", "GPL-3.0-only": "GPL-3", "GPL-3.0-or-later": "GPL-3",
	"LGPL-2.1": "LGPL-2.1", "LGPL-2.1-only": "LGPL-2.1", "LGPL-2.1-or-later": "LGPL-2.1",
	"LGPL-3.0": "LGPL-3", "LGPL-3.0-only": "LGPL-3", "LGPL-3.0-or-later": "LGPL-3",
}

// copyrightFile writes the package's machine-readable copyright file
// (https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/):
// the project itself, then one paragraph per linked Go module with its
// own licence text (or a reference to /usr/share/common-licenses).
func copyrightFile(pkg, maintainer, year string, mods []*linkedModule) string {
	var b strings.Builder
	holder := maintainer
	if i := strings.Index(holder, " <"); i > 0 {
		holder = holder[:i]
	}
	fmt.Fprintf(&b, `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: eidkiosk
Upstream-Contact: %s
Comment: The programs in %s are statically linked Go binaries. Each Files
 paragraph after the first names a Go module linked into them, as
 "go version -m" reports it, with the licence file of that module version
 from the Go module cache. The C libraries they call (OpenCV, libGL, X11)
 are linked dynamically and covered by their own packages' copyright files.

Files: *
Copyright: %s %s
License: proprietary
 All rights reserved. Distributed to the operators of eidkiosk terminals
 under the terms of their contract.
`, maintainer, pkg, year, holder)
	for _, m := range mods {
		b.WriteString("\n")
		fmt.Fprintf(&b, "Files: %s/*\n", m.Path)
		holders := m.Holders
		if len(holders) == 0 {
			holders = []string{"the authors of " + m.Path}
		}
		fmt.Fprintf(&b, "Copyright: %s\n", strings.Join(holders, "\n "))
		short := "unknown"
		switch {
		case len(m.IDs) > 0:
			short = strings.Join(m.IDs, " and ")
		case m.LicenceFile != "":
			short = "other"
		}
		fmt.Fprintf(&b, "License: %s\n", short)
		switch common, ok := commonLicences[short]; {
		case ok:
			fmt.Fprintf(&b, " On Debian systems, the complete text of the licence is in\n /usr/share/common-licenses/%s.\n", common)
		case m.Text != "":
			for _, l := range strings.Split(m.Text, "\n") {
				if strings.TrimSpace(l) == "" {
					b.WriteString(" .\n")
				} else {
					b.WriteString(" " + l + "\n")
				}
			}
		default:
			b.WriteString(" The module ships no licence file.\n")
		}
		fmt.Fprintf(&b, "Comment: Go module %s %s, linked into %s", m.Path, m.Version, strings.Join(m.Binaries, ", "))
		if m.LicenceFile != "" {
			fmt.Fprintf(&b, "; licence from its %s", m.LicenceFile)
		}
		b.WriteString(".\n")
	}
	return b.String()
}
