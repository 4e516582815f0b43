package fleet_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority"
	"eidkiosk/authority/fleet"
	"eidkiosk/fleetproto"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/audit"
	"eidkiosk/kiosk/heartbeat"
)

// kioskLog writes n entries to a real audit log signed with key and
// returns the log and its entries.
func kioskLog(t *testing.T, key crypto.Signer, n int) (*audit.Log, []fleetproto.AuditEntry) {
	t.Helper()
	l, err := audit.Open(audit.Options{Dir: t.TempDir(), Signer: key, CheckpointEvery: 10, MaxFileBytes: 8192})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for i := range n {
		if err := l.Record(audit.EventVisitEnded, "outcome", []string{"completed", "timeout", "canceled"}[i%3]); err != nil {
			t.Fatal(err)
		}
	}
	es, err := l.Since(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return l, es
}

func newModule(t *testing.T) (*fleet.Module, *authority.DB) {
	t.Helper()
	ctx := context.Background()
	db, err := authority.OpenDB(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m := fleet.New(db, devices{"DEV-1": "NS-PSB-001"}, "", clock.NewFake(time.Now()))
	if err := m.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	return m, db
}

// The kiosk's log reaches the authority over the heartbeat (real mTLS on
// loopback) in batches, resumes from what the authority acknowledges, and
// a batch sent twice changes nothing.
func TestAuditShippedWithHeartbeats(t *testing.T) {
	ctx := context.Background()
	db, err := authority.OpenDB(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := fleet.New(db, devices{"DEV-1": "NS-PSB-001"}, "", clock.NewFake(time.Now()))
	srv, err := authority.NewServer(ctx, db, nil, m)
	if err != nil {
		t.Fatal(err)
	}
	rig := newTLS(t, "DEV-1")
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.TLS = rig.server
	hs.StartTLS()
	defer hs.Close()

	key := rig.clients["DEV-1"].PrivateKey.(*ecdsa.PrivateKey)
	l, all := kioskLog(t, key, 230)
	var acks []fleetproto.AuditAck
	s := &heartbeat.Sender{Authority: hs.URL, Client: rig.client("DEV-1"), OnAnswer: func(a fleetproto.Answer) {
		if a.Audit != nil {
			acks = append(acks, *a.Audit)
			l.SetAcked(a.Audit.Have)
		}
	}}
	head := all[len(all)-1].Seq
	var last *fleetproto.AuditBatch
	for i := 0; len(acks) == 0 || acks[len(acks)-1].Have < head; i++ {
		if i > 10 {
			t.Fatalf("not shipped after 10 heartbeats: %v", acks)
		}
		b, err := l.Batch()
		if err != nil {
			t.Fatal(err)
		}
		last = b
		if err := s.Send(ctx, fleetproto.Report{Version: "2.0.0", Healthy: true, Audit: b}); err != nil {
			t.Fatal(err)
		}
	}
	if len(acks) != 3 || acks[0].Have != fleetproto.MaxAuditBatch || acks[2].Alert != "" {
		t.Fatalf("acks %+v: want three batches of at most %d", acks, fleetproto.MaxAuditBatch)
	}
	// The last batch again (a lost answer): nothing changes.
	if err := s.Send(ctx, fleetproto.Report{Version: "2.0.0", Audit: last}); err != nil {
		t.Fatal(err)
	}
	if a := acks[len(acks)-1]; a.Have != head || a.Alert != "" {
		t.Fatalf("resent batch: %+v", a)
	}
	rep, err := m.VerifyAudit(ctx, "DEV-1")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Entries != int(head) || rep.Summary.Signed == 0 || rep.Summary.Checkpoints != 23 {
		t.Fatalf("verify: %+v", rep)
	}
	ts, err := m.List(ctx, fleet.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Audit == nil || ts[0].Audit.Have != head || slices.Contains(ts[0].Flags, fleet.FlagAudit) {
		t.Fatalf("listing: %+v", ts)
	}
}

func rehash(es []fleetproto.AuditEntry, from int) {
	for i := from; i < len(es); i++ {
		if i > 0 {
			es[i].Prev = es[i-1].Hash
		}
		es[i].Hash = es[i].ComputeHash()
	}
}

// Every way of changing the log before it reaches the authority is caught
// at intake and shows in the fleet listing.
func TestAuditTamperingDetectedAtIntake(t *testing.T) {
	ctx := context.Background()
	rig := newTLS(t, "DEV-1", "OTHER")
	key := rig.clients["DEV-1"].PrivateKey.(*ecdsa.PrivateKey)
	_, honest := kioskLog(t, key, 45)
	batch := func(es []fleetproto.AuditEntry) fleetproto.AuditBatch {
		return fleetproto.AuditBatch{Head: es[len(es)-1].Seq, HeadHash: es[len(es)-1].Hash, Entries: es}
	}
	cases := []struct {
		name   string
		first  int // entries shipped honestly first
		tamper func([]fleetproto.AuditEntry) []fleetproto.AuditEntry
		want   string
	}{
		{"edit", 0, func(es []fleetproto.AuditEntry) []fleetproto.AuditEntry {
			es[5].Fields = map[string]string{"outcome": "completed"}
			return es
		}, fleet.AuditAltered},
		{"edit and rehash", 0, func(es []fleetproto.AuditEntry) []fleetproto.AuditEntry {
			es[5].Fields = map[string]string{"outcome": "completed"}
			rehash(es, 5)
			return es
		}, fleet.AuditSignature},
		{"delete", 0, func(es []fleetproto.AuditEntry) []fleetproto.AuditEntry { return slices.Delete(es, 7, 8) }, fleet.AuditGap},
		{"delete and renumber", 0, func(es []fleetproto.AuditEntry) []fleetproto.AuditEntry {
			es = slices.Delete(es, 7, 8)
			for i := 7; i < len(es); i++ {
				es[i].Seq--
			}
			rehash(es, 7)
			return es
		}, fleet.AuditSignature},
		{"reorder", 0, func(es []fleetproto.AuditEntry) []fleetproto.AuditEntry { es[5], es[6] = es[6], es[5]; return es }, fleet.AuditGap},
		{"reorder and renumber", 0, func(es []fleetproto.AuditEntry) []fleetproto.AuditEntry {
			es[5], es[6] = es[6], es[5]
			es[5].Seq, es[6].Seq = 6, 7
			rehash(es, 5)
			return es
		}, fleet.AuditSignature},
		{"rewrite what was shipped", 20, func(es []fleetproto.AuditEntry) []fleetproto.AuditEntry {
			es[12].Fields = map[string]string{"outcome": "completed"}
			rehash(es, 12)
			return es[12:]
		}, fleet.AuditFork},
		{"log truncated", 30, func(es []fleetproto.AuditEntry) []fleetproto.AuditEntry { return es[:25] }, fleet.AuditFork},
		{"entries skipped", 20, func(es []fleetproto.AuditEntry) []fleetproto.AuditEntry { return es[25:] }, fleet.AuditGap},
		{"signed by another key", 0, func(es []fleetproto.AuditEntry) []fleetproto.AuditEntry {
			_, other := kioskLog(t, rig.clients["OTHER"].PrivateKey.(*ecdsa.PrivateKey), 45)
			return other
		}, fleet.AuditSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, _ := newModule(t)
			pub := key.Public()
			if c.first > 0 {
				if a, err := m.RecordAudit(ctx, "DEV-1", pub, batch(slices.Clone(honest[:c.first]))); err != nil || a.Alert != "" {
					t.Fatalf("honest part: %+v %v", a, err)
				}
			}
			es := c.tamper(slices.Clone(honest))
			a, err := m.RecordAudit(ctx, "DEV-1", pub, batch(es))
			if err != nil {
				t.Fatal(err)
			}
			if a.Alert != c.want {
				t.Fatalf("alert %q, want %q (have %d)", a.Alert, c.want, a.Have)
			}
			// The listing flags it and verification fails; the honest log
			// is no longer taken until the alert is cleared.
			ts, _ := m.List(ctx, fleet.ListOptions{Roster: func(context.Context) ([]fleet.Registered, error) {
				return []fleet.Registered{{DeviceID: "DEV-1", Station: "NS-PSB-001", Status: "active"}}, nil
			}})
			if len(ts) != 1 || !slices.Contains(ts[0].Flags, fleet.FlagAudit) || ts[0].Audit.Alert != c.want {
				t.Fatalf("listing: %+v", ts)
			}
			if _, err := m.VerifyAudit(ctx, "DEV-1"); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("verify: %v", err)
			}
			t.Logf("%s: %s", ts[0].Audit.Alert, ts[0].Audit.Detail)
		})
	}
}

// The authority's own copy, changed in its database, fails verification.
func TestAuditCopyChangedInTheDatabase(t *testing.T) {
	ctx := context.Background()
	rig := newTLS(t, "DEV-1")
	key := rig.clients["DEV-1"].PrivateKey.(*ecdsa.PrivateKey)
	_, es := kioskLog(t, key, 40)
	// The insider recomputes the hashes of the entries after the one edited
	// and stores them, hash column included: only the checkpoints stop it.
	edited := slices.Clone(es)
	edited[4].Fields = map[string]string{"outcome": "completed"}
	rehash(edited, 4)
	var rewrite []string
	for _, e := range edited[4:] {
		b, _ := json.Marshal(e)
		rewrite = append(rewrite, fmt.Sprintf(`UPDATE fleet_audit SET entry = '%s', hash = '%s' WHERE seq = %d`, b, e.Hash, e.Seq))
	}
	rewrite = append(rewrite, fmt.Sprintf(`UPDATE fleet_audit_state SET have_hash = '%s'`, edited[len(edited)-1].Hash))
	for name, sql := range map[string][]string{
		"edit":            {`UPDATE fleet_audit SET entry = replace(entry, 'timeout', 'completed') WHERE seq = 5`},
		"edit and rehash": rewrite,
		"delete":          {`DELETE FROM fleet_audit WHERE seq = 7`},
		"delete the last": {`DELETE FROM fleet_audit WHERE seq = (SELECT max(seq) FROM fleet_audit)`},
		"reorder": {
			`UPDATE fleet_audit SET seq = -1 WHERE seq = 8`,
			`UPDATE fleet_audit SET seq = 8 WHERE seq = 9`,
			`UPDATE fleet_audit SET seq = 9 WHERE seq = -1`,
		},
		"reorder rows and their numbers": {
			`UPDATE fleet_audit SET entry = (SELECT entry FROM fleet_audit WHERE seq = 9), hash = (SELECT hash FROM fleet_audit WHERE seq = 9), seq = -1 WHERE seq = 8`,
			`DELETE FROM fleet_audit WHERE seq = 9`,
			`UPDATE fleet_audit SET seq = 9 WHERE seq = -1`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			m, db := newModule(t)
			if a, err := m.RecordAudit(ctx, "DEV-1", key.Public(), fleetproto.AuditBatch{Head: es[len(es)-1].Seq, HeadHash: es[len(es)-1].Hash, Entries: es}); err != nil || a.Alert != "" {
				t.Fatalf("%+v %v", a, err)
			}
			if _, err := m.VerifyAudit(ctx, "DEV-1"); err != nil {
				t.Fatal(err)
			}
			for _, q := range sql {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			_, err := m.VerifyAudit(ctx, "DEV-1")
			if !errors.Is(err, fleetproto.ErrAuditAltered) && !errors.Is(err, fleetproto.ErrAuditBroken) && !errors.Is(err, fleetproto.ErrAuditSignature) {
				t.Fatalf("not detected: %v", err)
			}
			t.Logf("detected: %v", err)
		})
	}
}
