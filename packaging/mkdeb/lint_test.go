package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// lintianErrors runs lintian on the packages and returns its error lines
// (E:), the warnings logged.
func lintianErrors(t *testing.T, debs ...string) []string {
	t.Helper()
	need(t, "lintian")
	out, err := exec.Command("lintian", append([]string{"--tag-display-limit", "0", "--allow-root"}, debs...)...).CombinedOutput()
	var errs []string
	for _, l := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(l, "E: "):
			errs = append(errs, l)
		case strings.HasPrefix(l, "W: "):
			t.Log(l)
		}
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("lintian: %v\n%s", err, out)
	}
	return errs
}

// checkSBOMs extracts a package and checks that the SBOM it ships for each
// binary lists every module `go version -m` reports for that binary.
func checkSBOMs(t *testing.T, deb string) (binaries int) {
	t.Helper()
	root := t.TempDir()
	run(t, "dpkg-deb", "-x", deb, root)
	pkg := strings.Fields(run(t, "dpkg-deb", "--field", deb, "Package"))[0]
	for b, path := range installed {
		bin := filepath.Join(root, path)
		if _, err := os.Stat(bin); err != nil {
			continue
		}
		binaries++
		sbomPath := filepath.Join(root, "usr/share/doc", pkg, "sbom", manPages[b].Name+".cdx.json")
		raw, err := os.ReadFile(sbomPath)
		if err != nil {
			t.Errorf("%s: no SBOM for %s: %v", pkg, path, err)
			continue
		}
		var sbom struct {
			BOMFormat string `json:"bomFormat"`
			Metadata  struct {
				Component struct{ Name, Version string }
			}
			Components []struct{ Name, Version, Purl string }
		}
		if err := json.Unmarshal(raw, &sbom); err != nil || sbom.BOMFormat != "CycloneDX" {
			t.Errorf("%s: %v, format %q", sbomPath, err, sbom.BOMFormat)
			continue
		}
		listed := map[string]bool{}
		for _, c := range sbom.Components {
			listed[c.Name+" "+c.Version] = true
		}
		mods := goVersionM(t, bin)
		if len(mods) == 0 {
			t.Fatalf("go version -m %s lists no module", bin)
		}
		for _, m := range mods {
			if !listed[m] {
				t.Errorf("%s: the SBOM of %s lacks %s (go version -m lists it)", pkg, path, m)
			}
		}
	}
	return binaries
}

var depLine = regexp.MustCompile(`^\s*(?:dep|=>)\s+(\S+)\s+(\S+)`)

// goVersionM returns "path version" of each module `go version -m`
// reports for the binary (the replacement of a replaced one).
func goVersionM(t *testing.T, bin string) []string {
	t.Helper()
	var mods []string
	for _, l := range strings.Split(run(t, "go", "version", "-m", bin), "\n") {
		if m := depLine.FindStringSubmatch(l); m != nil {
			if strings.HasPrefix(strings.TrimSpace(l), "=>") && len(mods) > 0 {
				mods = mods[:len(mods)-1]
			}
			mods = append(mods, m[1]+" "+m[2])
		}
	}
	return mods
}

// TestLintian: lintian finds no error in the packages (nor in the -dbgsym
// packages); its warnings are logged and listed in the README.
func TestLintian(t *testing.T) {
	pkgs, _ := build(t)
	var debs []string
	for _, p := range pkgs {
		debs = append(debs, p.Path)
	}
	if errs := lintianErrors(t, debs...); len(errs) > 0 {
		t.Fatalf("lintian errors:\n%s", strings.Join(errs, "\n"))
	}
}

// TestSBOM: each package with binaries ships a CycloneDX SBOM per binary
// listing every module go version -m reports for it.
func TestSBOM(t *testing.T) {
	pkgs, dir := build(t)
	for _, name := range []string{"eidkiosk-kiosk", "eidkiosk-authority"} {
		if n := checkSBOMs(t, pkgs[name].Path); n != len(binaries[strings.TrimPrefix(name, "eidkiosk-")]) {
			t.Errorf("%s: %d binaries checked", name, n)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "sbom", "*.cdx.json")); len(files) != 4 {
		t.Errorf("SBOMs beside the packages: %v, want 4", files)
	}
}

// TestStrippedWithDebugSymbols: the shipped binaries carry no symbol
// table; the -dbgsym package holds their debug symbols under their build
// IDs, and still knows their modules (go version -m on the stripped one).
func TestStrippedWithDebugSymbols(t *testing.T) {
	pkgs, _ := build(t)
	root := t.TempDir()
	run(t, "dpkg-deb", "-x", pkgs["eidkiosk-kiosk"].Path, root)
	run(t, "dpkg-deb", "-x", pkgs["eidkiosk-kiosk-dbgsym"].Path, root)
	ctl := run(t, "dpkg-deb", "--info", pkgs["eidkiosk-kiosk-dbgsym"].Path)
	for _, want := range []string{"Section: debug", "Depends: eidkiosk-kiosk (= 1.2.3)", "Auto-Built-Package: debug-symbols", "Build-Ids: "} {
		if !strings.Contains(ctl, want) {
			t.Errorf("dbgsym control lacks %q:\n%s", want, ctl)
		}
	}
	for _, path := range []string{"usr/bin/kioskctl", "usr/lib/eidkiosk/kiosk"} {
		bin := filepath.Join(root, path)
		if out := run(t, "objdump", "-h", bin); strings.Contains(out, ".symtab") || strings.Contains(out, ".debug_info") {
			t.Errorf("%s is not stripped:\n%s", path, out)
		}
		if err := checkHardened(bin); err != nil {
			t.Error(err)
		}
		id, err := buildID(bin)
		if err != nil || id == "" {
			t.Fatalf("%s: build ID %q: %v", path, id, err)
		}
		dbg := filepath.Join(root, "usr/lib/debug/.build-id", id[:2], id[2:]+".debug")
		if out := run(t, "objdump", "-h", dbg); !strings.Contains(out, ".debug_info") && !strings.Contains(out, ".zdebug_info") {
			t.Errorf("%s holds no debug info:\n%s", dbg, out)
		}
		if len(goVersionM(t, bin)) == 0 {
			t.Errorf("%s: stripping lost the Go build information", path)
		}
	}
}

