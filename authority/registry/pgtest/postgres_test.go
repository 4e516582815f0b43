package pgtest_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"sync"
	"testing"
	"time"

	"eidkiosk/authority/registry"
	"eidkiosk/authority/registry/registrytest"
	"eidkiosk/internal/pgtest"
	"eidkiosk/provisioning/protocol"
)

func csr(t *testing.T) []byte {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "t"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestRegistryOnPostgres runs the registry's whole life on PostgreSQL:
// tokens (single use under concurrency), allow-list, provisioning, renewal,
// self-test reports, revocation, audit.
func TestRegistryOnPostgres(t *testing.T) {
	a := registrytest.Start(t, registrytest.Options{DSN: pgtest.Database(t)})
	ctx := context.Background()
	r := a.Registry
	if err := r.Migrate(ctx, a.DB); err != nil { // idempotent
		t.Fatal(err)
	}
	if err := r.AllowSerial(ctx, "SN-1", "po", "test"); err != nil {
		t.Fatal(err)
	}
	if err := r.AllowSerial(ctx, "SN-1", "po again", "test"); err != nil {
		t.Fatal(err)
	}
	tok := a.Token(t, "NS-PSB-001", time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []*protocol.Bundle
	var wonCSR []byte
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			der := csr(t)
			b, err := r.Provision(ctx, protocol.ProvisionRequest{Token: tok, CSR: der, Serial: "SN-1", KeyKind: protocol.KeyFile}, "test")
			if err != nil && !errors.Is(err, registry.ErrTokenUsed) {
				t.Errorf("unexpected: %v", err)
			}
			if err == nil {
				mu.Lock()
				won, wonCSR = append(won, b), der
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d terminals provisioned with one token", len(won))
	}
	if _, err := r.Provision(ctx, protocol.ProvisionRequest{Token: a.Token(t, "NS-PSB-001", time.Hour), CSR: csr(t), Serial: "SN-2", KeyKind: protocol.KeyFile}, "test"); !errors.Is(err, registry.ErrSerialNotAllowed) {
		t.Fatalf("serial: %v", err)
	}
	cert, _ := x509.ParseCertificate(won[0].Chain[0])
	if _, _, err := r.Authorize(ctx, cert); err != nil {
		t.Fatal(err)
	}
	renewed, err := r.Renew(ctx, cert, wonCSR)
	if err != nil {
		t.Fatal(err)
	}
	next, _ := x509.ParseCertificate(renewed.Chain[0])
	if _, _, err := r.Authorize(ctx, next); err != nil {
		t.Fatal(err)
	}
	if err := r.StoreSelfTest(ctx, won[0].DeviceID, "NS-PSB-001", protocol.SelfTestReport{Passed: true, Software: "1.0",
		Checks: []protocol.CheckResult{{Name: "disk", Status: "pass"}}}); err != nil {
		t.Fatal(err)
	}
	reps, err := r.SelfTests(ctx, won[0].DeviceID, 3)
	if err != nil || len(reps) != 1 {
		t.Fatalf("self-tests %v %v", reps, err)
	}
	devs, err := r.Devices(ctx)
	if err != nil || len(devs) != 1 || !devs[0].SelfTestPassed || devs[0].Software != "1.0" {
		t.Fatalf("devices %+v %v", devs, err)
	}
	if err := r.Revoke(ctx, won[0].DeviceID, "test", "test"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Authorize(ctx, cert); !errors.Is(err, registry.ErrRevoked) {
		t.Fatalf("revoked: %v", err)
	}
	if err := r.RevokeToken(ctx, a.Token(t, "NS-PSB-001", time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	ts, err := r.Tokens(ctx)
	if err != nil || len(ts) != 3 {
		t.Fatalf("tokens %d %v", len(ts), err)
	}
	log, err := r.Audit(ctx, 100)
	if err != nil || len(log) < 8 {
		t.Fatalf("audit %d %v", len(log), err)
	}
}
