package systest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// CacheDir holds the prepared roots, one per key, outside the repository.
const CacheDir = "/var/cache/eidkiosk-systest"

// Suite is the Debian release the terminal runs.
const Suite = "bookworm"

// basePackages make a booting system with logind, on top of minbase.
var basePackages = []string{"systemd", "systemd-sysv", "dbus", "libpam-systemd", "ca-certificates", "procps"}

// Mirror is the Debian mirror the host uses (its apt sources), so the
// container reaches the same archive; http://deb.debian.org/debian when
// none is found.
func Mirror() string {
	re := regexp.MustCompile(`(?m)^\s*(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+/debian)/?\s*(?:$|` + Suite + `\s)`)
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if m := re.FindSubmatch(b); m != nil {
			return string(m[1])
		}
	}
	return "http://deb.debian.org/debian"
}

// DebDepends lists the package names the .debs depend on, without the
// .debs' own packages and without versions: what the cached root
// pre-installs so each run installs only the .debs.
func DebDepends(debs []string) ([]string, error) {
	seen := map[string]bool{}
	own := map[string]bool{}
	var all []string
	for _, d := range debs {
		out, err := exec.Command("dpkg-deb", "-f", d, "Package", "Depends").Output()
		if err != nil {
			return nil, fmt.Errorf("systest: dpkg-deb -f %s: %w", d, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				continue
			}
			if k == "Package" {
				own[v] = true
				continue
			}
			for _, dep := range strings.Split(v, ",") {
				alt, _, _ := strings.Cut(dep, "|")
				name := strings.Fields(alt)[0]
				if !seen[name] {
					seen[name] = true
					all = append(all, name)
				}
			}
		}
	}
	var out []string
	for _, n := range all {
		if !own[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// PreparedRoot returns a cached Debian root with the base system and pkgs
// installed, building what the cache lacks in two layers: the debootstrap
// of the base system (keyed by the suite, the mirror and basePackages),
// then a copy of it with pkgs installed by apt inside (keyed by the base
// and pkgs), so a new dependency of the .debs costs an apt run, not a
// debootstrap.
func PreparedRoot(pkgs []string, log io.Writer) (string, error) {
	mirror := Mirror()
	base, err := layer("base", []string{Suite, mirror, strings.Join(basePackages, ",")}, log, func(tmp string) [][]string {
		return [][]string{{"debootstrap", "--variant=minbase", "--include=" + strings.Join(basePackages, ","), Suite, tmp, mirror}}
	})
	if err != nil {
		return "", err
	}
	root, err := layer("root", []string{base, strings.Join(pkgs, ",")}, log, func(tmp string) [][]string {
		return [][]string{
			{"cp", "-a", "--reflink=auto", base, tmp},
			nspawnRun(tmp, "apt-get", "update", "-q"),
			append(nspawnRun(tmp, "apt-get", "install", "-y", "-q", "--no-install-recommends"), pkgs...),
			nspawnRun(tmp, "apt-get", "clean"),
		}
	})
	if err != nil {
		return "", err
	}
	prune(CacheDir, log, base, root)
	return root, nil
}

// prune removes the layers other than keep (roots of older dependency
// sets, ~700 MB each) and run copies left by killed runs more than a day
// old, so the cache holds one base and one root.
func prune(dir string, log io.Writer, keep ...string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if !e.IsDir() || slices.Contains(keep, p) {
			continue
		}
		old := false
		switch {
		case strings.HasPrefix(e.Name(), "base-"), strings.HasPrefix(e.Name(), "root-"):
			old = true
		case strings.HasPrefix(e.Name(), "run-"):
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
				old = true
			}
		}
		if old {
			fmt.Fprintf(log, "pruning the cached %s\n", p)
			if err := os.RemoveAll(p); err != nil {
				fmt.Fprintf(log, "pruning %s: %v\n", p, err)
			}
		}
	}
}

// layer returns CacheDir/kind-KEY, the key hashing parts; when missing it
// runs steps(tmp) to build it under a temporary name, then renames it.
func layer(kind string, parts []string, log io.Writer, steps func(tmp string) [][]string) (string, error) {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\n")))
	dir := filepath.Join(CacheDir, kind+"-"+hex.EncodeToString(sum[:])[:16])
	if _, err := os.Stat(filepath.Join(dir, "etc", "os-release")); err == nil {
		fmt.Fprintf(log, "cached %s: %s\n", kind, dir)
		return dir, nil
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", fmt.Errorf("systest: %w", err)
	}
	if err := os.MkdirAll(CacheDir, 0o755); err != nil {
		return "", fmt.Errorf("systest: %w", err)
	}
	for _, s := range steps(tmp) {
		fmt.Fprintf(log, "$ %s\n", strings.Join(s, " "))
		cmd := exec.Command(s[0], s[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("systest: preparing the %s: %s: %w", kind, strings.Join(s, " "), err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", fmt.Errorf("systest: %w", err)
	}
	return dir, nil
}

// nspawnRun runs one command in root without booting it (for preparing it).
func nspawnRun(root string, args ...string) []string {
	return append([]string{"systemd-nspawn", "-q", "--register=no", "--keep-unit", "-D", root,
		"--setenv=DEBIAN_FRONTEND=noninteractive", "--"}, args...)
}

// Copy makes a throw-away copy of a prepared root for one run.
func Copy(root, dst string) error {
	out, err := exec.Command("cp", "-a", "--reflink=auto", root, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("systest: copying the root: %w: %s", err, out)
	}
	return nil
}
