package main

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrNotHardened is returned for a binary built without PIE, RELRO or
// immediate binding: build with `make build` (-buildmode=pie, external
// linking with -z relro -z now).
var ErrNotHardened = errors.New("mkdeb: binary not hardened (build with `make build`: -buildmode=pie -ldflags='-linkmode=external -extldflags=-Wl,-z,relro,-z,now')")

// checkHardened refuses an ELF executable that is not position
// independent (ET_DYN), has no PT_GNU_RELRO segment or does not bind
// immediately (DF_BIND_NOW or DF_1_NOW): what lintian's hardening-no-pie
// and hardening-no-relro look for, and full RELRO besides.
func checkHardened(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("mkdeb: %s: %w", path, err)
	}
	defer f.Close()
	var missing []string
	if f.Type != elf.ET_DYN {
		missing = append(missing, "PIE")
	}
	relro := false
	for _, p := range f.Progs {
		relro = relro || p.Type == elf.PT_GNU_RELRO
	}
	if !relro {
		missing = append(missing, "RELRO")
	}
	now := false
	if v, err := f.DynValue(elf.DT_FLAGS); err == nil && len(v) > 0 && v[0]&uint64(elf.DF_BIND_NOW) != 0 {
		now = true
	}
	if v, err := f.DynValue(elf.DT_FLAGS_1); err == nil && len(v) > 0 && v[0]&uint64(elf.DF_1_NOW) != 0 {
		now = true
	}
	if !now {
		missing = append(missing, "BIND_NOW")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s lacks %v", ErrNotHardened, filepath.Base(path), missing)
	}
	return nil
}

// debugInfo is a stripped binary and its separate debug symbols.
type debugInfo struct {
	Stripped string // the binary to ship
	Debug    string // its debug symbols (objcopy --only-keep-debug)
	BuildID  string // hex GNU build ID; "" when the linker wrote none
}

// splitDebug writes a stripped copy of the binary and its debug symbols
// into dir, as dh_strip does: objcopy --only-keep-debug, then strip
// everything else and link the two with .gnu_debuglink. The Go build
// information (`go version -m`) and the runtime's symbol table
// (.gopclntab, for stack traces) are sections strip keeps.
func splitDebug(binary, dir string) (debugInfo, error) {
	name := filepath.Base(binary)
	d := debugInfo{Stripped: filepath.Join(dir, name), Debug: filepath.Join(dir, name+".debug")}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return d, fmt.Errorf("mkdeb: %w", err)
	}
	for _, args := range [][]string{
		{"--only-keep-debug", "--compress-debug-sections", binary, d.Debug},
		{"--strip-all", "--remove-section=.comment", "--remove-section=.note", "--add-gnu-debuglink=" + d.Debug, binary, d.Stripped},
	} {
		cmd := exec.Command("objcopy", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return d, fmt.Errorf("mkdeb: objcopy %s: %w: %s", name, err, bytes.TrimSpace(out))
		}
	}
	if err := os.Chmod(d.Debug, 0o644); err != nil {
		return d, fmt.Errorf("mkdeb: %w", err)
	}
	id, err := buildID(d.Stripped)
	if err != nil {
		return d, err
	}
	d.BuildID = id
	return d, nil
}

// buildID reads the GNU build ID note (NT_GNU_BUILD_ID) of an ELF file.
func buildID(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", fmt.Errorf("mkdeb: %s: %w", path, err)
	}
	defer f.Close()
	s := f.Section(".note.gnu.build-id")
	if s == nil {
		return "", nil
	}
	b, err := s.Data()
	if err != nil || len(b) < 16 {
		return "", fmt.Errorf("mkdeb: %s: reading the build ID: %v", path, err)
	}
	bo := f.ByteOrder
	namesz, descsz, typ := bo.Uint32(b[0:]), bo.Uint32(b[4:]), bo.Uint32(b[8:])
	off := 12 + (int(namesz)+3)&^3
	if typ != 3 || off+int(descsz) > len(b) { // NT_GNU_BUILD_ID
		return "", fmt.Errorf("mkdeb: %s: malformed build ID note", path)
	}
	return fmt.Sprintf("%x", b[off:off+int(descsz)]), nil
}

// debugPath is where the debug symbols go: /usr/lib/debug/.build-id/xx/
// yyyy.debug, where gdb and debuginfod look; by the installed path when
// the binary has no build ID.
func debugPath(d debugInfo, installed string) string {
	if len(d.BuildID) > 2 {
		return "/usr/lib/debug/.build-id/" + d.BuildID[:2] + "/" + d.BuildID[2:] + ".debug"
	}
	return "/usr/lib/debug" + installed + ".debug"
}