// TestCopyrightNamesEveryModule: the copyright file has a paragraph with a
// licence for each module linked into the package's binaries.
func TestCopyrightNamesEveryModule(t *testing.T) {
	pkgs, _ := build(t)
	root := t.TempDir()
	run(t, "dpkg-deb", "-x", pkgs["eidkiosk-authority"].Path, root)
	b, err := os.ReadFile(filepath.Join(root, "usr/share/doc/eidkiosk-authority/copyright"))
	if err != nil {
		t.Fatal(err)
	}
	c := string(b)
	if !strings.HasPrefix(c, "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n") {
		t.Fatalf("not DEP-5:\n%.300s", c)
	}
	mods := goVersionM(t, filepath.Join(root, "usr/bin/eidkiosk-authority"))
	for _, m := range mods {
		path, version, _ := strings.Cut(m, " ")
		para := regexp.MustCompile(`(?m)^Files: ` + regexp.QuoteMeta(path) + `/\*\nCopyright: [^\n]+\n(?: [^\n]*\n)*License: (\S[^\n]*)\n`).FindStringSubmatch(c)
		if para == nil {
			t.Errorf("no paragraph for %s", m)
			continue
		}
		if para[1] == "unknown" {
			t.Errorf("%s: no licence found", m)
		}
		if !strings.Contains(c, "Go module "+path+" "+version+",") {
			t.Errorf("%s: version not named", m)
		}
	}
	// semver's MIT licence is copied, its holder found.
	if !regexp.MustCompile(`(?s)Files: github.com/Masterminds/semver/v3/\*\nCopyright: [^\n]*Matt Butcher[^\n]*\nLicense: MIT\n Copyright`).MatchString(c) {
		t.Errorf("semver's paragraph:\n%s", c)
	}
}

// TestManPages: each binary has its page, generated from its --help.
func TestManPages(t *testing.T) {
	pkgs, _ := build(t)
	for pkg, pages := range map[string][]string{
		"eidkiosk-kiosk":     {"man1/kioskctl.1.gz", "man8/kiosk.8.gz", "man8/kiosk-launch.8.gz"},
		"eidkiosk-authority": {"man1/eidkiosk-authority.1.gz"},
	} {
		c := run(t, "dpkg-deb", "--contents", pkgs[pkg].Path)
		for _, p := range pages {
			if !strings.Contains(c, "./usr/share/man/"+p+"\n") {
				t.Errorf("%s lacks %s", pkg, p)
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	for _, m := range []string{"", "eidkiosk maintainers <eidkiosk@localhost>", "<it@city.example.org>", "City IT"} {
		_, err := Build(Options{Version: "1.0.0", Maintainer: m, Bin: t.TempDir(), Out: t.TempDir(), Root: repoRoot(t)})
		if !errors.Is(err, ErrMaintainer) {
			t.Errorf("maintainer %q: %v, want ErrMaintainer", m, err)
		}
	}
	// A binary built without the hardening flags is refused.
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "authority"), "./cmd/kiosk-launch")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	_, err := Build(Options{Version: "1.0.0", Maintainer: testMaintainer, Bin: dir, Out: t.TempDir(), Root: repoRoot(t), Packages: []string{"authority"}})
	if !errors.Is(err, ErrNotHardened) {
		t.Fatalf("unhardened binary: %v, want ErrNotHardened", err)
	}
}

// TestBuiltPackages checks the packages `make deb` built (the directory
// in EIDKIOSK_DEB_DIST; `make lintian` sets it): no lintian error, and an
// SBOM per binary listing every module go version -m reports for it.
func TestBuiltPackages(t *testing.T) {
	dist := os.Getenv("EIDKIOSK_DEB_DIST")
	if dist == "" {
		t.Skip("EIDKIOSK_DEB_DIST is not set (make lintian)")
	}
	debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
	if len(debs) == 0 {
		t.Fatalf("no .deb in %s", dist)
	}
	if errs := lintianErrors(t, debs...); len(errs) > 0 {
		t.Errorf("lintian errors:\n%s", strings.Join(errs, "\n"))
	}
	n := 0
	for _, d := range debs {
		if !strings.Contains(d, "-dbgsym_") {
			n += checkSBOMs(t, d)
		}
	}
	if n != 4 {
		t.Errorf("%d binaries with SBOMs in %s, want 4", n, dist)
	}
}
