package main

import (
	"eidkiosk/internal/repotest"

	"bufio"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"eidkiosk/facemodel"
	"eidkiosk/kiosk/config"
)

// repoRoot walks up from the package directory to the one holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	return repotest.Root(t)
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
}

// hardenedFlags are the Makefile's build flags that mkdeb requires.
var hardenedFlags = []string{"-buildmode=pie", "-ldflags=-linkmode=external -extldflags=-Wl,-z,relro,-z,now"}

// stageBinaries puts a real Go program, kiosk-launch built as the
// Makefile builds (PIE, external linking, full RELRO; it links libc and
// seven modules), where each of the kiosk's binaries goes: the test is
// about the packaging.
func stageBinaries(t *testing.T) string {
	t.Helper()
	need(t, "gcc", "objcopy")
	src := filepath.Join(t.TempDir(), "kiosk-launch")
	cmd := exec.Command("go", append(append([]string{"build"}, hardenedFlags...), "-o", src, "./cmd/kiosk-launch")...)
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range []string{"kiosk", "kioskctl", "kiosk-launch", "authority"} {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

const testMaintainer = "eidkiosk test build <eidkiosk@city.example.org>"

var (
	buildOnce sync.Once
	buildDir  string
	buildRes  map[string]Result
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// build builds both packages once for all tests.
func build(t *testing.T) (map[string]Result, string) {
	t.Helper()
	need(t, "dpkg-deb", "dpkg", "/sbin/ldconfig")
	bin := stageBinaries(t)
	root := repoRoot(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "mkdeb-test-")
		if buildErr != nil {
			return
		}
		var res []Result
		res, buildErr = Build(Options{Version: "1.2.3", Bin: bin, Out: buildDir, Root: root, Maintainer: testMaintainer,
			SBOM: true, Packages: []string{"kiosk", "authority", "face-models"}})
		buildRes = map[string]Result{}
		for _, r := range res {
			buildRes[r.Name] = r
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildRes, buildDir
}

func TestKioskPackage(t *testing.T) {
	pkgs, _ := build(t)
	k, ok := pkgs["eidkiosk-kiosk"]
	if !ok {
		t.Fatalf("built %v", pkgs)
	}
	info := run(t, "dpkg-deb", "--info", k.Path)
	for _, want := range []string{"Package: eidkiosk-kiosk", "Version: 1.2.3", "Architecture: " + debArch()} {
		if !strings.Contains(info, want) {
			t.Errorf("control lacks %q:\n%s", want, info)
		}
	}
	depends := field(info, "Depends")
	for _, want := range []string{"cage", "xwayland", "fonts-noto-cjk", "espeak-ng", "opencv-data", "seatd", "udev"} {
		if !hasDep(depends, want) {
			t.Errorf("Depends %q lacks %s", depends, want)
		}
	}
	// The stand-in binaries link libc: the shlibs lookup must add it, versioned.
	if !regexp.MustCompile(`libc6 \(>= [0-9.]+\)`).MatchString(depends) {
		t.Errorf("Depends %q lacks the versioned libc6 of the linked libc.so.6", depends)
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		if !strings.Contains(info, script) {
			t.Errorf("control archive lacks %s", script)
		}
	}

	contents := run(t, "dpkg-deb", "--contents", k.Path)
	for path, mode := range map[string]string{
		"./usr/lib/eidkiosk/kiosk":                              "-rwxr-xr-x",
		"./usr/bin/kioskctl":                                    "-rwxr-xr-x",
		"./usr/bin/kiosk-launch":                                "-rwxr-xr-x",
		"./etc/eidkiosk/kiosk.toml":                             "-rw-r-----",
		"./usr/lib/systemd/system/eidkiosk-kiosk.service":       "-rw-r--r--",
		"./usr/lib/udev/rules.d/70-eidkiosk.rules":              "-rw-r--r--",
		"./usr/lib/sysusers.d/eidkiosk.conf":                    "-rw-r--r--",
		"./usr/lib/tmpfiles.d/eidkiosk.conf":                    "-rw-r--r--",
		"./usr/lib/systemd/journald.conf.d/eidkiosk.conf":       "-rw-r--r--",
		"./usr/share/doc/eidkiosk-kiosk/operations.md":          "-rw-r--r--",
		"./usr/share/eidkiosk-kiosk/monitoring/kiosk.rules.yml": "-rw-r--r--",
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(mode) + ` root/root .* ` + regexp.QuoteMeta(path) + `$`).MatchString(contents) {
			t.Errorf("contents lack %s %s:\n%s", mode, path, contents)
		}
	}

	// The configuration files are conffiles (kept on upgrade), and the
	// default kiosk.toml is the one kiosk/config accepts.
	ctl := t.TempDir()
	run(t, "dpkg-deb", "--control", k.Path, ctl)
	conffiles, _ := os.ReadFile(filepath.Join(ctl, "conffiles"))
	for _, want := range []string{"/etc/eidkiosk/kiosk.toml"} {
		if !strings.Contains(string(conffiles), want) {
			t.Errorf("conffiles %q lacks %s", conffiles, want)
		}
	}
	root := t.TempDir()
	run(t, "dpkg-deb", "-x", k.Path, root)
	if _, err := config.Load(filepath.Join(root, "etc/eidkiosk/kiosk.toml")); err != nil {
		t.Fatalf("packaged kiosk.toml is refused: %v", err)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		run(t, "sh", "-n", filepath.Join(ctl, s))
	}
}

func TestAuthorityPackage(t *testing.T) {
	pkgs, _ := build(t)
	a := pkgs["eidkiosk-authority"]
	contents := run(t, "dpkg-deb", "--contents", a.Path)
	for _, want := range []string{"./usr/bin/eidkiosk-authority", "./usr/lib/systemd/system/eidkiosk-authority.service",
		"./etc/default/eidkiosk-authority", "./usr/lib/sysusers.d/eidkiosk-authority.conf"} {
		if !strings.Contains(contents, want) {
			t.Errorf("contents lack %s", want)
		}
	}
	if strings.Contains(contents, "kioskctl") || strings.Contains(contents, "cage") {
		t.Error("the authority package carries kiosk files")
	}
	if d := field(run(t, "dpkg-deb", "--info", a.Path), "Depends"); hasDep(d, "cage") || !hasDep(d, "systemd") {
		t.Errorf("authority Depends %q", d)
	}
}

// TestFaceModelsPackage: the models both products load are one
// architecture-independent package at /usr/share/eidkiosk/models (two
// packages may not ship one file), and both products depend on exactly
// its version.
func TestFaceModelsPackage(t *testing.T) {
	pkgs, _ := build(t)
	m, ok := pkgs["eidkiosk-face-models"]
	if !ok {
		t.Fatalf("built %v", pkgs)
	}
	if !strings.HasSuffix(m.Path, "_all.deb") {
		t.Errorf("models package %s is not Architecture: all", m.Path)
	}
	contents := run(t, "dpkg-deb", "--contents", m.Path)
	for _, mo := range facemodel.Manifest {
		if !strings.Contains(contents, "./usr/share/eidkiosk/models/"+mo.File) {
			t.Errorf("models package lacks %s:\n%s", mo.File, contents)
		}
	}
	for _, name := range []string{"eidkiosk-kiosk", "eidkiosk-authority"} {
		d := field(run(t, "dpkg-deb", "--info", pkgs[name].Path), "Depends")
		if !strings.Contains(d, "eidkiosk-face-models (= 1.2.3)") {
			t.Errorf("%s Depends %q, want eidkiosk-face-models (= 1.2.3)", name, d)
		}
		if c := run(t, "dpkg-deb", "--contents", pkgs[name].Path); strings.Contains(c, ".onnx") {
			t.Errorf("%s ships a model file itself", name)
		}
	}
}

// TestAlteredModelsRefused: mkdeb packages only models that match the
// manifest.
func TestAlteredModelsRefused(t *testing.T) {
	dir := t.TempDir()
	for _, mo := range facemodel.Manifest {
		if err := os.WriteFile(filepath.Join(dir, mo.File), []byte("not a model"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Build(Options{Version: "1.0.0", Maintainer: testMaintainer, Bin: t.TempDir(), Out: t.TempDir(), Root: repoRoot(t), Models: dir,
		Packages: []string{"face-models"}})
	if !errors.Is(err, ErrModels) {
		t.Fatalf("err = %v, want ErrModels", err)
	}
}

// TestUnitsVerify runs systemd-analyze verify on the units as installed
// from the packages, in a root holding the host's system units and
// stand-ins for the commands other packages provide (cage).
func TestUnitsVerify(t *testing.T) {
	need(t, "systemd-analyze")
	pkgs, _ := build(t)
	root := t.TempDir()
	for _, p := range pkgs {
		run(t, "dpkg-deb", "-x", p.Path, root)
	}
	if err := os.MkdirAll(filepath.Join(root, "usr/lib/systemd"), 0o755); err != nil {
		t.Fatal(err)
	}
	host := "/usr/lib/systemd/system"
	if _, err := os.Stat(host); err != nil {
		host = "/lib/systemd/system"
	}
	run(t, "cp", "-a", "-n", host, filepath.Join(root, "usr/lib/systemd/"))
	if err := os.WriteFile(filepath.Join(root, "usr/bin/cage"), []byte("#!/bin/sh\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// ExecStop runs /bin/sh (dash, from the base system).
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "cp", "-L", "/bin/sh", filepath.Join(root, "bin/sh"))
	units := []string{"/usr/lib/systemd/system/eidkiosk-kiosk.service", "/usr/lib/systemd/system/eidkiosk-authority.service"}
	verify := func() (string, error) {
		out, err := exec.Command("systemd-analyze", append([]string{"verify", "--root=" + root}, units...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := verify(); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The hardening stays: systemd's exposure score (0 best, 10 worst) is at
	// most 3.0 for each unit (2.3 and 1.9 when written).
	for _, u := range units {
		out, err := exec.Command("systemd-analyze", "security", "--offline=true", "--threshold=30", "--root="+root, u).CombinedOutput()
		if err != nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			t.Errorf("%s: exposure above 3.0: %v\n%s", u, err, lines[len(lines)-1])
		}
	}
	// The check can fail: a unit whose command is missing is refused.
	if err := os.Remove(filepath.Join(root, "usr/bin/eidkiosk-authority")); err != nil {
		t.Fatal(err)
	}
	if out, err := verify(); err == nil {
		t.Fatalf("verify accepted a unit whose command is missing:\n%s", out)
	}
}

func TestMissingBinary(t *testing.T) {
	dir := t.TempDir()
	_, err := Build(Options{Version: "1.0.0", Maintainer: testMaintainer, Bin: dir, Out: t.TempDir(), Root: repoRoot(t), Packages: []string{"authority"}})
	if !errors.Is(err, ErrMissingBinary) || !strings.Contains(err.Error(), "authority") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Build(Options{Version: "1.0.0", Maintainer: testMaintainer, Bin: dir, Out: t.TempDir(), Root: repoRoot(t), Packages: []string{"demo"}}); err == nil {
		t.Fatal("unknown package accepted")
	}
	if _, err := Build(Options{Version: "1.0.0", Maintainer: testMaintainer, Bin: dir, Out: t.TempDir(), Root: repoRoot(t), Compression: "bzip2"}); err == nil {
		t.Fatal("unknown compression accepted")
	}
	for _, v := range []string{"", "v1.2.3", "1.2", "9267b31", "1.2.3 dirty"} {
		if _, err := Build(Options{Version: v, Maintainer: testMaintainer, Bin: dir, Out: t.TempDir(), Root: repoRoot(t)}); err == nil || !strings.Contains(err.Error(), "version") {
			t.Errorf("version %q: err %v", v, err)
		}
	}
}

// TestUdevRulesSyntax checks each rule is comma-separated KEY op "value"
// pairs with keys udev knows, matching before assigning.
func TestUdevRulesSyntax(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot(t), "packaging/udev/70-eidkiosk.rules"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pair := regexp.MustCompile(`^(ACTION|SUBSYSTEM|KERNEL|ENV\{[A-Z_]+\}|ATTRS?\{[a-zA-Z_]+\}|SYMLINK|GROUP|MODE|TAG|GOTO|LABEL)(==|!=|\+=|=)"[^"]*"$`)
	sc := bufio.NewScanner(f)
	rules, symlinks := 0, map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rules++
		assigned := false
		for _, p := range strings.Split(line, ", ") {
			m := pair.FindStringSubmatch(p)
			if m == nil {
				t.Fatalf("line %d: %q is not KEY op \"value\"", n, p)
			}
			isMatch := m[2] == "==" || m[2] == "!="
			if isMatch && assigned {
				t.Errorf("line %d: match %q after an assignment", n, p)
			}
			assigned = assigned || !isMatch
			if m[1] == "SYMLINK" {
				symlinks[strings.Trim(p[len("SYMLINK+="):], `"`)] = true
			}
		}
	}
	if rules < 4 || !symlinks["idcard"] || !symlinks["receipt-printer"] {
		t.Fatalf("rules %d, symlinks %v: want /dev/idcard and /dev/receipt-printer", rules, symlinks)
	}
	if config.Default().Reader.Port != "/dev/idcard" {
		t.Fatal("the reader's default port is not the udev name")
	}
}

func TestSplitSoname(t *testing.T) {
	for so, want := range map[string]string{
		"libopencv_core.so.406": "libopencv_core 406", "libc.so.6": "libc 6", "libfoo.so": "libfoo ",
	} {
		if l, v := splitSoname(so); l+" "+v != want {
			t.Errorf("%s: %s %s", so, l, v)
		}
	}
}

func field(control, name string) string {
	for _, line := range strings.Split(control, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, name+": ") {
			return strings.TrimPrefix(line, name+": ")
		}
	}
	return ""
}

func hasDep(depends, pkg string) bool {
	for _, d := range strings.Split(depends, ",") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == pkg {
			return true
		}
	}
	return false
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"2.36", "2.2.5", 1}, {"4.1.1", "12", -1}, {"1.0~rc1", "1.0", -1}, {"2:1.0", "1:9.9", 1},
		{"4.6.0+dfsg", "4.6.0", 1}, {"1.0-1", "1.0-1", 0}, {"1.0a", "1.0+", -1}, {"3.4.29", "3.4.9", 1},
		{"1:2.36-9+deb12u4", "2.36-9", 1}, {"2.36-9+deb12u4", "2.36-9", 1},
	} {
		if got := compareVersions(c.a, c.b); got != c.want {
			t.Errorf("compare(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := compareVersions(c.b, c.a); got != -c.want {
			t.Errorf("compare(%s, %s) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}

func TestSymbolsDep(t *testing.T) {
	dir := t.TempDir()
	arch := debArch()
	if err := os.WriteFile(filepath.Join(dir, "libfoo1:"+arch+".symbols"), []byte(`libfoo.so.1 libfoo1 #MINVER#
| libfoo1 (>> 2.0), libfoo1 (<< 2.1)
* Build-Depends-Package: libfoo-dev
 FOO_1@FOO_1 1.0
 foo_new@FOO_2 1.9~beta
 foo_newest@FOO_2 2.0
 foo_private@FOO_PRIVATE 2.0 1
libbar.so.2 libbar2 #MINVER#
 bar@Base 5
 bar_any@Base 0
`), 0o644); err != nil {
		t.Fatal(err)
	}
	imp := func(names ...string) []elf.ImportedSymbol {
		var s []elf.ImportedSymbol
		for _, n := range names {
			name, ver, _ := strings.Cut(n, "@")
			s = append(s, elf.ImportedSymbol{Name: name, Version: ver, Library: "libfoo.so.1"})
		}
		return s
	}
	for _, c := range []struct {
		syms []elf.ImportedSymbol
		want string
	}{
		{imp("FOO_1@FOO_1"), "libfoo1 (>= 1.0)"},
		{imp("FOO_1@FOO_1", "foo_new@FOO_2"), "libfoo1 (>= 1.9~beta)"},
		{imp("foo_newest@FOO_2", "foo_new@FOO_2"), "libfoo1 (>= 2.0)"},
		{imp("unknown@FOO_9"), "libfoo1"},
		{[]elf.ImportedSymbol{{Name: "bar"}}, "libfoo1"}, // unversioned: bar@Base is libbar's
		{append(imp("FOO_1@FOO_1"), elf.ImportedSymbol{Name: "foo_newest", Version: "FOO_2", Library: "libother.so"}), "libfoo1 (>= 1.0)"},
	} {
		got, ok := symbolsDep(dir, "libfoo1", "libfoo.so.1", c.syms)
		if !ok || got != c.want {
			t.Errorf("%v: %q %v, want %q", c.syms, got, ok, c.want)
		}
	}
	if got, _ := symbolsDep(dir, "libfoo1", "libbar.so.2", []elf.ImportedSymbol{{Name: "bar"}}); got != "libbar2 (>= 5)" {
		t.Errorf("unversioned import: %q, want libbar2 (>= 5)", got)
	}
	if got, _ := symbolsDep(dir, "libfoo1", "libbar.so.2", []elf.ImportedSymbol{{Name: "bar_any"}}); got != "libbar2" {
		t.Errorf("minimal version 0: %q, want libbar2", got)
	}
	if _, ok := symbolsDep(dir, "libnone", "libnone.so.1", nil); ok {
		t.Error("a package without a symbols file answered")
	}
}

func TestMergeDeps(t *testing.T) {
	got := mergeDeps([]string{"cage", "libc6", "systemd"},
		[]string{"libc6 (>= 2.27)", "libx11-6 (>= 2:1.2.99.901)", "libc6 (>= 2.34)", "libc6 (>= 2.2.5)", "libgl1"})
	want := "libc6 (>= 2.34), libgl1, libx11-6 (>= 2:1.2.99.901), cage, systemd"
	if strings.Join(got, ", ") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, ", "), want)
	}
}

// TestMatchesDpkgShlibdeps compares the computed dependencies with
// dpkg-shlibdeps' for system binaries, one linking OpenCV when installed.
func TestMatchesDpkgShlibdeps(t *testing.T) {
	need(t, "dpkg-shlibdeps", "/sbin/ldconfig")
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "debian"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "debian", "control"), []byte("Source: x\n\nPackage: x\nArchitecture: any\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bins := []string{}
	for _, name := range []string{"true", "opencv_version"} {
		if p, err := exec.LookPath(name); err == nil {
			bins = append(bins, p)
		}
	}
	if len(bins) == 0 {
		t.Skip("no system binaries to compare")
	}
	for _, bin := range bins {
		cmd := exec.Command("dpkg-shlibdeps", "-O", bin)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("dpkg-shlibdeps %s: %v", bin, err)
		}
		want := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "shlibs:Depends="))
		deps, err := shlibDeps(bin, "")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(mergeDeps(nil, deps), ", "); got != want {
			t.Errorf("%s:\n got  %s\n want %s", bin, got, want)
		}
	}
}
