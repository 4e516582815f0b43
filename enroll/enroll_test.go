package enroll_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/enroll"
	"eidkiosk/idcard"
)

func setup(t testing.TB) (*enroll.Sealer, *intaketest.Device, []byte, func([]byte) (*enroll.Record, error)) {
	sg, err := intaketest.NewSealing()
	if err != nil {
		t.Fatal(err)
	}
	return sg.Sealer, sg.Device, sg.Pub, sg.Open
}

// A sealed record carries nothing personal in clear, opens to the same
// record, and never prints its contents.
func TestSealOpenKeepsNothingInClear(t *testing.T) {
	s, _, _, open := setup(t)
	rec, err := intaketest.Record(intaketest.CitizenName, intaketest.CitizenNumber, "KT-1", "NS-PSB-001", mrand.New(mrand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := s.Seal(rec, rec.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{intaketest.CitizenName, intaketest.CitizenNumber} {
		if bytes.Contains(pkg, []byte(secret)) || bytes.Contains(pkg, intaketest.UCS2(secret)) {
			t.Error("package holds personal data in clear")
		}
	}
	if bytes.Contains(pkg, rec.Portrait[100:200]) {
		t.Error("package holds the portrait in clear")
	}
	r, err := open(pkg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Card.Number != intaketest.CitizenNumber || r.Card.Kind != idcard.KindResident || r.Card.BirthDate != "19900307" ||
		r.Card.ValidTo != "20400101" || !bytes.Equal(r.Portrait, rec.Portrait) || r.EnrollmentID != rec.EnrollmentID {
		t.Fatal("opened record differs from the sealed one")
	}
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", *r, *r, *r, r.Card), logLine(r)} {
		if strings.Contains(out, intaketest.CitizenNumber) || strings.Contains(out, intaketest.CitizenName) {
			t.Errorf("record printed personal data: %s", out)
		}
	}
	other := *rec
	other.DeviceID = "KT-2"
	if _, err := s.Seal(&other, rec.Sealed); err == nil {
		t.Error("sealed a record of another device")
	}
}

func logLine(r *enroll.Record) string {
	var b bytes.Buffer
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "rec", *r, "card", r.Card)
	return b.String()
}

func TestSealerRefusesMismatchedKey(t *testing.T) {
	_, dev, pub, _ := setup(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := enroll.NewSealer(other, dev.Cert, pub, "KT-1", "NS-PSB-001", nil); err == nil {
		t.Fatal("key not matching the certificate accepted")
	}
	if _, err := enroll.NewSealer(dev.Key, dev.Cert, pub[:100], "KT-1", "NS-PSB-001", nil); err == nil {
		t.Fatal("truncated intake key accepted")
	}
}

func TestShortIsStable(t *testing.T) {
	a := enroll.Short("NS-PSB-001", "0190a0a0-0000-7000-8000-000000000000")
	if a != enroll.Short("NS-PSB-001", "0190a0a0-0000-7000-8000-000000000000") {
		t.Fatal("short number not stable")
	}
	if a == enroll.Short("NS-PSB-001", "0190a0a0-0000-7000-8000-000000000001") {
		t.Fatal("two IDs, one short number")
	}
	if !strings.HasPrefix(a, "NS01-") || strings.ContainsAny(a[5:], "ILOU") {
		t.Fatalf("short %q", a)
	}
	for _, bad := range []string{"", "EIDK1:", "EIDK1:not-a-uuid:CODE", "EIDK1:0190A0A0-0000-7000-8000-000000000000"} {
		if _, _, err := enroll.ParseQR(bad); err == nil {
			t.Errorf("ParseQR(%q) accepted", bad)
		}
	}
}
