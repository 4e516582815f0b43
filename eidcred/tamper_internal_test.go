package eidcred

import (
	"bytes"
	"compress/zlib"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"
)

// TestChangedSignedByte changes each byte of the signed COSE structure and
// re-wraps it with a correct zlib checksum and Base45, so that the
// signatures, not the compression's checksum, must catch it: never "valid".
func TestChangedSignedByte(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	ik, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	issuer, err := NewSigner(ik)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCredential("E1", "张*", &pk.PublicKey, at, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := Issue(issuer, c)
	if err != nil {
		t.Fatal(err)
	}
	list, _ := SignRevocation(issuer, RevocationList{Issued: at.Unix()})
	keys := KeySet{{KID: issuer.KID, Public: &ik.PublicKey}}
	l, err := ParseRevocation(list, keys)
	if err != nil {
		t.Fatal(err)
	}
	p := Policy{Keys: keys, Revocation: l}
	qr, err := Present(cred, pk, at)
	if err != nil {
		t.Fatal(err)
	}
	if r := Verify(qr, at, p); r.Status != Valid {
		t.Fatalf("untouched: %s %s", r.Status, r.Reason)
	}
	raw, err := unwrap(qr)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[Reason]int{}
	for i := range raw {
		b := bytes.Clone(raw)
		b[i] ^= 0x01
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		w.Write(b)
		w.Close()
		r := Verify(Prefix+base45Encode(z.Bytes()), at, p)
		if r.Status == Valid {
			t.Fatalf("byte %d of %d changed: still valid", i, len(raw))
		}
		reasons[r.Reason]++
	}
	if reasons[ReasonIssuerSignature] == 0 || reasons[ReasonHolderSignature] == 0 {
		t.Fatalf("the signatures caught nothing: %v", reasons)
	}
	t.Logf("%d signed bytes changed: %v", len(raw), reasons)
}
