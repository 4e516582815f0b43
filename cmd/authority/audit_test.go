package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"

	"eidkiosk/authority"
	"eidkiosk/authority/fleet"
	"eidkiosk/fleetproto"
	"eidkiosk/kiosk/audit"
)

// TestAuditCommands: `audit show` and `audit verify --device` on a copy
// received from a terminal; after an entry is edited in the store, verify
// fails and names the entry.
func TestAuditCommands(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	l, err := audit.Open(audit.Options{Dir: t.TempDir(), Signer: key, CheckpointEvery: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"completed", "timeout", "liveness", "completed"} {
		l.Record(audit.EventVisitEnded, "outcome", o)
	}
	b, _ := l.Batch()
	l.Close()
	db, err := authority.OpenDB(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	m := fleet.New(db, nil, "", nil)
	if err := m.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if a, err := m.RecordAudit(ctx, "KT-1", key.Public(), *b); err != nil || a.Have != 5 {
		t.Fatalf("%+v %v", a, err)
	}
	run := func(args ...string) (string, error) {
		var out, errb strings.Builder
		app.Stdout, app.Stderr = &out, &errb
		defer func() { app.Stdout, app.Stderr = nil, nil }()
		err := app.Run(ctx, args)
		return out.String(), err
	}
	out, err := run("audit", "show", "--data", data, "--device", "KT-1")
	if err != nil || strings.Count(out, "\n") != 5 || !strings.Contains(out, `outcome="liveness"`) || !strings.Contains(out, "checkpoint") {
		t.Fatalf("audit show: %v\n%s", err, out)
	}
	out, err = run("audit", "verify", "--data", data, "--device", "KT-1")
	if err != nil || !strings.Contains(out, "KT-1: audit log verified: entries 1 to 5 (5), 1 checkpoints, signed up to 4 (1 after it wait") {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	if _, err := db.ExecContext(ctx, `UPDATE fleet_audit SET entry = replace(entry, 'liveness', 'completed') WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := run("audit", "verify", "--data", data, "--device", "KT-1"); err == nil || !strings.Contains(err.Error(), "entry 3") ||
		!strings.Contains(err.Error(), fleetproto.ErrAuditAltered.Error()) {
		t.Fatalf("an edited entry verified: %v", err)
	}
	if _, err := run("audit", "verify", "--data", data); err == nil {
		t.Fatal("verify without --device")
	}
}
