package intake_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"eidkiosk/authority"
	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/internal/pgtest"
)

// TestPostgresReplicas runs two intake replicas (same keys) on one
// PostgreSQL database: a package stored through one is a repeat on the
// other with the same receipt; concurrent uploads of the same package to
// both store it once.
func TestPostgresReplicas(t *testing.T) {
	pg := pgtest.Database(t)
	f := newFixture(t, intake.Options{}) // PKI, devices, an SQLite authority for the keys
	ctx := context.Background()
	replica := func() *intaketest.Authority {
		dir := t.TempDir()
		for _, k := range []string{intake.IntakeKeyFile, intake.ReceiptKeyFile, intake.NumberHMACKeyFile} {
			b, err := os.ReadFile(filepath.Join(f.auth.Dir, k))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, k), b, 0o600)
		}
		return intaketest.NewAuthorityDB(t, dir, pg, f.pki, f.reg, intake.Options{})
	}
	r1, r2 := replica(), replica()
	if r1.DB.Dialect != authority.Postgres {
		t.Fatalf("dialect %s", r1.DB.Dialect)
	}
	rc, pkg := f.seal(t, f.sealA, intaketest.CitizenName, intaketest.CitizenNumber)
	res1, err := r1.Intake.Submit(ctx, pkg, rc.EnrollmentID, f.a.Cert, intake.FromUplink)
	if err != nil {
		t.Fatal(err)
	}
	res2, err := r2.Intake.Submit(ctx, pkg, rc.EnrollmentID, f.a.Cert, intake.FromUplink)
	if err != nil || !res2.Repeat || !bytes.Equal(res1.Receipt, res2.Receipt) {
		t.Fatalf("repeat on the other replica: %+v %v", res2, err)
	}
	// Races: 10 packages, each sent to both replicas at once, twice.
	var pkgs [][]byte
	var ids []string
	for range 10 {
		rc, p := f.seal(t, f.sealB, intaketest.CitizenName, intaketest.RandomNumber(f.rnd))
		pkgs, ids = append(pkgs, p), append(ids, rc.EnrollmentID)
	}
	receipts := make([][][]byte, len(pkgs))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i, p := range pkgs {
		for _, r := range []*intaketest.Authority{r1, r2, r1, r2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := r.Intake.Submit(ctx, p, ids[i], f.b.Cert, intake.FromUplink)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				receipts[i] = append(receipts[i], res.Receipt)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	for i, rs := range receipts {
		for _, r := range rs {
			if !bytes.Equal(r, rs[0]) {
				t.Fatalf("package %d got different receipts", i)
			}
		}
	}
	if n, _ := r2.Intake.Count(ctx); n != 11 {
		t.Fatalf("%d stored, want 11", n)
	}
	// The same ID number again: flagged.
	rc3, pkg3 := f.seal(t, f.sealB, intaketest.CitizenName, intaketest.CitizenNumber)
	if _, err := r2.Intake.Submit(ctx, pkg3, rc3.EnrollmentID, f.b.Cert, intake.FromUplink); err != nil {
		t.Fatal(err)
	}
	list, err := r1.Intake.List(ctx, intake.ListOptions{Flagged: true})
	if err != nil || len(list) != 1 || list[0].EnrollmentID != rc3.EnrollmentID {
		t.Fatalf("flagged on postgres: %+v %v", list, err)
	}
	d, err := r1.Intake.Show(ctx, rc.Short, false)
	if err != nil || d.EnrollmentID != rc.EnrollmentID || d.Number != "9901**********1237" {
		t.Fatalf("show: %v", err)
	}
	// Import through a replica.
	dir := t.TempDir()
	rc4, pkg4 := f.seal(t, f.sealA, intaketest.CitizenName, intaketest.RandomNumber(f.rnd))
	os.WriteFile(filepath.Join(dir, rc4.EnrollmentID+intake.PackageExt), pkg4, 0o600)
	os.WriteFile(filepath.Join(dir, rc.EnrollmentID+intake.PackageExt), pkg, 0o600)
	res, err := r2.Intake.Import(ctx, dir, nil)
	if err != nil || res.Stored != 1 || res.Repeated != 1 {
		t.Fatalf("import: %+v %v", res, err)
	}
}
