package main

import (
	"bufio"
	"bytes"
	"cmp"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the deb packager

	"eidkiosk/facemodel"
	"eidkiosk/internal/atomicfile"
	"eidkiosk/kiosk/config"
	"eidkiosk/packaging/manpage"
)

// Options says what to build.
type Options struct {
	Version  string
	Arch     string
	Bin      string
	Out      string
	Root     string
	Packages []string // "kiosk", "authority", "face-models"
	// Models is the directory of the verified face models (make models);
	// default out/models under Root.
	Models      string
	NoShlibDeps bool
	// Compression of the data archive: gzip (default), xz, zstd or none.
	Compression string
	Log         io.Writer
	// Maintainer is the packages' Maintainer, "Name <address>" with a real
	// mail domain (the Makefile's MAINTAINER).
	Maintainer string
	// SBOM writes a CycloneDX SBOM per binary (CycloneDXGomod, run with
	// `go run`) into the package's docs and beside the packages.
	SBOM bool
	// DpkgInfo is the dpkg database's info directory; default
	// /var/lib/dpkg/info.
	DpkgInfo string
}

// manPages names each binary's manual page: the command as a user types
// it, and its section (8: started by the system, not by a person).
var manPages = map[string]struct{ Name, Section string }{
	"kiosk": {"kiosk", "8"}, "kiosk-launch": {"kiosk-launch", "8"},
	"kioskctl": {"kioskctl", "1"}, "authority": {"eidkiosk-authority", "1"},
}

// installed is where each binary is installed (the nfpm configurations
// say the same; the system test and the units rely on these paths).
var installed = map[string]string{
	"kiosk": "/usr/lib/eidkiosk/kiosk", "kiosk-launch": "/usr/bin/kiosk-launch",
	"kioskctl": "/usr/bin/kioskctl", "authority": "/usr/bin/eidkiosk-authority",
}

// Result is one built package.
type Result struct {
	Name    string
	Path    string
	Size    int64
	Depends []string
}

// binaries each package installs, by nfpm config name.
var binaries = map[string][]string{
	"kiosk":       {"kiosk", "kioskctl", "kiosk-launch"},
	"authority":   {"authority"},
	"face-models": nil, // data only: the models both load
}

// ErrModels is returned when the face models to package are missing or do
// not match the manifest: run `make models`.
var ErrModels = errors.New("mkdeb: face models missing or altered (run `make models`)")

// ErrMissingBinary is returned when bin/ lacks a binary: build first.
var ErrMissingBinary = errors.New("mkdeb: binary missing (build with `go build -o bin/ ./cmd/...` first)")

// Build builds the packages and returns them.
func Build(opt Options) ([]Result, error) {
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	// The postinst seeds the update agent's slot a with this version, and
	// the agent compares versions as strict semver.
	if _, err := semver.StrictNewVersion(opt.Version); err != nil {
		return nil, fmt.Errorf("mkdeb: version %q must be semver, e.g. 0.3.1 or 0.3.1+git42.9267b31: %w", opt.Version, err)
	}
	if err := checkMaintainer(opt.Maintainer); err != nil {
		return nil, err
	}
	if opt.Root == "" {
		opt.Root = "."
	}
	root, err := filepath.Abs(opt.Root)
	if err != nil {
		return nil, fmt.Errorf("mkdeb: %w", err)
	}
	bin, err := filepath.Abs(opt.Bin)
	if err != nil {
		return nil, fmt.Errorf("mkdeb: %w", err)
	}
	if opt.Arch == "" {
		opt.Arch = debArch()
	}
	switch opt.Compression {
	case "", "gzip", "xz", "zstd", "none":
	default:
		return nil, fmt.Errorf("mkdeb: compression %q is not one of gzip, xz, zstd, none", opt.Compression)
	}
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return nil, fmt.Errorf("mkdeb: %w", err)
	}
	gen, err := os.MkdirTemp("", "mkdeb-")
	if err != nil {
		return nil, fmt.Errorf("mkdeb: %w", err)
	}
	defer os.RemoveAll(gen)
	if err := os.WriteFile(filepath.Join(gen, "kiosk.toml"), []byte(config.ExampleCommented()), 0o644); err != nil {
		return nil, fmt.Errorf("mkdeb: %w", err)
	}
	models := opt.Models
	if models == "" {
		models = filepath.Join(root, "out", "models")
	}
	if models, err = filepath.Abs(models); err != nil {
		return nil, fmt.Errorf("mkdeb: %w", err)
	}
	when := buildTime(root)
	chlog, err := manpage.Gzip(changelog(opt.Version, opt.Maintainer, when))
	if err != nil {
		return nil, err
	}
	var results []Result
	for _, name := range opt.Packages {
		name = strings.TrimSpace(name)
		bins, ok := binaries[name]
		if !ok {
			return nil, fmt.Errorf("mkdeb: unknown package %q (kiosk, authority, face-models)", name)
		}
		if name == "face-models" {
			for _, st := range facemodel.Verify(models, facemodel.Manifest) {
				if st.Err != nil {
					return nil, fmt.Errorf("%w: %v", ErrModels, st.Err)
				}
			}
		}
		if !opt.NoShlibDeps {
			fmt.Fprintf(opt.Log, "%s: reading the shared libraries of %s\n", name, strings.Join(bins, ", "))
		}
		var libDeps []string
		for _, b := range bins {
			path := filepath.Join(bin, b)
			if _, err := os.Stat(path); err != nil {
				return nil, fmt.Errorf("%w: %s", ErrMissingBinary, path)
			}
			if err := checkHardened(path); err != nil {
				return nil, err
			}
			if opt.NoShlibDeps {
				continue
			}
			deps, err := shlibDeps(path, opt.DpkgInfo)
			if err != nil {
				return nil, err
			}
			libDeps = append(libDeps, deps...)
		}
		pkgName := "eidkiosk-" + name
		stage := filepath.Join(gen, name)
		extra, dbg, err := stageDocs(opt, name, pkgName, bin, stage, chlog, when, root)
		if err != nil {
			return nil, err
		}
		env := map[string]string{"VERSION": opt.Version, "ARCH": opt.Arch, "BIN": filepath.Join(stage, "bin"), "GEN": gen, "MODELS": models, "MAINTAINER": opt.Maintainer}
		fmt.Fprintf(opt.Log, "%s: packaging (%s compression)\n", name, cmp.Or(opt.Compression, "gzip"))
		info, err := parseConfig(filepath.Join(root, "packaging", "nfpm", name+".yaml"), root, env)
		if err != nil {
			return nil, err
		}
		info.Contents = append(info.Contents, extra...)
		info.Depends = mergeDeps(info.Depends, libDeps)
		r, err := writePackage(info, opt.Out, opt.Compression)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(opt.Log, "%s  %d KiB\n  Depends: %s\n", r.Path, (r.Size+1023)/1024, strings.Join(r.Depends, ", "))
		results = append(results, r)
		if dbg != nil {
			r, err := writePackage(dbgsymInfo(info, dbg), opt.Out, opt.Compression)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(opt.Log, "%s  %d KiB\n", r.Path, (r.Size+1023)/1024)
			results = append(results, r)
		}
	}
	return results, nil
}

