package eidcred_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"eidkiosk/eidcred"
)

var t0 = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

type fixture struct {
	issuer   eidcred.Signer
	phone    *ecdsa.PrivateKey
	cred     []byte
	keys     eidcred.KeySet
	list     *eidcred.RevocationList
	credInfo eidcred.Credential
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newFixture(t testing.TB) *fixture {
	f := &fixture{phone: newKey(t)}
	ik := newKey(t)
	var err error
	if f.issuer, err = eidcred.NewSigner(ik); err != nil {
		t.Fatal(err)
	}
	f.keys = eidcred.KeySet{{KID: f.issuer.KID, Public: &ik.PublicKey}}
	if f.credInfo, err = eidcred.NewCredential("E7K3Q9D4PMX2R8T6", "张*", &f.phone.PublicKey, t0, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if f.cred, err = eidcred.Issue(f.issuer, f.credInfo); err != nil {
		t.Fatal(err)
	}
	f.list = f.signedList(t, f.issuer, t0, nil)
	return f
}

func (f *fixture) signedList(t testing.TB, s eidcred.Signer, at time.Time, eids []string) *eidcred.RevocationList {
	b, err := eidcred.SignRevocation(s, eidcred.RevocationList{Issued: at.Unix(), EIDs: eids})
	if err != nil {
		t.Fatal(err)
	}
	l, err := eidcred.ParseRevocation(b, f.keys)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (f *fixture) present(t testing.TB, at time.Time) string {
	qr, err := eidcred.Present(f.cred, f.phone, at)
	if err != nil {
		t.Fatal(err)
	}
	return qr
}

func (f *fixture) policy() eidcred.Policy {
	return eidcred.Policy{Keys: f.keys, Revocation: f.list}
}

func check(t *testing.T, r eidcred.Result, st eidcred.Status, why eidcred.Reason) {
	t.Helper()
	if r.Status != st || r.Reason != why {
		t.Fatalf("got %s (%s, %v), want %s (%s)", r.Status, r.Reason, r.Err, st, why)
	}
}

func TestValidPresentation(t *testing.T) {
	f := newFixture(t)
	at := t0.Add(3 * time.Hour)
	qr := f.present(t, at)
	if !strings.HasPrefix(qr, eidcred.Prefix) {
		t.Fatalf("payload %q has no prefix", qr[:10])
	}
	r := eidcred.Verify(qr, at.Add(20*time.Second), f.policy())
	check(t, r, eidcred.Valid, eidcred.ReasonOK)
	if r.Name.Reveal() != "张*" || !r.NotAfter.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("name %q, expiry %s", r.Name.Reveal(), r.NotAfter)
	}
	if s := fmt.Sprintf("%v %+v", r, r); strings.Contains(s, "张") {
		t.Fatalf("the result prints the name: %s", s)
	}
	// Two presentations a second apart differ (a fresh signature each).
	if f.present(t, at) == qr {
		t.Fatal("two presentations are identical")
	}
}

// Every byte of the payload changed, one at a time: never "valid".
func TestChangedByteAnywhere(t *testing.T) {
	f := newFixture(t)
	qr := f.present(t, t0)
	const alpha = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	reasons := map[eidcred.Reason]int{}
	for i := range len(qr) {
		b := []byte(qr)
		j := strings.IndexByte(alpha, b[i])
		b[i] = alpha[(j+1)%len(alpha)]
		r := eidcred.Verify(string(b), t0, f.policy())
		if r.Status != eidcred.NotGenuine {
			t.Fatalf("byte %d changed: %s (%s)", i, r.Status, r.Reason)
		}
		reasons[r.Reason]++
	}
	t.Logf("%d changed bytes: %v", len(qr), reasons)
}

func TestUnknownIssuerKey(t *testing.T) {
	f := newFixture(t)
	rogue, _ := eidcred.NewSigner(newKey(t))
	c, err := eidcred.Issue(rogue, f.credInfo)
	if err != nil {
		t.Fatal(err)
	}
	qr, _ := eidcred.Present(c, f.phone, t0)
	check(t, eidcred.Verify(qr, t0, f.policy()), eidcred.NotGenuine, eidcred.ReasonUnknownKey)
}

// A rogue key claiming the issuer's key ID: the signature fails.
func TestForgedKeyID(t *testing.T) {
	f := newFixture(t)
	rogue := eidcred.Signer{KID: f.issuer.KID, Key: newKey(t)}
	c, err := eidcred.Issue(rogue, f.credInfo)
	if err != nil {
		t.Fatal(err)
	}
	qr, _ := eidcred.Present(c, f.phone, t0)
	check(t, eidcred.Verify(qr, t0, f.policy()), eidcred.NotGenuine, eidcred.ReasonIssuerSignature)
}

func TestExpired(t *testing.T) {
	f := newFixture(t)
	at := t0.Add(25 * time.Hour)
	p := f.policy()
	p.Revocation = f.signedList(t, f.issuer, at, nil)
	check(t, eidcred.Verify(f.present(t, at), at, p), eidcred.Expired, eidcred.ReasonExpired)
	// The same check from an old QR judged 25 h later: still "expired"
	// (the citizen must refresh), not merely "late".
	check(t, eidcred.Verify(f.present(t, t0), at, p), eidcred.Expired, eidcred.ReasonExpired)
}

func TestRevoked(t *testing.T) {
	f := newFixture(t)
	p := f.policy()
	p.Revocation = f.signedList(t, f.issuer, t0, []string{"E7K3Q9D4PMX2R8T6"})
	check(t, eidcred.Verify(f.present(t, t0), t0, p), eidcred.Revoked, eidcred.ReasonRevokedEID)
	b, _ := eidcred.SignRevocation(f.issuer, eidcred.RevocationList{Issued: t0.Unix(), Credentials: [][]byte{f.credInfo.ID}})
	p.Revocation, _ = eidcred.ParseRevocation(b, f.keys)
	check(t, eidcred.Verify(f.present(t, t0), t0, p), eidcred.Revoked, eidcred.ReasonRevokedEID)
}

func TestReplayedAfterSkew(t *testing.T) {
	f := newFixture(t)
	qr := f.present(t, t0)
	check(t, eidcred.Verify(qr, t0.Add(59*time.Second), f.policy()), eidcred.Valid, eidcred.ReasonOK)
	check(t, eidcred.Verify(qr, t0.Add(61*time.Second), f.policy()), eidcred.TooLate, eidcred.ReasonPresentedLate)
	check(t, eidcred.Verify(f.present(t, t0.Add(5*time.Minute)), t0, f.policy()), eidcred.TooLate, eidcred.ReasonPresentedEarly)
	p := f.policy()
	p.Skew = 10 * time.Second
	check(t, eidcred.Verify(qr, t0.Add(11*time.Second), p), eidcred.TooLate, eidcred.ReasonPresentedLate)
}

func TestAnotherPhonesKey(t *testing.T) {
	f := newFixture(t)
	qr, err := eidcred.Present(f.cred, newKey(t), t0)
	if err != nil {
		t.Fatal(err)
	}
	check(t, eidcred.Verify(qr, t0, f.policy()), eidcred.NotGenuine, eidcred.ReasonHolderSignature)
}

func TestGarbage(t *testing.T) {
	f := newFixture(t)
	for _, g := range []string{"", "hello", "EIDK1:0190A0A0-0000-7000-8000-000000000000:ABC", "EID1:", "EID1:AAAA", "EID1:" + strings.Repeat("0", 300)} {
		check(t, eidcred.Verify(g, t0, f.policy()), eidcred.NotGenuine, eidcred.ReasonMalformed)
	}
}

func TestRevocationListAge(t *testing.T) {
	f := newFixture(t)
	at := t0.Add(2 * time.Hour)
	qr := f.present(t, at)
	p := f.policy()
	p.Revocation = nil
	check(t, eidcred.Verify(qr, at, p), eidcred.StaleList, eidcred.ReasonNoList)
	p.Revocation = f.list
	p.MaxListAge = time.Hour
	check(t, eidcred.Verify(qr, at, p), eidcred.StaleList, eidcred.ReasonStaleList)
	p.MaxListAge = 3 * time.Hour
	check(t, eidcred.Verify(qr, at, p), eidcred.Valid, eidcred.ReasonOK)
}

func TestRevocationListSignature(t *testing.T) {
	f := newFixture(t)
	rogue, _ := eidcred.NewSigner(newKey(t))
	b, _ := eidcred.SignRevocation(rogue, eidcred.RevocationList{Issued: t0.Unix()})
	if _, err := eidcred.ParseRevocation(b, f.keys); err == nil {
		t.Fatal("a list by an unknown key was accepted")
	}
	b, _ = eidcred.SignRevocation(f.issuer, eidcred.RevocationList{Issued: t0.Unix(), EIDs: []string{"X"}})
	b[len(b)-70] ^= 1
	if _, err := eidcred.ParseRevocation(b, f.keys); err == nil {
		t.Fatal("an altered list was accepted")
	}
}

// Rotation with overlap: a credential of the old key verifies until the
// old key's Until, then is refused for that reason.
func TestKeyRotationOverlap(t *testing.T) {
	f := newFixture(t)
	nk := newKey(t)
	ns, _ := eidcred.NewSigner(nk)
	f.keys[0].Until = t0.Add(24 * time.Hour)
	f.keys = append(f.keys, eidcred.IssuerKey{KID: ns.KID, Public: &nk.PublicKey})
	at := t0.Add(23 * time.Hour)
	p := f.policy()
	p.Revocation = f.signedList(t, ns, at, nil)
	check(t, eidcred.Verify(f.present(t, at), at, p), eidcred.Valid, eidcred.ReasonOK)
	f.keys[0].Until = t0.Add(20 * time.Hour)
	check(t, eidcred.Verify(f.present(t, at), at, p), eidcred.NotGenuine, eidcred.ReasonKeyRetired)
}

func TestKeySetJSON(t *testing.T) {
	f := newFixture(t)
	f.keys[0].Until = t0
	b, err := json.Marshal(f.keys)
	if err != nil {
		t.Fatal(err)
	}
	var back eidcred.KeySet
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back) != 1 || string(back[0].KID) != string(f.issuer.KID) || !back[0].Until.Equal(t0) || !back[0].Public.Equal(f.keys[0].Public) {
		t.Fatalf("round trip: %+v", back)
	}
	// A key ID that is not its key's is refused.
	bad := strings.Replace(string(b), `"kid":"`, `"kid":"A`, 1)
	if err := json.Unmarshal([]byte(bad), &back); err == nil {
		t.Fatal("a wrong key ID was accepted")
	}
}

func TestRefreshRequest(t *testing.T) {
	f := newFixture(t)
	b, err := eidcred.SignRequest(f.phone, "b1", t0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := eidcred.VerifyRequest(b, &f.phone.PublicKey)
	if err != nil || r.BindingID != "b1" || r.At != t0.Unix() {
		t.Fatalf("%+v, %v", r, err)
	}
	if _, err := eidcred.VerifyRequest(b, &newKey(t).PublicKey); err == nil {
		t.Fatal("another key's request verified")
	}
}

// The payload's size, reported: bytes and Base45 characters.
func TestPayloadSize(t *testing.T) {
	f := newFixture(t)
	qr := f.present(t, t0)
	t.Logf("credential %d bytes; QR payload %d characters", len(f.cred), len(qr))
	if len(qr) > 1000 {
		t.Fatalf("payload %d characters: too large for a phone screen", len(qr))
	}
}
