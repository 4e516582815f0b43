package atomicfile_test

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"eidkiosk/internal/atomicfile"
)

func TestWriteReplacesAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := atomicfile.Write(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.Write(p, []byte("two"), 0o640); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(b) != "two" || fi.Mode().Perm() != 0o640 {
		t.Fatalf("%q %v", b, fi.Mode())
	}
	es, _ := os.ReadDir(dir)
	if len(es) != 1 {
		t.Fatalf("left behind: %v", es)
	}
}

func TestWriteFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	atomicfile.Write(p, []byte("old"), 0o600)
	// A directory in the way of the rename: the write fails, the temp file goes.
	if err := atomicfile.Write(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	os.Mkdir(filepath.Join(dir, "d"), 0o700)
	os.WriteFile(filepath.Join(dir, "d", "x"), nil, 0o600)
	if err := atomicfile.Write(filepath.Join(dir, "d"), []byte("x"), 0o600); err == nil {
		t.Fatal("replacing a non-empty directory succeeded")
	}
	es, _ := os.ReadDir(dir)
	if len(es) != 2 {
		t.Fatalf("temp files left: %v", es)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("old file changed: %q", b)
	}
}

func TestWriteFuncFailureKeepsOldAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if err := atomicfile.Write(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("encoder broke")
	err := atomicfile.WriteFunc(p, 0o600, func(w io.Writer) error {
		w.Write([]byte("half of the new"))
		// While the new bytes are being written, the target still holds
		// the whole old file: nothing partial is ever visible under p.
		if b, _ := os.ReadFile(p); string(b) != "old" {
			t.Errorf("partial file visible during the write: %q", b)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap the writer's error", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("old file changed: %q", b)
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Fatalf("temp file left behind: %v", es)
	}
}

func TestWritePermIsExact(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	p := filepath.Join(t.TempDir(), "f")
	if err := atomicfile.Write(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v under umask 077, want 0644", fi.Mode().Perm())
	}
}

func TestWriteRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "d")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	err := atomicfile.Write(sub, []byte("x"), 0o600)
	if !errors.Is(err, atomicfile.ErrNotRegular) {
		t.Fatalf("err = %v, want ErrNotRegular", err)
	}
	if fi, _ := os.Stat(sub); !fi.IsDir() {
		t.Fatal("directory replaced")
	}
}

// TestCrashMidWrite kills a real process in the middle of a write (it exits
// without returning from the writer) and checks that the target holds the
// whole old file: a crash leaves at most a stray temporary file, which the
// next write does not mind.
func TestCrashMidWrite(t *testing.T) {
	if p := os.Getenv("ATOMICFILE_CRASH_PATH"); p != "" {
		atomicfile.WriteFunc(p, 0o600, func(w io.Writer) error {
			w.Write([]byte("torn"))
			os.Exit(3)
			return nil
		})
		os.Exit(0)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "state")
	if err := atomicfile.Write(p, []byte("whole old state"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashMidWrite$")
	cmd.Env = append(os.Environ(), "ATOMICFILE_CRASH_PATH="+p)
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("child did not crash mid-write: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "whole old state" {
		t.Fatalf("after a crash the file reads %q", b)
	}
	if err := atomicfile.Write(p, []byte("new"), 0o600); err != nil {
		t.Fatalf("write after a crash: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("after a crash and a write: %q", b)
	}
}

// BenchmarkWrite is the price of durability for a 4 KiB file (a sealed
// package's order of size): Write against the baseline os.WriteFile, which
// neither fsyncs nor renames.
func BenchmarkWrite(b *testing.B) {
	data := make([]byte, 4<<10)
	for _, c := range []struct {
		name  string
		write func(string) error
	}{
		{"baseline-os.WriteFile", func(p string) error { return os.WriteFile(p, data, 0o600) }},
		{"atomicfile.Write", func(p string) error { return atomicfile.Write(p, data, 0o600) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := filepath.Join(b.TempDir(), "f")
			for b.Loop() {
				if err := c.write(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
