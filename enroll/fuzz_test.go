package enroll_test

import (
	"math/rand/v2"
	"testing"

	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/enroll"
)

// FuzzParse feeds arbitrary bytes to the authority-side parser and checks:
// no panic, and whatever parses and passes Check, Verify and Open matches its
// header. Seeds: a real package and some truncations. Run longer with
// `go test -fuzz FuzzParse ./enroll`.
func FuzzParse(f *testing.F) {
	s, dev, _, open := setup(f)
	rec, err := intaketest.Record(intaketest.CitizenName, intaketest.CitizenNumber, "KT-1", "NS-PSB-001", rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		f.Fatal(err)
	}
	pkg, err := s.Seal(rec, rec.Sealed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pkg)
	f.Add(pkg[:len(pkg)/2])
	f.Add(pkg[:200])
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := enroll.Parse(b)
		if err != nil {
			return
		}
		if p.Check() != nil || p.Verify(dev.Cert) != nil {
			return
		}
		r, err := open(b)
		if err != nil {
			return
		}
		if r.EnrollmentID != p.Header.EnrollmentID || r.DeviceID != p.Header.DeviceID {
			t.Fatal("opened record does not match its header")
		}
	})
}
