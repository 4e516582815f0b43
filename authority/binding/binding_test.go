package binding_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority/binding"
	"eidkiosk/authority/binding/bindingtest"
	"eidkiosk/eidcred"
)

var t0 = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

const (
	enrollmentID = "0190a0a0-0000-7000-8000-000000000001"
	code         = "7K3Q9D4PMX2R8T6W1ABC"
)

type phone struct {
	t   *testing.T
	s   *bindingtest.Server
	key *ecdsa.PrivateKey
}

func newPhone(t *testing.T, s *bindingtest.Server) *phone {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &phone{t: t, s: s, key: k}
}

func (p *phone) do(method, path, ctype string, body []byte) (int, []byte) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.s.URL+path, bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := p.s.Client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// bind posts a binding and returns the HTTP status, the binding status and
// the refusal reason.
func (p *phone) bind(id, c string) (int, eidcred.BindingStatus, string) {
	p.t.Helper()
	hk, _ := p.key.PublicKey.Bytes()
	body, _ := json.Marshal(eidcred.BindRequest{EnrollmentID: id, Code: c, HolderKey: hk})
	code, b := p.do("POST", eidcred.PathBindings, "application/json", body)
	var st eidcred.BindingStatus
	var eb eidcred.ErrorBody
	json.Unmarshal(b, &st)
	json.Unmarshal(b, &eb)
	return code, st, eb.Reason
}

func (p *phone) credential(bindingID string, signer *ecdsa.PrivateKey, at time.Time) (int, []byte) {
	p.t.Helper()
	req, err := eidcred.SignRequest(signer, bindingID, at)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.do("POST", strings.Replace(eidcred.PathCredential, "{id}", bindingID, 1), eidcred.ContentCOSE, req)
}

func reason(b []byte) string {
	var eb eidcred.ErrorBody
	json.Unmarshal(b, &eb)
	return eb.Reason
}

// policy fetches the published keys and revocation list, as a verifier does.
func (p *phone) policy() eidcred.Policy {
	p.t.Helper()
	code, kb := p.do("GET", eidcred.PathKeys, "", nil)
	if code != 200 {
		p.t.Fatalf("keys: %d %s", code, kb)
	}
	var keys eidcred.KeySet
	if err := json.Unmarshal(kb, &keys); err != nil {
		p.t.Fatal(err)
	}
	code, lb := p.do("GET", eidcred.PathRevocation, "", nil)
	if code != 200 {
		p.t.Fatalf("revocation: %d %s", code, lb)
	}
	l, err := eidcred.ParseRevocation(lb, keys)
	if err != nil {
		p.t.Fatal(err)
	}
	return eidcred.Policy{Keys: keys, Revocation: l}
}

func TestBindPendingThenActiveThenVerify(t *testing.T) {
	s := bindingtest.Start(t, t0, binding.Options{})
	s.Enrollments.Add(enrollmentID, code, "张*", t0.Add(-time.Hour), binding.StatusNeedsReview)
	p := newPhone(t, s)
	st, bs, why := p.bind(strings.ToUpper(enrollmentID), code)
	if st != http.StatusCreated || bs.State != eidcred.StatePending || bs.BindingID == "" {
		t.Fatalf("bind: %d %+v %s", st, bs, why)
	}
	if st, b := p.credential(bs.BindingID, p.key, t0); st != http.StatusConflict || !strings.Contains(string(b), eidcred.StatePending) {
		t.Fatalf("credential while pending: %d %s", st, b)
	}
	s.Enrollments.SetStatus(enrollmentID, binding.StatusApproved)
	st, b := p.do("GET", "/v1/bindings/"+bs.BindingID, "", nil)
	if st != 200 || !strings.Contains(string(b), `"active"`) {
		t.Fatalf("status: %d %s", st, b)
	}
	st, cred := p.credential(bs.BindingID, p.key, t0)
	if st != 200 {
		t.Fatalf("credential: %d %s", st, cred)
	}
	c, kid, err := eidcred.ParseUnverified(cred)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "张*" || !strings.HasPrefix(c.EID, "E") || c.NotAfter-c.NotBefore != 24*3600 || len(kid) != 8 {
		t.Fatalf("credential %+v kid %x", c, kid)
	}
	qr, err := eidcred.Present(cred, p.key, t0)
	if err != nil {
		t.Fatal(err)
	}
	if r := eidcred.Verify(qr, t0.Add(10*time.Second), p.policy()); r.Status != eidcred.Valid {
		t.Fatalf("verify: %s %s %v", r.Status, r.Reason, r.Err)
	}
}

