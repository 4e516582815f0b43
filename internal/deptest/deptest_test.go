package deptest

import (
	"fmt"
	"strings"
	"testing"
)

func TestPatterns(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"eidkiosk/authority/...", "eidkiosk/authority", true},
		{"eidkiosk/authority/...", "eidkiosk/authority/intake", true},
		{"eidkiosk/authority/...", "eidkiosk/authorityx", false},
		{"testing", "testing", true},
		{"testing", "testing/iotest", false},
		{"...test", "net/http/httptest", true},
		{"...test", "eidkiosk/ui/uitest", true},
		{"...test", "testing", false},
		{"github.com/jackc/pgx...", "github.com/jackc/pgx/v5/pgconn", true},
		{"github.com/jackc/pgx...", "github.com/jackc/pgpassfile", false},
	} {
		if got := patternRegexp(c.pattern).MatchString(c.path); got != c.want {
			t.Errorf("%q matches %q = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
}

// TestCatchesABadDep runs a rule that must fail on a known import: this
// package imports os/exec, which imports internal/godebug. The violation
// names the import and a real chain to it.
func TestCatchesABadDep(t *testing.T) {
	vs, n, err := DepChecker{
		Pkgs:    []string{"eidkiosk/internal/deptest"},
		BadDeps: map[string]string{"os/exec": "known import", "internal/godebug": "known indirect import", "net/http/...": "not imported"},
	}.Violations()
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("only %d packages listed", n)
	}
	got := map[string]Violation{}
	for _, v := range vs {
		got[v.Pkg] = v
	}
	if len(got) != 2 {
		t.Fatalf("violations %v, want os/exec and internal/godebug only", vs)
	}
	v := got["os/exec"]
	if v.Reason != "known import" || strings.Join(v.Chain, " ") != "eidkiosk/internal/deptest os/exec" {
		t.Errorf("os/exec violation %+v", v)
	}
	v = got["internal/godebug"]
	if len(v.Chain) < 3 || v.Chain[0] != "eidkiosk/internal/deptest" || v.Chain[len(v.Chain)-1] != "internal/godebug" {
		t.Errorf("internal/godebug chain %v", v.Chain)
	}
	if s := v.String(); !strings.Contains(s, "known indirect import") || !strings.Contains(s, " → ") {
		t.Errorf("String() = %q", s)
	}
}

// TestReportsWhereTheChainEnters: a pattern covering a whole tree is
// reported at the package through which the chain enters it, and Allow
// takes a package out of a pattern.
func TestReportsWhereTheChainEnters(t *testing.T) {
	re := patternRegexp("internal/...")
	vs, _, err := DepChecker{Pkgs: []string{"eidkiosk/internal/deptest"}, BadDeps: map[string]string{"internal/...": "x"}}.Violations()
	if err != nil || len(vs) == 0 {
		t.Fatalf("%v %v", vs, err)
	}
	all, err := DepChecker{Pkgs: []string{"eidkiosk/internal/deptest"}}.list()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range all {
		if re.MatchString(p.ImportPath) {
			n++
		}
	}
	if len(vs) >= n {
		t.Fatalf("%d violations for %d internal packages: not collapsed", len(vs), n)
	}
	for _, v := range vs {
		for _, q := range v.Chain[:len(v.Chain)-1] {
			if re.MatchString(q) {
				t.Errorf("%s reported although its chain entered internal/ at %s", v.Pkg, q)
			}
		}
	}
	vs, _, err = DepChecker{
		Pkgs:    []string{"eidkiosk/internal/deptest"},
		BadDeps: map[string]string{"os/...": "x"},
		Allow:   map[string]string{"os/exec": "allowed here"},
	}.Violations()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Pkg == "os/exec" {
			t.Errorf("allowed package reported: %v", v)
		}
	}
	if len(vs) == 0 {
		t.Fatal("Allow hid the rest of the pattern too")
	}
}

// TestCheckReportsThroughT makes sure Check turns a violation into a test
// error (through a recording testing.TB) and a clean rule into none.
func TestCheckReportsThroughT(t *testing.T) {
	bad := &recorder{TB: t}
	DepChecker{Pkgs: []string{"eidkiosk/internal/deptest"}, BadDeps: map[string]string{"os/exec": "known"}}.Check(bad)
	if len(bad.errors) != 1 || !strings.Contains(bad.errors[0], "os/exec: known") {
		t.Fatalf("errors %q", bad.errors)
	}
	good := &recorder{TB: t}
	DepChecker{Pkgs: []string{"eidkiosk/internal/deptest"}, BadDeps: map[string]string{"net/http": "not imported"}, WantDeps: []string{"encoding/json"}}.Check(good)
	if len(good.errors) != 0 {
		t.Fatalf("a clean rule reported %q", good.errors)
	}
}

func TestWantDepsAndStaleRules(t *testing.T) {
	vs, _, err := DepChecker{Pkgs: []string{"eidkiosk/internal/deptest"}, WantDeps: []string{"net/http"}}.Violations()
	if err != nil || len(vs) != 1 || vs[0].Pkg != "net/http" {
		t.Fatalf("missing WantDep: %v %v", vs, err)
	}
	_, _, err = DepChecker{Pkgs: []string{"eidkiosk/internal/deptest"}, BadDeps: map[string]string{"eidkiosk/no/such/package/...": "moved"}}.Violations()
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("a stale rule was not reported: %v", err)
	}
}

// TestNoCgo finds the cgo under a package that links OpenCV, and leaves the
// standard library's optional cgo alone.
func TestNoCgo(t *testing.T) {
	vs, _, err := DepChecker{Pkgs: []string{"eidkiosk/drivers/camera"}, NoCgo: "pure Go"}.Violations()
	if err != nil {
		t.Fatal(err)
	}
	cgo := false
	for _, v := range vs {
		if strings.HasPrefix(v.Pkg, "gocv.io/") && v.Chain[0] == "eidkiosk/drivers/camera" {
			cgo = true
		}
		if strings.HasPrefix(v.Pkg, "runtime/") || v.Pkg == "net" {
			t.Errorf("standard library cgo reported: %v", v)
		}
	}
	if !cgo {
		t.Fatalf("gocv not reported as cgo: %v", vs)
	}
}

// TestTestDeps lists a package with its tests: the test-only import
// (testing) is a dependency only with Test set, and the chain reads through
// the test variant.
func TestTestDeps(t *testing.T) {
	rule := DepChecker{Pkgs: []string{"eidkiosk/internal/clock"}, BadDeps: map[string]string{"testing": "tests only"}}
	vs, _, err := rule.Violations()
	if err != nil || len(vs) != 0 {
		t.Fatalf("without Test: %v %v", vs, err)
	}
	rule.Test = true
	vs, _, err = rule.Violations()
	if err != nil || len(vs) == 0 || vs[0].Pkg != "testing" {
		t.Fatalf("with Test: %v %v", vs, err)
	}
}

type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
func (r *recorder) Logf(string, ...any) {}
