package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/kiosk/session"
)

// TestDiskFull puts the outbox on a 4 MiB tmpfs (needs root and mount;
// skipped otherwise) and runs visits while the gate admits them, as the
// kiosk does: the disk fills, the reserve saves the visit that hit the
// limit, the gate closes with ErrOutboxFull, nothing saved is lost,
// acknowledgements still work, and once they have freed space the gate opens
// again.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	ctx := context.Background()
	o, err := outbox.Open(ctx, filepath.Join(dir, "outbox"), config.Default().Outbox, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	var saved []string
	for i := 0; o.Admit() == nil; i++ {
		if i == 100 {
			t.Fatal("4 MiB never filled")
		}
		id := fmt.Sprintf("item-%02d", i)
		if err := o.Enqueue(ctx, id, pkg(70<<10, byte(i))); err != nil {
			t.Fatalf("an admitted visit was not saved: %v", err)
		}
		saved = append(saved, id)
	}
	err = o.Admit()
	if !errors.Is(err, session.ErrOutboxFull) || !strings.Contains(err.Error(), "disk") || !o.Stats().LowDisk {
		t.Fatalf("gate on a full disk: %v", err)
	}
	t.Logf("%d packages saved, then: %v", len(saved), err)
	for i, id := range saved {
		it, ok, err := o.Next(ctx)
		if err != nil || !ok || it.ID != id || it.Package[0] != byte(i) || len(it.Package) != 70<<10 {
			t.Fatalf("saved item %s lost or damaged: %v %v", id, ok, err)
		}
		if i < len(saved)-3 {
			if err := o.Ack(ctx, id, []byte("r")); err != nil {
				t.Fatalf("ack on a full disk: %v", err)
			}
		}
	}
	for _, id := range saved[len(saved)-3:] {
		if err := o.Release(ctx, id, "x"); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Admit(); err != nil {
		t.Fatalf("gate after acknowledgements freed space: %v", err)
	}
	if err := o.Enqueue(ctx, "after", pkg(70<<10, 0xAA)); err != nil {
		t.Fatalf("enqueue after space was freed: %v", err)
	}
}