func TestCodeIsSingleUse(t *testing.T) {
	s := bindingtest.Start(t, t0, binding.Options{})
	s.Enrollments.Add(enrollmentID, code, "张*", t0, binding.StatusVerified)
	if st, _, why := newPhone(t, s).bind(enrollmentID, code); st != http.StatusCreated {
		t.Fatalf("first bind: %d %s", st, why)
	}
	if st, _, why := newPhone(t, s).bind(enrollmentID, code); st != http.StatusConflict || why != eidcred.ReasonCodeUsed {
		t.Fatalf("second bind: %d %s", st, why)
	}
}

func TestCodeExpires(t *testing.T) {
	s := bindingtest.Start(t, t0, binding.Options{})
	s.Enrollments.Add(enrollmentID, code, "张*", t0, binding.StatusVerified)
	s.Clock.Advance(7*24*time.Hour + time.Minute)
	if st, _, why := newPhone(t, s).bind(enrollmentID, code); st != http.StatusGone || why != eidcred.ReasonCodeExpired {
		t.Fatalf("bind after 7 days: %d %s", st, why)
	}
}

func TestRejectedEnrollment(t *testing.T) {
	s := bindingtest.Start(t, t0, binding.Options{})
	s.Enrollments.Add(enrollmentID, code, "张*", t0, binding.StatusRejected)
	if st, _, why := newPhone(t, s).bind(enrollmentID, code); st != http.StatusForbidden || why != eidcred.ReasonRejected {
		t.Fatalf("bind of a rejected enrollment: %d %s", st, why)
	}
	// Bound while under review, then rejected: no credential.
	s.Enrollments.SetStatus(enrollmentID, binding.StatusNeedsReview)
	p := newPhone(t, s)
	_, bs, _ := p.bind(enrollmentID, code)
	s.Enrollments.SetStatus(enrollmentID, binding.StatusRejected)
	if st, b := p.credential(bs.BindingID, p.key, t0); st != http.StatusForbidden || reason(b) != eidcred.ReasonBindingState {
		t.Fatalf("credential after rejection: %d %s", st, b)
	}
}

func TestWrongCodesAreRateLimitedPerEnrollment(t *testing.T) {
	s := bindingtest.Start(t, t0, binding.Options{FailedPerEnrollment: 3})
	s.Enrollments.Add(enrollmentID, code, "张*", t0, binding.StatusVerified)
	p := newPhone(t, s)
	for i := range 3 {
		if st, _, why := p.bind(enrollmentID, "0000000000000000000"+string(rune('A'+i))); st != http.StatusForbidden || why != eidcred.ReasonCodeWrong {
			t.Fatalf("wrong code %d: %d %s", i, st, why)
		}
	}
	// Even the right code waits now.
	if st, _, why := p.bind(enrollmentID, code); st != http.StatusTooManyRequests || why != eidcred.ReasonRateLimited {
		t.Fatalf("after 3 wrong codes: %d %s", st, why)
	}
	s.Clock.Advance(time.Hour)
	if st, _, why := p.bind(enrollmentID, code); st != http.StatusCreated {
		t.Fatalf("an hour later: %d %s", st, why)
	}
	// An unknown enrollment answers like a wrong code.
	if st, _, why := p.bind("0190a0a0-0000-7000-8000-0000000000ff", code); st != http.StatusForbidden || why != eidcred.ReasonCodeWrong {
		t.Fatalf("unknown enrollment: %d %s", st, why)
	}
}

func TestRateLimitedPerSource(t *testing.T) {
	s := bindingtest.Start(t, t0, binding.Options{PerSource: 2})
	p := newPhone(t, s)
	for i := range 2 {
		if st, _, why := p.bind(enrollmentID, code); st != http.StatusForbidden {
			t.Fatalf("attempt %d: %d %s", i, st, why)
		}
	}
	if st, _, why := p.bind(enrollmentID, code); st != http.StatusTooManyRequests || why != eidcred.ReasonRateLimited {
		t.Fatalf("third attempt: %d %s", st, why)
	}
}