// parseConfig reads an nfpm configuration, sources relative to root.
func parseConfig(cfgPath, root string, env map[string]string) (*nfpm.Info, error) {
	cfg, err := nfpm.ParseFileWithEnvMapping(cfgPath, func(k string) string { return env[k] })
	if err != nil {
		return nil, fmt.Errorf("mkdeb: %s: %w", cfgPath, err)
	}
	info, err := cfg.Get("deb")
	if err != nil {
		return nil, fmt.Errorf("mkdeb: %s: %w", cfgPath, err)
	}
	for _, c := range info.Contents {
		if c.Source != "" && !filepath.IsAbs(c.Source) {
			c.Source = filepath.Join(root, c.Source)
		}
	}
	for _, s := range []*string{&info.Scripts.PostInstall, &info.Scripts.PreRemove, &info.Scripts.PostRemove, &info.Scripts.PreInstall} {
		if *s != "" && !filepath.IsAbs(*s) {
			*s = filepath.Join(root, *s)
		}
	}
	return info, nil
}

// writePackage writes the .deb into out.
func writePackage(info *nfpm.Info, out, compression string) (Result, error) {
	if compression != "" {
		info.Deb.Compression = compression
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return Result{}, fmt.Errorf("mkdeb: %s: %w", info.Name, err)
	}
	pkg, err := nfpm.Get("deb")
	if err != nil {
		return Result{}, fmt.Errorf("mkdeb: %w", err)
	}
	path := filepath.Join(out, pkg.ConventionalFileName(info))
	if err := atomicfile.WriteFunc(path, 0o644, func(w io.Writer) error { return pkg.Package(info, w) }); err != nil {
		return Result{}, fmt.Errorf("mkdeb: packaging %s: %w", info.Name, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return Result{}, fmt.Errorf("mkdeb: %w", err)
	}
	return Result{Name: info.Name, Path: path, Size: st.Size(), Depends: info.Depends}, nil
}

// mergeDeps returns the library dependencies (sorted) followed by the
// configured ones, one entry per package: for a package named twice, the
// higher ">=" version wins (libc6 from libm and from libc), and a versioned
// entry wins over a plain name.
func mergeDeps(deps, extra []string) []string {
	index := map[string]int{}
	var out []string
	add := func(d string) {
		n := strings.Fields(d)[0]
		i, seen := index[n]
		if !seen {
			index[n] = len(out)
			out = append(out, d)
			return
		}
		if compareVersions(minVersion(d), minVersion(out[i])) > 0 {
			out[i] = d
		}
	}
	extra = append([]string(nil), extra...)
	sort.Strings(extra)
	for _, d := range extra {
		add(d)
	}
	for _, d := range deps {
		add(d)
	}
	return out
}

// minVersion returns X of "pkg (>= X)", or "" (lowest) for a plain name.
func minVersion(dep string) string {
	_, v, ok := strings.Cut(dep, "(>= ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), ")"))
}

func debArch() string {
	if out, err := exec.Command("dpkg", "--print-architecture").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return runtime.GOARCH
}

// shlibDeps returns the Debian dependencies of the shared libraries an ELF
// binary links (DT_NEEDED), from the dpkg database: the symbols file where
// the library has one (the minimal version the imported symbols need), else
// the shlibs file. A statically linked binary has none.
func shlibDeps(binary, infoDir string) ([]string, error) {
	if infoDir == "" {
		infoDir = "/var/lib/dpkg/info"
	}
	f, err := elf.Open(binary)
	if err != nil {
		return nil, fmt.Errorf("mkdeb: %s: %w", binary, err)
	}
	defer f.Close()
	needed, err := f.ImportedLibraries()
	if err != nil {
		return nil, fmt.Errorf("mkdeb: %s: %w", binary, err)
	}
	imported, err := f.ImportedSymbols()
	if err != nil {
		return nil, fmt.Errorf("mkdeb: %s: %w", binary, err)
	}
	if len(needed) == 0 {
		return nil, nil
	}
	paths, err := ldconfigPaths()
	if err != nil {
		return nil, err
	}
	var deps []string
	for _, so := range needed {
		path, ok := paths[so]
		if !ok {
			return nil, fmt.Errorf("mkdeb: %s needs %s, which is not installed here", filepath.Base(binary), so)
		}
		pkg, err := owner(path)
		if err != nil {
			return nil, fmt.Errorf("mkdeb: %s: %w", so, err)
		}
		if d, ok := symbolsDep(infoDir, pkg, so, imported); ok {
			deps = append(deps, d)
		} else {
			deps = append(deps, shlibsDep(infoDir, pkg, so))
		}
	}
	return deps, nil
}

// ldconfigPaths maps sonames to paths from `ldconfig -p`.
func ldconfigPaths() (map[string]string, error) {
	out, err := exec.Command("/sbin/ldconfig", "-p").Output()
	if err != nil {
		return nil, fmt.Errorf("mkdeb: ldconfig -p: %w", err)
	}
	m := map[string]string{}
	want := "x86-64"
	if runtime.GOARCH != "amd64" {
		want = ""
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "	libc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6"
		line := strings.TrimSpace(sc.Text())
		name, rest, ok := strings.Cut(line, " (")
		if !ok {
			continue
		}
		flags, path, ok := strings.Cut(rest, ") => ")
		if !ok || (want != "" && !strings.Contains(flags, want)) {
			continue
		}
		if _, dup := m[name]; !dup {
			m[name] = path
		}
	}
	return m, nil
}

// owner returns the package that installed path (dpkg -S), trying the
// merged-/usr spelling too.
func owner(path string) (string, error) {
	cands := []string{path}
	if strings.HasPrefix(path, "/usr/") {
		cands = append(cands, strings.TrimPrefix(path, "/usr"))
	} else {
		cands = append(cands, "/usr"+path)
	}
	if real, err := filepath.EvalSymlinks(path); err == nil && real != path {
		cands = append(cands, real, strings.TrimPrefix(real, "/usr"))
	}
	for _, c := range cands {
		out, err := exec.Command("dpkg", "-S", c).Output()
		if err != nil {
			continue
		}
		line, _, _ := strings.Cut(string(out), "\n")
		pkg, _, ok := strings.Cut(line, ": ")
		if !ok || strings.Contains(pkg, ",") {
			continue
		}
		pkg, _, _ = strings.Cut(pkg, ":") // drop ":amd64"
		return pkg, nil
	}
	return "", fmt.Errorf("no Debian package owns %s", path)
}

// shlibsDep finds the dependency line for soname in the package's shlibs
// file, e.g. "libopencv-core406 (>= 4.6.0+dfsg)"; the bare package name when
// the file has none.
func shlibsDep(infoDir, pkg, soname string) string {
	lib, ver := splitSoname(soname)
	for _, name := range []string{pkg + ":" + debArch() + ".shlibs", pkg + ".shlibs"} {
		b, err := os.ReadFile(filepath.Join(infoDir, name))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			fields := strings.Fields(line)
			if len(fields) >= 3 && strings.HasSuffix(fields[0], ":") { // "udeb: ..."
				continue
			}
			if len(fields) >= 3 && fields[0] == lib && fields[1] == ver {
				return strings.Join(fields[2:], " ")
			}
		}
	}
	return pkg
}

// splitSoname turns "libopencv_core.so.406" into ("libopencv_core", "406").
func splitSoname(so string) (string, string) {
	if i := strings.Index(so, ".so."); i >= 0 {
		return so[:i], so[i+4:]
	}
	return strings.TrimSuffix(so, ".so"), ""
}
