package intake_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/enroll"
	"eidkiosk/idcard"
	"eidkiosk/kiosk/session"
	"eidkiosk/kiosk/submit"
)

type fixture struct {
	pki                        *intaketest.PKI
	reg                        *intaketest.Registry
	auth                       *intaketest.Authority
	a, b, unknown, revoked     *intaketest.Device
	sealA, sealB, sealU, sealR *enroll.Sealer
	rnd                        *rand.Rand
}

func newFixture(t *testing.T, opts intake.Options) *fixture {
	t.Helper()
	f := &fixture{rnd: rand.New(rand.NewPCG(1, 2))}
	var err error
	if f.pki, err = intaketest.NewPKI(); err != nil {
		t.Fatal(err)
	}
	f.reg = intaketest.NewRegistry()
	mk := func(id, st string) *intaketest.Device {
		d, err := f.pki.NewDevice(id, st)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	f.a, f.b = mk("KT-A", "NS-PSB-001"), mk("KT-B", "NS-PSB-002")
	f.unknown, f.revoked = mk("KT-U", "NS-PSB-003"), mk("KT-R", "NS-PSB-004")
	f.reg.Add(f.a, f.b, f.revoked)
	f.reg.Revoke(f.revoked)
	f.auth = intaketest.NewAuthority(t, t.TempDir(), f.pki, f.reg, opts)
	pub := f.auth.Intake.IntakePublicKey()
	for _, p := range []struct {
		d *intaketest.Device
		s **enroll.Sealer
	}{{f.a, &f.sealA}, {f.b, &f.sealB}, {f.unknown, &f.sealU}, {f.revoked, &f.sealR}} {
		if *p.s, err = p.d.Sealer(pub); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// memQueue keeps the packages a Submitter writes.
type memQueue struct {
	ids  []string
	pkgs map[string][]byte
}

func (q *memQueue) Enqueue(ctx context.Context, id string, pkg []byte) error {
	if q.pkgs == nil {
		q.pkgs = map[string][]byte{}
	}
	q.ids = append(q.ids, id)
	q.pkgs[id] = pkg
	return nil
}

// seal runs a whole visit through a Submitter and returns the package.
func (f *fixture) seal(t *testing.T, s *enroll.Sealer, name, number string) (session.Receipt, []byte) {
	t.Helper()
	e, err := intaketest.Enrollment(name, number, f.rnd)
	if err != nil {
		t.Fatal(err)
	}
	q := &memQueue{}
	r, err := submit.NewSubmitter(s, q, "test-1.0", nil, nil).Submit(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	return r, q.pkgs[r.EnrollmentID]
}

func code(err error) string {
	var ref *intake.Refusal
	if errors.As(err, &ref) {
		return ref.Code
	}
	if err == nil {
		return "accepted"
	}
	return "error: " + err.Error()
}

func TestCheckDigit(t *testing.T) {
	for _, c := range []struct {
		n  string
		ok bool
	}{
		{intaketest.CitizenNumber, true},
		{"990101199003071238", false},
		{"11010519491231002X", true},
		{"110105194912310021", false},
		{"9901011990030712", false},
		{"99010119900307123A", false},
	} {
		if got := idcard.ValidNumber18(c.n); got != c.ok {
			t.Errorf("ValidNumber18(%s) = %v, want %v", c.n, got, c.ok)
		}
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		if n := intaketest.RandomNumber(rnd); !idcard.ValidNumber18(n) {
			t.Fatalf("generated number %s does not validate", n)
		}
	}
}

func TestSubmitStoresExactlyOnce(t *testing.T) {
	f := newFixture(t, intake.Options{})
	ctx := context.Background()
	rc, pkg := f.seal(t, f.sealA, intaketest.CitizenName, intaketest.CitizenNumber)
	if len(pkg) > 100<<10 {
		t.Errorf("package is %d bytes, above 100 KB", len(pkg))
	}
	res, err := f.auth.Intake.Submit(ctx, pkg, rc.EnrollmentID, f.a.Cert, intake.FromUplink)
	if err != nil {
		t.Fatal(err)
	}
	if res.Repeat {
		t.Fatal("first submit reported as repeat")
	}
	hash := sha(pkg)
	body, err := enroll.VerifyReceipt(f.auth.Intake.ReceiptPublicKey(), res.Receipt, rc.EnrollmentID, hash)
	if err != nil {
		t.Fatal(err)
	}
	if body.Short != rc.Short || body.DeviceID != "KT-A" {
		t.Errorf("receipt short %q device %q; kiosk showed %q", body.Short, body.DeviceID, rc.Short)
	}
	for range 3 {
		again, err := f.auth.Intake.Submit(ctx, pkg, rc.EnrollmentID, f.a.Cert, intake.FromUplink)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Repeat || !bytes.Equal(again.Receipt, res.Receipt) {
			t.Fatal("a repeat must return the same receipt")
		}
	}
	if n, _ := f.auth.Intake.Count(ctx); n != 1 {
		t.Fatalf("%d enrollments stored, want 1", n)
	}
	// Every field intact.
	want, _ := intaketest.Enrollment(intaketest.CitizenName, intaketest.CitizenNumber, rand.New(rand.NewPCG(9, 9)))
	got, err := f.auth.Intake.Record(ctx, rc.EnrollmentID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Card.Name != intaketest.CitizenName || got.Card.Number != intaketest.CitizenNumber ||
		got.Card.Address != intaketest.CitizenAddress || got.Card.BirthDate != "19900307" ||
		got.Card.ValidTo != "20400101" || !bytes.Equal(got.Card.Text, want.Card.Text) || len(got.Card.Photo) != 1024 ||
		!bytes.Equal(got.Portrait, want.Face.Portrait) || len(got.Liveness.Evidence) != 3 ||
		got.Liveness.Scores["passive"] != 0.93 || got.Liveness.TimingsMS[2] != 1500 ||
		got.Consent.TextVersion != "privacy-2026-01" || got.Quality[0].Name != "sharpness" {
		t.Errorf("record not intact")
	}
	if _, code, err := enroll.ParseQR(rc.QR); err != nil || code != got.BindingCode {
		t.Errorf("QR %q does not carry the sealed binding code (%v)", rc.QR, err)
	}
}

func sha(b []byte) []byte {
	s, err := enroll.Parse(b)
	if err != nil {
		panic(err)
	}
	return s.Hash
}

// TestFlippedBits flips one bit at many positions of a package: each copy
// is refused with a specific code, and nothing is stored.
func TestFlippedBits(t *testing.T) {
	f := newFixture(t, intake.Options{})
	ctx := context.Background()
	rc, pkg := f.seal(t, f.sealA, intaketest.CitizenName, intaketest.CitizenNumber)
	allowed := map[string]bool{enroll.CodeMalformed: true, enroll.CodeTampered: true, enroll.CodeBadSignature: true,
		enroll.CodeIDMismatch: true, enroll.CodeDeviceMismatch: true}
	rnd := rand.New(rand.NewPCG(5, 6))
	var positions []int
	for i := 0; i < min(len(pkg), 1500); i++ { // the header, the start of the key: every byte
		positions = append(positions, i)
	}
	for range 600 { // the rest: a sample
		positions = append(positions, rnd.IntN(len(pkg)))
	}
	for i := len(pkg) - 700; i < len(pkg); i++ { // certificate and signature: every byte
		positions = append(positions, i)
	}
	seen := map[string]int{}
	for _, p := range positions {
		bad := bytes.Clone(pkg)
		bad[p] ^= 1 << rnd.IntN(8)
		_, err := f.auth.Intake.Submit(ctx, bad, "", f.a.Cert, intake.FromUplink)
		c := code(err)
		if !allowed[c] {
			t.Fatalf("bit flipped at byte %d of %d: %s", p, len(pkg), c)
		}
		seen[c]++
	}
	t.Logf("flipped bits refused: %v", seen)
	for _, c := range []string{enroll.CodeTampered, enroll.CodeBadSignature, enroll.CodeMalformed} {
		if seen[c] == 0 {
			t.Errorf("no flip gave %s", c)
		}
	}
	if n, _ := f.auth.Intake.Count(ctx); n != 0 {
		t.Fatalf("%d tampered packages stored", n)
	}
	// The intact package still goes in.
	if _, err := f.auth.Intake.Submit(ctx, pkg, rc.EnrollmentID, f.a.Cert, intake.FromUplink); err != nil {
		t.Fatal(err)
	}
}

// impostor signs with another key while claiming the device's public key.
type impostor struct {
	claim *ecdsa.PrivateKey
	real  *ecdsa.PrivateKey
}

func (i impostor) Public() crypto.PublicKey { return i.claim.Public() }
func (i impostor) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return i.real.Sign(r, d, o)
}

func TestWrongSignature(t *testing.T) {
	f := newFixture(t, intake.Options{})
	s, err := enroll.NewSealer(impostor{claim: f.a.Key, real: f.b.Key}, f.a.Cert, f.auth.Intake.IntakePublicKey(), f.a.ID, f.a.Station, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, pkg := f.seal(t, s, intaketest.CitizenName, intaketest.CitizenNumber)
	_, err = f.auth.Intake.Submit(context.Background(), pkg, rc.EnrollmentID, f.a.Cert, intake.FromUplink)
	if c := code(err); c != enroll.CodeBadSignature {
		t.Fatalf("wrong signature: %s, want %s", c, enroll.CodeBadSignature)
	}
}

func TestWrongIntakeKey(t *testing.T) {
	f := newFixture(t, intake.Options{})
	other := newFixture(t, intake.Options{})
	s, err := f.a.Sealer(other.auth.Intake.IntakePublicKey())
	if err != nil {
		t.Fatal(err)
	}
	rc, pkg := f.seal(t, s, intaketest.CitizenName, intaketest.CitizenNumber)
	_, err = f.auth.Intake.Submit(context.Background(), pkg, rc.EnrollmentID, f.a.Cert, intake.FromUplink)
	if c := code(err); c != enroll.CodeWrongKey {
		t.Fatalf("sealed to another authority: %s, want %s", c, enroll.CodeWrongKey)
	}
}

func TestCheckDigitRefused(t *testing.T) {
	f := newFixture(t, intake.Options{})
	rc, pkg := f.seal(t, f.sealA, intaketest.CitizenName, "990101199003071238")
	_, err := f.auth.Intake.Submit(context.Background(), pkg, rc.EnrollmentID, f.a.Cert, intake.FromUplink)
	if c := code(err); c != enroll.CodeCheckDigit {
		t.Fatalf("wrong check digit: %s", c)
	}
}

func TestConflict(t *testing.T) {
	f := newFixture(t, intake.Options{})
	ctx := context.Background()
	e, _ := intaketest.Enrollment(intaketest.CitizenName, intaketest.CitizenNumber, f.rnd)
	rec := submit.Record(e, "01936b2a-7c00-7000-8000-000000000001", f.a.ID, f.a.Station, "t", time.Now(), "ABCDEFGHJKMNPQRSTVWX")
	p1, err := f.sealA.Seal(rec, time.Now().UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := f.sealA.Seal(rec, time.Now().UnixMilli()) // same ID, other bytes (HPKE is randomised)
	if _, err := f.auth.Intake.Submit(ctx, p1, "", f.a.Cert, intake.FromUplink); err != nil {
		t.Fatal(err)
	}
	if _, err := f.auth.Intake.Submit(ctx, p2, "", f.a.Cert, intake.FromUplink); code(err) != enroll.CodeConflict {
		t.Fatalf("same ID, other package: %s", code(err))
	}
}

// post sends a package over real TLS with the given client identity.
func post(t *testing.T, f *fixture, d *intaketest.Device, id string, pkg []byte) (int, enroll.ErrorBody) {
	t.Helper()
	cfg := f.pki.ServerTLS().Clone()
	cfg.Certificates, cfg.RootCAs, cfg.ClientCAs = nil, f.pki.Roots, nil
	if d != nil {
		cfg = d.ClientTLS(f.pki)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	req, _ := http.NewRequest("POST", f.auth.URL+intake.PathEnrollments+id, bytes.NewReader(pkg))
	req.Header.Set("Idempotency-Key", id)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var eb enroll.ErrorBody
	if resp.StatusCode >= 400 {
		json.NewDecoder(resp.Body).Decode(&eb)
	}
	return resp.StatusCode, eb
}

// TestDevicesOverTLS: unknown, revoked, missing certificates and a replay
// from another terminal, over real TLS on loopback.
func TestDevicesOverTLS(t *testing.T) {
	f := newFixture(t, intake.Options{})
	f.auth.Serve(t, "127.0.0.1:0")
	rcA, pkgA := f.seal(t, f.sealA, intaketest.CitizenName, intaketest.CitizenNumber)
	rcU, pkgU := f.seal(t, f.sealU, intaketest.CitizenName, intaketest.CitizenNumber)
	rcR, pkgR := f.seal(t, f.sealR, intaketest.CitizenName, intaketest.CitizenNumber)
	for _, c := range []struct {
		name   string
		dev    *intaketest.Device
		id     string
		pkg    []byte
		status int
		code   string
	}{
		{"unknown device", f.unknown, rcU.EnrollmentID, pkgU, 403, enroll.CodeDeviceUnknown},
		{"revoked device", f.revoked, rcR.EnrollmentID, pkgR, 403, enroll.CodeDeviceRevoked},
		{"no client certificate", nil, rcA.EnrollmentID, pkgA, 401, enroll.CodeNoClientCert},
		{"replay from another device", f.b, rcA.EnrollmentID, pkgA, 403, enroll.CodeReplayOtherDevice},
		{"id mismatch", f.a, rcU.EnrollmentID, pkgA, 400, enroll.CodeIDMismatch},
		{"garbage", f.a, rcA.EnrollmentID, []byte("not a package"), 400, enroll.CodeMalformed},
		{"too large", f.a, rcA.EnrollmentID, make([]byte, enroll.MaxPackageSize+1), 413, enroll.CodeTooLarge},
		{"ok", f.a, rcA.EnrollmentID, pkgA, 201, ""},
		{"repeat", f.a, rcA.EnrollmentID, pkgA, 200, ""},
	} {
		status, eb := post(t, f, c.dev, c.id, c.pkg)
		if status != c.status || eb.Code != c.code {
			t.Errorf("%s: %d %q, want %d %q", c.name, status, eb.Code, c.status, c.code)
		}
	}
	if n, _ := f.auth.Intake.Count(context.Background()); n != 1 {
		t.Fatalf("%d stored, want 1", n)
	}
	// A certificate from another CA does not even get through the handshake.
	other, _ := intaketest.NewPKI()
	stranger, _ := other.NewDevice("KT-A", "NS-PSB-001")
	cfg := stranger.ClientTLS(f.pki)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	if _, err := c.Post(f.auth.URL+intake.PathEnrollments+rcA.EnrollmentID, intake.ContentType, bytes.NewReader(pkgA)); err == nil {
		t.Fatal("a certificate from a foreign CA was accepted")
	}
	// Status: the sender sees it, another terminal does not.
	get := func(d *intaketest.Device) int {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: d.ClientTLS(f.pki)}}
		resp, err := c.Get(f.auth.URL + intake.PathEnrollments + rcA.EnrollmentID)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get(f.a); s != 200 {
		t.Errorf("status for the sender: %d", s)
	}
	if s := get(f.b); s != 404 {
		t.Errorf("status for another terminal: %d", s)
	}
}

func TestDuplicateNumberFlaggedAndNothingInClear(t *testing.T) {
	f := newFixture(t, intake.Options{Verifiers: []intake.Verifier{intake.LivenessCheck{}}})
	ctx := context.Background()
	var ids []string
	for _, s := range []*enroll.Sealer{f.sealA, f.sealB} {
		rc, pkg := f.seal(t, s, intaketest.CitizenName, intaketest.CitizenNumber)
		if _, err := f.auth.Intake.Submit(ctx, pkg, rc.EnrollmentID, nil, intake.FromImport); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rc.EnrollmentID)
	}
	other := intaketest.RandomNumber(f.rnd)
	rc, pkg := f.seal(t, f.sealA, "李四", other)
	if _, err := f.auth.Intake.Submit(ctx, pkg, rc.EnrollmentID, nil, intake.FromImport); err != nil {
		t.Fatal(err)
	}
	list, err := f.auth.Intake.List(ctx, intake.ListOptions{Flagged: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].EnrollmentID != ids[1] || list[0].Flags[0] != intake.FlagDuplicateNumber {
		t.Fatalf("flagged: %+v", list)
	}
	if list[0].Name != "张*" || list[0].Number != "9901**********1237" {
		t.Errorf("list not masked: %q %q", list[0].Name, list[0].Number)
	}
	d, err := f.auth.Intake.Show(ctx, rc.Short, false)
	if err != nil {
		t.Fatal(err)
	}
	if d.EnrollmentID != rc.EnrollmentID || strings.Contains(d.Record.Card.Number, other[4:14]) || d.Record.Card.Name == "李四" {
		t.Errorf("show by short number: wrong enrollment or not masked")
	}
	f.auth.DB.Close()
	grepDir(t, f.auth.Dir, intaketest.CitizenName, intaketest.CitizenNumber, "李四", other)
	if bytes.Contains(f.auth.Log.Bytes(), []byte(intaketest.CitizenNumber)) {
		t.Error("log holds an ID number")
	}
}

// grepDir fails when any file under dir holds one of the strings in clear
// (UTF-8 or UCS-2LE).
func grepDir(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		n++
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) || bytes.Contains(b, intaketest.UCS2(s)) {
				t.Errorf("%s holds a personal value in clear", p)
			}
		}
		return nil
	})
	if n == 0 {
		t.Fatal("grep found no files")
	}
}

func TestImport(t *testing.T) {
	f := newFixture(t, intake.Options{})
	ctx := context.Background()
	dir := t.TempDir()
	var ids []string
	for i := range 5 {
		s := f.sealA
		if i == 4 {
			s = f.sealR // revoked: refused
		}
		rc, pkg := f.seal(t, s, intaketest.CitizenName, intaketest.RandomNumber(f.rnd))
		os.WriteFile(filepath.Join(dir, rc.EnrollmentID+intake.PackageExt), pkg, 0o600)
		ids = append(ids, rc.EnrollmentID)
	}
	res, err := f.auth.Intake.Import(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 4 || res.Refused[enroll.CodeDeviceRevoked] != 1 {
		t.Fatalf("import: %+v", res)
	}
	res, err = f.auth.Intake.Import(ctx, dir, nil)
	if err != nil || res.Stored != 0 || res.Repeated != 4 {
		t.Fatalf("second import: %+v %v", res, err)
	}
	got, _ := f.auth.Intake.IDs(ctx)
	if strings.Join(got, ",") != strings.Join(ids[:4], ",") {
		t.Fatalf("imported out of order")
	}
	if _, err := os.Stat(filepath.Join(dir, ids[0]+intake.ReceiptExt)); err != nil {
		t.Fatal(err)
	}
}
