package intake_test

import (
	"context"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/enroll"
)

// reencoded is the same package with a non-minimal length on its outer map
// (0xb8 0x06 instead of 0xa6): well-formed CBOR that decodes to the same
// fields, but not the deterministic encoding.
func reencoded(t *testing.T, pkg []byte) []byte {
	t.Helper()
	if pkg[0] != 0xa6 {
		t.Fatalf("package starts with %#x, want a 6-entry map", pkg[0])
	}
	return append([]byte{0xb8, 0x06}, pkg[1:]...)
}

// otherS is the same package with its signature's s replaced by n−s: the
// other ECDSA signature of the same content, which verifies too.
func otherS(t *testing.T, pkg []byte) []byte {
	t.Helper()
	var p enroll.Package
	if err := enroll.Unmarshal(pkg, &p); err != nil {
		t.Fatal(err)
	}
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(p.Sig, &sig); err != nil {
		t.Fatal(err)
	}
	sig.S.Sub(elliptic.P256().Params().N, sig.S)
	var err error
	if p.Sig, err = asn1.Marshal(sig); err != nil {
		t.Fatal(err)
	}
	out, err := enroll.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Issue 20 finding 3, over real TLS: a re-encoded copy or the other
// signature form of a genuine package used to be stored under a new hash,
// after which the kiosk's genuine upload got 409 forever. Both are now
// refused as not canonical, and the genuine package is stored.
func TestProbeMalleablePackageUpload(t *testing.T) {
	f := newFixture(t, intake.Options{})
	f.auth.Serve(t, "127.0.0.1:0")
	rc, pkg := f.seal(t, f.sealA, intaketest.CitizenName, intaketest.CitizenNumber)
	for name, evil := range map[string][]byte{"re-encoded": reencoded(t, pkg), "other signature form": otherS(t, pkg)} {
		if _, err := enroll.Parse(evil); err == nil {
			t.Fatalf("%s: parses", name)
		}
		if status, eb := post(t, f, f.a, rc.EnrollmentID, evil); status != 400 || eb.Code != enroll.CodeMalformed {
			t.Errorf("%s: %d %q, want 400 %q", name, status, eb.Code, enroll.CodeMalformed)
		}
	}
	if status, eb := post(t, f, f.a, rc.EnrollmentID, pkg); status != 201 {
		t.Fatalf("the genuine package after the copies: %d %q, want 201", status, eb.Code)
	}
}

// Finding 3 through a tampered USB export: the copy is refused, the
// genuine file imports, and its receipt names the genuine package's hash.
func TestProbeMalleablePackageImport(t *testing.T) {
	f := newFixture(t, intake.Options{})
	ctx := context.Background()
	rc, pkg := f.seal(t, f.sealA, intaketest.CitizenName, intaketest.CitizenNumber)
	dir := t.TempDir()
	file := filepath.Join(dir, rc.EnrollmentID+intake.PackageExt)
	os.WriteFile(file, otherS(t, pkg), 0o600)
	res, err := f.auth.Intake.Import(ctx, dir, nil)
	if err != nil || res.Stored != 0 || res.Refused[enroll.CodeMalformed] != 1 {
		t.Fatalf("tampered export: %+v %v", res, err)
	}
	os.WriteFile(file, pkg, 0o600)
	if res, err = f.auth.Intake.Import(ctx, dir, nil); err != nil || res.Stored != 1 {
		t.Fatalf("genuine export: %+v %v", res, err)
	}
	receipt, err := os.ReadFile(filepath.Join(dir, rc.EnrollmentID+intake.ReceiptExt))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(pkg)
	if _, err := enroll.VerifyReceipt(f.auth.Intake.ReceiptPublicKey(), receipt, rc.EnrollmentID, h[:]); err != nil {
		t.Fatalf("the receipt does not name the genuine package: %v", err)
	}
}
