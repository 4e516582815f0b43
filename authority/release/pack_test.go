package release

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildKiosk links the update tests' stand-in kiosk; ldflags may stamp its
// version the way `make build VERSION=…` stamps the real one.
func buildKiosk(t *testing.T, ldflags string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "kiosk")
	cmd := exec.Command("go", "build", "-o", out, "-ldflags", ldflags, "eidkiosk/kiosk/update/internal/testkiosk")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

// A release built without a stamped version is refused by pack; the same
// program stamped with the release's version is packed.
func TestPackRefusesAnUnstampedBuild(t *testing.T) {
	dir := t.TempDir()
	unstamped := buildKiosk(t, "-s -w")
	if v, err := BinaryVersion(context.Background(), unstamped); err != nil || v == "2.1.0" {
		t.Fatalf("unstamped build says %q (%v)", v, err)
	}
	arch := filepath.Join(dir, "kiosk-2.1.0.tar.gz")
	err := Pack(context.Background(), PackOptions{Out: arch, Binary: unstamped, Version: "2.1.0"})
	if !errors.Is(err, ErrVersionMismatch) || !strings.Contains(err.Error(), "make build VERSION=2.1.0") {
		t.Fatalf("pack of an unstamped build: %v", err)
	}
	if _, err := os.Stat(arch); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused pack left %s: %v", arch, err)
	}
	stamped := buildKiosk(t, "-s -w -X main.version=2.1.0")
	if err := Pack(context.Background(), PackOptions{Out: arch, Binary: stamped, Version: "2.1.0"}); err != nil {
		t.Fatalf("pack of a stamped build: %v", err)
	}
	if v, err := PackedVersion(arch); err != nil || v != "2.1.0" {
		t.Fatalf("packed version %q %v", v, err)
	}
	if err := Pack(context.Background(), PackOptions{Out: filepath.Join(dir, "x.tar.gz"), Binary: stamped, Version: "v2"}); err == nil {
		t.Fatal("a version that is not semantic was packed")
	}
}
