// Package deptest checks what a package links: it runs `go list -deps -json`
// (with -test when asked) over some packages and reports every forbidden
// dependency with its reason and the import chain that brings it in, every
// expected dependency that is missing, and, when asked, every cgo package
// outside the standard library. It is the shape of tailscale's
// tstest/deptest: the rules are data (package => reason) in each package's
// own test.
//
// It does not look at source files or build anything: what `go list` says
// the build would link is what it checks. It needs the go tool on PATH.
package deptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// DepChecker is one dependency rule.
//
// Patterns (the keys of BadDeps, the entries of WantDeps) follow the go
// command's: "..." matches any string, and "p/..." also matches p itself;
// so "eidkiosk/authority/..." is the authority and everything under it, and
// "...test" is every package whose path ends in "test" (httptest, uitest).
type DepChecker struct {
	GOOS   string // optional
	GOARCH string // optional
	// Pkgs are the packages checked, as the go command takes them
	// ("eidkiosk/cmd/kiosk", "eidkiosk/drivers/..."); "." when empty.
	Pkgs []string
	// BadDeps maps a forbidden package pattern to why it is forbidden. A
	// forbidden package is reported once, where the import chain first
	// enters the pattern (pgx, not each of pgx's own packages).
	BadDeps map[string]string
	// Allow maps a pattern to why a package it matches is allowed although
	// a BadDeps pattern matches it too ("...test" forbids test helpers;
	// provisioning/selftest is a feature, not one).
	Allow map[string]string
	// WantDeps must each match at least one dependency: they keep a rule
	// from passing because the packages it names stopped being listed.
	WantDeps []string
	// Tags are build tags, comma-separated.
	Tags string
	// Test adds the packages' tests and their dependencies (go list -test):
	// for rules about what the tests link.
	Test bool
	// NoCgo, when set, is the reason no package outside the standard
	// library may have cgo files (the standard library's optional cgo in
	// net, os/user and runtime/cgo is allowed).
	NoCgo string
}

// Violation is one broken rule.
type Violation struct {
	Pkg    string   // the offending dependency (or the missing pattern)
	Reason string   // the rule's reason
	Chain  []string // one import chain from a checked package to Pkg
}

func (v Violation) String() string {
	if len(v.Chain) == 0 {
		return fmt.Sprintf("%s: %s", v.Pkg, v.Reason)
	}
	return fmt.Sprintf("%s: %s (via %s)", v.Pkg, v.Reason, strings.Join(v.Chain, " → "))
}

// listed is the part of `go list -json` the checker reads.
type listed struct {
	ImportPath string
	Standard   bool
	DepOnly    bool
	CgoFiles   []string
	Imports    []string
	Error      *struct{ Err string }
}

// Check runs the rule and reports each violation as a test error.
func (c DepChecker) Check(t testing.TB) {
	t.Helper()
	vs, n, err := c.Violations()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Errorf("%s", v)
	}
	t.Logf("%s: %d dependencies checked", strings.Join(c.pkgs(), " "), n)
}

func (c DepChecker) pkgs() []string {
	if len(c.Pkgs) == 0 {
		return []string{"."}
	}
	return c.Pkgs
}

