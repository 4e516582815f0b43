package enroll_test

import (
	"bytes"
	"crypto/elliptic"
	"encoding/asn1"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/fxamacker/cbor/v2"

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

// smallPackage is a structurally valid package (canonical, low-S) of a few
// hundred bytes, so that the fuzzer mutates encodings rather than
// ciphertext. Its signature does not verify; Parse does not check that.
func smallPackage(tb testing.TB) []byte {
	h, err := enroll.Marshal(enroll.Header{Format: enroll.FormatVersion, Schema: 1, EnrollmentID: "01936b2a-7c00-7000-8000-000000000001",
		DeviceID: "KT-1", StationID: "NS-PSB-001", Created: 1_800_000_000_000, KeyID: make([]byte, 8), CertHash: make([]byte, 32),
		PlainSize: 4, BodySize: 20})
	if err != nil {
		tb.Fatal(err)
	}
	sig, err := asn1.Marshal(struct{ R, S *big.Int }{big.NewInt(0x1234567), big.NewInt(0x7654321)})
	if err != nil {
		tb.Fatal(err)
	}
	b, err := enroll.Marshal(enroll.Package{Header: h, Enc: bytes.Repeat([]byte{1}, 32), Body: bytes.Repeat([]byte{2}, 20),
		Digest: make([]byte, 32), Cert: []byte{0x30, 0x00}, Sig: sig})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// FuzzCanonical checks the package's canonical-form rule (issue 20, finding
// 3): whatever Parse accepts re-encodes to itself with a low-S signature,
// and no other encoding of the same fields (as a lenient CBOR decoder reads
// them, the signature taken up to s → n−s) parses. Seeds: a small package,
// a non-minimal map length, indefinite-length maps and the other signature
// form.
func FuzzCanonical(f *testing.F) {
	seed := smallPackage(f)
	f.Add(seed)
	f.Add(append([]byte{0xb8, 0x06}, seed[1:]...))
	f.Add(append(append([]byte{0xbf}, seed[1:]...), 0xff))
	var p enroll.Package
	if err := enroll.Unmarshal(seed, &p); err != nil {
		f.Fatal(err)
	}
	var sig struct{ R, S *big.Int }
	asn1.Unmarshal(p.Sig, &sig)
	sig.S.Sub(elliptic.P256().Params().N, sig.S)
	p.Sig, _ = asn1.Marshal(sig)
	high, _ := enroll.Marshal(p)
	f.Add(high)
	var want enroll.Package
	enroll.Unmarshal(seed, &want)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, perr := enroll.Parse(b)
		if perr == nil {
			re, err := enroll.Marshal(s.Package)
			if err != nil || !bytes.Equal(re, b) {
				t.Fatal("Parse accepted a package that does not re-encode to itself")
			}
			if low, err := enroll.LowS(s.Sig); err != nil || !bytes.Equal(low, s.Sig) {
				t.Fatal("Parse accepted a signature that is not low-S DER")
			}
		}
		var lax enroll.Package
		if cbor.Unmarshal(b, &lax) != nil || bytes.Equal(b, seed) {
			return
		}
		var hdr enroll.Header
		if cbor.Unmarshal(lax.Header, &hdr) != nil {
			return
		}
		canonSig, err := enroll.LowS(lax.Sig)
		if err != nil {
			return
		}
		same := bytes.Equal(canonSig, want.Sig) && bytes.Equal(lax.Enc, want.Enc) && bytes.Equal(lax.Body, want.Body) &&
			bytes.Equal(lax.Digest, want.Digest) && bytes.Equal(lax.Cert, want.Cert)
		if wh, _ := enroll.Marshal(hdr); same && bytes.Equal(wh, want.Header) && perr == nil {
			t.Fatalf("a second encoding of the same package parses (%d bytes)", len(b))
		}
	})
}
