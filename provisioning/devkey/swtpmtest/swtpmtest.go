// Package swtpmtest starts Debian's software TPM 2.0 (swtpm, https://github.com/stefanberger/swtpm)
// for tests of code that keeps keys in a TPM. It does not emulate a TPM
// itself: without the swtpm binary the test is skipped with the reason.
package swtpmtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxudstpm"
)

// Start starts Debian's software TPM (swtpm) on a Unix socket in a temporary
// directory and returns a function opening a connection to it. The test is
// skipped, with the reason, when swtpm is not installed.
func Start(t testing.TB) func() (transport.TPMCloser, error) {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		t.Skip("swtpm not installed (apt-get install swtpm swtpm-tools): the TPM key path is not tested")
	}
	dir, err := os.MkdirTemp("", "swtpm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "tpm.sock")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "socket", "--tpm2",
		"--tpmstate", "dir="+dir,
		"--server", "type=unixio,path="+sock,
		"--ctrl", "type=unixio,path="+filepath.Join(dir, "ctrl.sock"),
		"--flags", "not-need-init,startup-clear",
		"--log", "file="+filepath.Join(dir, "log"))
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start swtpm: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if fi, err := os.Stat(sock); err == nil && fi.Mode()&os.ModeSocket != 0 {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("swtpm did not open %s within 10s; log:\n%s", sock, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return func() (transport.TPMCloser, error) { return linuxudstpm.Open(sock) }
}