// Violations runs the rule and returns what breaks it and how many packages
// were checked; the error is for a rule that could not be checked (go list
// failed, a forbidden package of this module no longer exists).
func (c DepChecker) Violations() ([]Violation, int, error) {
	pkgs, err := c.list()
	if err != nil {
		return nil, 0, err
	}
	if err := c.badDepsExist(); err != nil {
		return nil, 0, err
	}
	byPath := map[string]*listed{}
	var roots []string
	for i := range pkgs {
		p := &pkgs[i]
		byPath[p.ImportPath] = p
		if !p.DepOnly {
			roots = append(roots, p.ImportPath)
		}
	}
	bad := make([]*regexp.Regexp, 0, len(c.BadDeps))
	keys := make([]string, 0, len(c.BadDeps))
	for k := range c.BadDeps {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		bad = append(bad, patternRegexp(k))
	}
	allowed := func(path string) bool {
		for a := range c.Allow {
			if patternRegexp(a).MatchString(path) {
				return true
			}
		}
		return false
	}
	var vs []Violation
	for _, p := range pkgs {
		path := basePath(p.ImportPath)
		if allowed(path) {
			continue
		}
		for i, re := range bad {
			if !re.MatchString(path) {
				continue
			}
			ch := chain(byPath, roots, p.ImportPath)
			// Entered the forbidden set earlier on this chain: that
			// package is the one reported.
			if len(ch) > 1 && slices.ContainsFunc(ch[:len(ch)-1], func(q string) bool { return re.MatchString(q) && !allowed(q) }) {
				continue
			}
			vs = append(vs, Violation{Pkg: path, Reason: c.BadDeps[keys[i]], Chain: ch})
		}
		if c.NoCgo != "" && !p.Standard && len(p.CgoFiles) > 0 {
			vs = append(vs, Violation{Pkg: path, Reason: c.NoCgo, Chain: chain(byPath, roots, p.ImportPath)})
		}
	}
	for _, w := range c.WantDeps {
		re := patternRegexp(w)
		if !slices.ContainsFunc(pkgs, func(p listed) bool { return re.MatchString(basePath(p.ImportPath)) }) {
			vs = append(vs, Violation{Pkg: w, Reason: "expected as a dependency and not found"})
		}
	}
	return vs, len(pkgs), nil
}

// list runs go list and decodes its stream of JSON objects.
func (c DepChecker) list() ([]listed, error) {
	args := []string{"list", "-deps", "-json=ImportPath,Standard,DepOnly,CgoFiles,Imports,Error"}
	if c.Test {
		args = append(args, "-test")
	}
	if c.Tags != "" {
		args = append(args, "-tags="+c.Tags)
	}
	args = append(args, c.pkgs()...)
	cmd := exec.Command("go", args...)
	cmd.Env = os.Environ()
	if c.GOOS != "" {
		cmd.Env = append(cmd.Env, "GOOS="+c.GOOS)
	}
	if c.GOARCH != "" {
		cmd.Env = append(cmd.Env, "GOARCH="+c.GOARCH)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("deptest: go %s: %w\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("deptest: decoding go list: %w", err)
		}
		if p.Error != nil {
			return nil, fmt.Errorf("deptest: go list %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("deptest: go list %s matched no packages", strings.Join(c.pkgs(), " "))
	}
	return pkgs, nil
}

// badDepsExist keeps rules honest across moves: a forbidden package of this
// module that no longer exists is a stale rule, reported like tailscale's.
func (c DepChecker) badDepsExist() error {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		return fmt.Errorf("deptest: finding the main module: %w", err)
	}
	mod, dir, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
	if !ok {
		return fmt.Errorf("deptest: finding the main module: %q", out)
	}
	for k := range c.BadDeps {
		rest, ok := strings.CutPrefix(strings.TrimSuffix(k, "/..."), mod+"/")
		if !ok || strings.Contains(rest, "...") {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(rest))); err != nil {
			return fmt.Errorf("deptest: forbidden package %q does not exist any more (moved?): update the rule", k)
		}
	}
	return nil
}

// patternRegexp turns a go command package pattern into a regexp.
func patternRegexp(pattern string) *regexp.Regexp {
	re := regexp.QuoteMeta(pattern)
	re = strings.ReplaceAll(re, `\.\.\.`, `.*`)
	if strings.HasSuffix(re, `/.*`) {
		re = strings.TrimSuffix(re, `/.*`) + `(/.*)?`
	}
	return regexp.MustCompile(`^` + re + `$`)
}

// basePath drops the test variant suffix go list -test adds
// ("p [q.test]" → "p").
func basePath(importPath string) string {
	p, _, _ := strings.Cut(importPath, " ")
	return p
}

// chain finds one shortest import chain from a checked package to target.
func chain(byPath map[string]*listed, roots []string, target string) []string {
	prev := map[string]string{}
	queue := []string{}
	for _, r := range roots {
		if _, seen := prev[r]; !seen {
			prev[r] = ""
			queue = append(queue, r)
		}
	}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == target {
			var out []string
			for q := p; q != ""; q = prev[q] {
				out = append(out, basePath(q))
			}
			slices.Reverse(out)
			return out
		}
		if l := byPath[p]; l != nil {
			for _, imp := range l.Imports {
				if _, seen := prev[imp]; !seen {
					prev[imp] = p
					queue = append(queue, imp)
				}
			}
		}
	}
	return nil
}
