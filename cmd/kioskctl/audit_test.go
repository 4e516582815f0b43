package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"eidkiosk/fleetproto"
	"eidkiosk/kiosk/audit"
)

// TestAuditCommands: `kioskctl audit show` prints the entries and the
// export recorded by kioskctl itself; `audit verify` passes, then fails
// once an entry is edited.
func TestAuditCommands(t *testing.T) {
	state := t.TempDir()
	l, err := audit.Open(audit.Options{Dir: audit.DirIn(state)})
	if err != nil {
		t.Fatal(err)
	}
	l.Record(audit.EventStart, "version", "2.0.0")
	l.Record(audit.EventVisitEnded, "outcome", "timeout")
	l.Close()
	auditExport(state, 3)

	out, err := runCmd(t, "audit", "show", "--state", state)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], `visit.ended  outcome="timeout"`) || !strings.Contains(lines[2], `outbox.export  by="kioskctl"  count="3"`) {
		t.Fatalf("audit show:\n%s", out)
	}
	out, err = runCmd(t, "audit", "verify", "--state", state)
	if err != nil || !strings.Contains(out, "entries 1 to 3") {
		t.Fatalf("audit verify: %q %v", out, err)
	}
	f := filepath.Join(audit.DirIn(state), "audit-00000000000000000001.log")
	b, _ := os.ReadFile(f)
	os.WriteFile(f, []byte(strings.Replace(string(b), "timeout", "complete", 1)), 0o600)
	if _, err := runCmd(t, "audit", "verify", "--state", state); !errors.Is(err, fleetproto.ErrAuditAltered) {
		t.Fatalf("an edited entry verified: %v", err)
	}
}
