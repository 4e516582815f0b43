package main

import (
	"os/exec"
	"strings"
	"testing"
)

// forbidden are the packages the appliance must never link, each with the
// reason. A rule ending in "/" forbids the package and everything below it.
var forbidden = []struct{ pkg, why string }{
	{"eidkiosk/authority/", "the reference authority's keys, registry and intake are the other end of the wire"},
	{"eidkiosk/sim/", "a terminal must have no way into simulation short of installing another binary"},
	{"eidkiosk/drivers/idcard/sim", "the simulated reader belongs to kioskctl and tests"},
	{"github.com/jackc/pgx/", "PostgreSQL is the authority's store"},
	{"testing", "test code is not production code"},
	{"net/http/httptest", "test servers are not production code"},
}

// testSupportAllowed are packages named *test that are not test support.
var testSupportAllowed = map[string]string{
	"eidkiosk/provisioning/selftest": "the kiosk's own start-up and technician self-test",
}

// TestDependencies keeps simulators, test helpers and the reference
// authority out of the kiosk binary (and so out of its .deb).
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{else}}std:{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 50 {
		t.Fatalf("go list listed only %d packages:\n%s", len(pkgs), out)
	}
	for _, line := range pkgs {
		std := strings.HasPrefix(line, "std:")
		pkg := strings.TrimPrefix(line, "std:")
		for _, f := range forbidden {
			if pkg == f.pkg || pkg == strings.TrimSuffix(f.pkg, "/") || (strings.HasSuffix(f.pkg, "/") && strings.HasPrefix(pkg, f.pkg)) {
				t.Errorf("cmd/kiosk links %s: %s", pkg, f.why)
			}
		}
		// A package named *test is test support (httptest, gpiotest,
		// uitest), except the standard library's own internals.
		if strings.HasSuffix(pkg, "test") && !(std && strings.Contains(pkg, "internal/")) {
			if _, ok := testSupportAllowed[pkg]; !ok {
				t.Errorf("cmd/kiosk links test support package %s: test helpers stay in tests", pkg)
			}
		}
	}
}