func TestCredentialNeedsTheBoundKey(t *testing.T) {
	s := bindingtest.Start(t, t0, binding.Options{})
	s.Enrollments.Add(enrollmentID, code, "张*", t0, binding.StatusVerified)
	p := newPhone(t, s)
	_, bs, _ := p.bind(enrollmentID, code)
	other := newPhone(t, s)
	if st, b := p.credential(bs.BindingID, other.key, t0); st != http.StatusForbidden || reason(b) != eidcred.ReasonProof {
		t.Fatalf("another key's request: %d %s", st, b)
	}
	if st, b := p.credential(bs.BindingID, p.key, t0.Add(-time.Hour)); st != http.StatusForbidden || reason(b) != eidcred.ReasonProof {
		t.Fatalf("an old request: %d %s", st, b)
	}
	if st, b := p.credential("00", p.key, t0); st != http.StatusNotFound {
		t.Fatalf("unknown binding: %d %s", st, b)
	}
}

func TestRevokeAndRotate(t *testing.T) {
	s := bindingtest.Start(t, t0, binding.Options{})
	s.Enrollments.Add(enrollmentID, code, "张*", t0, binding.StatusVerified)
	p := newPhone(t, s)
	_, bs, _ := p.bind(enrollmentID, code)
	_, cred := p.credential(bs.BindingID, p.key, t0)
	c, oldKID, _ := eidcred.ParseUnverified(cred)

	// Rotation: the old key stays published for the credentials it signed.
	newKID, err := s.Module.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	pol := p.policy()
	if len(pol.Keys) != 2 {
		t.Fatalf("%d keys published after rotation", len(pol.Keys))
	}
	qr, _ := eidcred.Present(cred, p.key, t0)
	if r := eidcred.Verify(qr, t0, pol); r.Status != eidcred.Valid {
		t.Fatalf("old key's credential after rotation: %s %s", r.Status, r.Reason)
	}
	_, cred2 := p.credential(bs.BindingID, p.key, t0)
	if _, kid, _ := eidcred.ParseUnverified(cred2); string(kid) != string(newKID) || string(kid) == string(oldKID) {
		t.Fatalf("new credential signed by %x, want %x", kid, newKID)
	}
	// Keys persist across restarts of the module.
	m2, err := binding.New(binding.Options{DataDir: s.DataDir, Receipts: s.Enrollments, Status: s.Enrollments, Clock: s.Clock})
	if err != nil || len(m2.Keys()) != 2 {
		t.Fatalf("reloaded: %v, %d keys", err, len(m2.Keys()))
	}
	s.Clock.Advance(25 * time.Hour)
	if k := p.policy().Keys; len(k) != 1 || string(k[0].KID) != string(newKID) {
		t.Fatalf("after the overlap: %d keys", len(k))
	}

	// Revocation: listed, no more credentials.
	if err := s.Module.Revoke(t.Context(), c.EID); err != nil {
		t.Fatal(err)
	}
	at := s.Clock.Now()
	if st, b := p.credential(bs.BindingID, p.key, at); st != http.StatusForbidden || reason(b) != eidcred.ReasonBindingState {
		t.Fatalf("credential after revocation: %d %s", st, b)
	}
	pol = p.policy()
	if !pol.Revocation.IssuedAt().Equal(at.Truncate(time.Second)) || !pol.Revocation.Revoked(c) {
		t.Fatalf("revocation list %+v", pol.Revocation)
	}
	qr, _ = eidcred.Present(cred2, p.key, t0.Add(time.Hour))
	if r := eidcred.Verify(qr, t0.Add(time.Hour), pol); r.Status != eidcred.Revoked {
		t.Fatalf("revoked e-ID: %s %s", r.Status, r.Reason)
	}
	if err := s.Module.Revoke(t.Context(), "ENOSUCH"); err == nil {
		t.Fatal("revoking an unknown e-ID: no error")
	}
}

func TestMalformedBind(t *testing.T) {
	s := bindingtest.Start(t, t0, binding.Options{})
	p := newPhone(t, s)
	for _, body := range []string{"", "{", `{"enrollment_id":"x","code":"y","holder_key":"AAAA"}`,
		`{"enrollment_id":"` + enrollmentID + `","code":"` + code + `","holder_key":"AAAA"}`} {
		if st, b := p.do("POST", eidcred.PathBindings, "application/json", []byte(body)); st != http.StatusBadRequest || reason(b) != eidcred.ReasonBadRequest {
			t.Errorf("%q: %d %s", body, st, b)
		}
	}
}
