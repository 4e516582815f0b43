package uplink_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	mrand "math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/authority/registry/registrytest"
	"eidkiosk/enroll"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/kiosk/session"
	"eidkiosk/kiosk/submit"
	"eidkiosk/kiosk/uplink"
	"eidkiosk/provisioning/protocol"
)

// TestWithRealRegistry runs the kiosk side against the intake mounted
// beside the real device registry and PKI (authority/registry): a
// provisioned terminal's enrollment is stored; once the terminal is revoked
// its next upload is refused as device_revoked and its gate closes; a
// certificate the PKI issued but the registry never recorded is refused as
// device_unknown.
func TestWithRealRegistry(t *testing.T) {
	ctx := context.Background()
	a := registrytest.Start(t, registrytest.Options{})
	in, err := intake.New(intake.Options{DataDir: t.TempDir(), Devices: a.Registry})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := in.Migrate(ctx, a.DB); err != nil {
		t.Fatal(err)
	}
	in.Routes(a.Mux)

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "t"}}, key)
	b, err := a.Registry.Provision(ctx, protocol.ProvisionRequest{
		Token: a.Token(t, "NS-PSB-001", time.Hour), CSR: csr, Serial: "SN-REAL-1", KeyKind: protocol.KeyFile}, "test")
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(b.Chain[0])
	roots := x509.NewCertPool()
	root, _ := x509.ParseCertificate(b.RootCA)
	roots.AddCert(root)

	box, err := outbox.Open(ctx, filepath.Join(t.TempDir(), "outbox"), config.Default().Outbox, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	sealer, err := enroll.NewSealer(key, cert, in.IntakePublicKey(), b.DeviceID, b.Station.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub := submit.NewSubmitter(sealer, box, "test", nil, nil)
	up, err := uplink.New(uplink.Options{URL: a.URL, Certificate: tls.Certificate{Certificate: b.Chain, PrivateKey: key, Leaf: cert},
		Roots: roots, ReceiptKey: ed25519.PublicKey(in.ReceiptPublicKey()), Queue: box,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { up.Run(rctx); close(done) }()
	defer func() { cancel(); <-done }()

	rnd := mrand.New(mrand.NewPCG(3, 3))
	visit := func() string {
		e, err := intaketest.Enrollment(intaketest.CitizenName, intaketest.RandomNumber(rnd), rnd)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := sub.Submit(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		return rc.EnrollmentID
	}
	waitUntil := func(what string, f func() bool) {
		t.Helper()
		limit := time.Now().Add(30 * time.Second)
		for !f() {
			if time.Now().After(limit) {
				t.Fatalf("%s: outbox %+v, uplink %+v", what, box.Stats(), up.Status())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	id := visit()
	waitUntil("stored", func() bool { s, _, _ := box.State(ctx, id); return s == outbox.Acked })
	if n, _ := in.Count(ctx); n != 1 {
		t.Fatalf("%d stored", n)
	}

	if err := a.Registry.Revoke(ctx, b.DeviceID, "stolen", "test"); err != nil {
		t.Fatal(err)
	}
	id2 := visit()
	waitUntil("refused as revoked", func() bool { return errors.Is(box.Admit(), session.ErrDisabled) })
	if st := up.Status(); st.Disabled != enroll.CodeDeviceRevoked {
		t.Errorf("status %+v", st)
	}
	if s, _, _ := box.State(ctx, id2); s == outbox.Acked {
		t.Fatal("a revoked terminal's upload was stored")
	}

	// Issued by the PKI, never recorded by the registry.
	key3, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr3, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "g"}}, key3)
	ghost, err := a.PKI.IssueDevice(csr3, "KT-GHOST", "NS-PSB-001")
	if err != nil {
		t.Fatal(err)
	}
	s3, err := enroll.NewSealer(key3, ghost, in.IntakePublicKey(), "KT-GHOST", "NS-PSB-001", nil)
	if err != nil {
		t.Fatal(err)
	}
	q := &memQueue{}
	e, _ := intaketest.Enrollment(intaketest.CitizenName, intaketest.CitizenNumber, rnd)
	rc, err := submit.NewSubmitter(s3, q, "t", nil, nil).Submit(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	_, err = in.Submit(ctx, q.pkg, rc.EnrollmentID, ghost, intake.FromUplink)
	var ref *intake.Refusal
	if !errors.As(err, &ref) || ref.Code != enroll.CodeDeviceUnknown {
		t.Fatalf("unrecorded certificate: %v", err)
	}
}

type memQueue struct{ pkg []byte }

func (q *memQueue) Enqueue(ctx context.Context, id string, pkg []byte) error {
	q.pkg = pkg
	return nil
}
