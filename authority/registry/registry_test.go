package registry_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"eidkiosk/authority/registry"
	"eidkiosk/authority/registry/registrytest"
	"eidkiosk/provisioning/devkey"
	"eidkiosk/provisioning/devkey/swtpmtest"
	"eidkiosk/provisioning/protocol"
)

var request = registrytest.Request

func TestTokenIsSingleUseUnderConcurrency(t *testing.T) {
	a := registrytest.Start(t, registrytest.Options{})
	tok := a.Token(t, "NS-PSB-001", time.Hour)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := request(t, "SN-"+string(rune('A'+i)))
			req.Token = tok
			_, errs[i] = a.Registry.Provision(context.Background(), req, "test")
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, registry.ErrTokenUsed):
			t.Errorf("unexpected: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d terminals provisioned with one token", ok)
	}
	devs, _ := a.Registry.Devices(context.Background())
	if len(devs) != 1 {
		t.Fatalf("%d devices", len(devs))
	}
}

func TestProvisionValidation(t *testing.T) {
	a := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	good, _ := request(t, "SN-1")
	good.Token = a.Token(t, "NS-PSB-001", time.Hour)
	for name, mut := range map[string]func(*protocol.ProvisionRequest){
		"no token":     func(r *protocol.ProvisionRequest) { r.Token = " " },
		"no serial":    func(r *protocol.ProvisionRequest) { r.Serial = "" },
		"key kind":     func(r *protocol.ProvisionRequest) { r.KeyKind = "hsm" },
		"tpm no area":  func(r *protocol.ProvisionRequest) { r.KeyKind = protocol.KeyTPM },
		"bad csr":      func(r *protocol.ProvisionRequest) { r.CSR = []byte("nope") },
		"long serial":  func(r *protocol.ProvisionRequest) { r.Serial = strings.Repeat("x", 200) },
		"unknown tok":  func(r *protocol.ProvisionRequest) { r.Token = "AAAA" },
		"wrong statn.": func(r *protocol.ProvisionRequest) { r.Station = "NS-PSB-009" },
	} {
		r := good
		mut(&r)
		_, err := a.Registry.Provision(ctx, r, "test")
		var ref *protocol.Refusal
		if !errors.As(err, &ref) || ref.Message == "" {
			t.Errorf("%s: %v", name, err)
		}
	}
	// None of the refusals consumed the token.
	if _, err := a.Registry.Provision(ctx, good, "test"); err != nil {
		t.Fatal(err)
	}
	audit, _ := a.Registry.Audit(ctx, 100)
	refused := 0
	for _, e := range audit {
		if e.Action == "provision.refused" {
			refused++
		}
	}
	if refused != 8 {
		t.Fatalf("%d refusals audited, want 8", refused)
	}
}

func TestHTTPRefusals(t *testing.T) {
	a := registrytest.Start(t, registrytest.Options{})
	roots := x509.NewCertPool()
	roots.AddCert(a.PKI.Root())
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer hc.CloseIdleConnections()
	post := func(path, body string) (int, protocol.Refusal) {
		resp, err := hc.Post(a.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ref protocol.Refusal
		json.NewDecoder(resp.Body).Decode(&ref)
		return resp.StatusCode, ref
	}
	if code, ref := post(protocol.PathProvision, "{not json"); code != 400 || ref.Reason != protocol.ReasonBadRequest {
		t.Fatalf("garbage: %d %+v", code, ref)
	}
	if code, ref := post(protocol.PathProvision, `{"token":"x","extra":1}`); code != 400 || ref.Reason != protocol.ReasonBadRequest {
		t.Fatalf("unknown field: %d %+v", code, ref)
	}
	if code, ref := post(protocol.PathProvision, `{"token":"`+strings.Repeat("A", 2<<20)+`"}`); code != 400 {
		t.Fatalf("oversized: %d %+v", code, ref)
	}
	// mTLS endpoints without a client certificate.
	for _, p := range []string{protocol.PathRenew, protocol.PathSelfTest, protocol.PathDeprovision} {
		if code, ref := post(p, "{}"); code != 401 || ref.Reason != protocol.ReasonNoCertificate || !strings.Contains(ref.Message, "kioskctl provision") {
			t.Fatalf("%s: %d %+v", p, code, ref)
		}
	}
	resp, err := hc.Get(a.URL + protocol.PathPing)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("ping without certificate: %d", resp.StatusCode)
	}
}

func TestAuthorizeAndRenewRules(t *testing.T) {
	a := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	req, _ := request(t, "SN-1")
	req.Token = a.Token(t, "NS-PSB-001", time.Hour)
	b, err := a.Registry.Provision(ctx, req, "test")
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(b.Chain[0])
	if id, st, err := a.Registry.Authorize(ctx, cert); err != nil || id != b.DeviceID || st != "NS-PSB-001" {
		t.Fatalf("%s %s %v", id, st, err)
	}
	if _, _, err := a.Registry.Authorize(ctx, nil); !errors.Is(err, registry.ErrNoCertificate) {
		t.Fatalf("nil: %v", err)
	}
	// A certificate the PKI issued but the registry never recorded.
	other, _ := request(t, "SN-2")
	loose, _ := a.PKI.IssueDevice(other.CSR, "KT-GHOST", "NS-PSB-001")
	if _, _, err := a.Registry.Authorize(ctx, loose); !errors.Is(err, registry.ErrUnknownDevice) {
		t.Fatalf("unrecorded: %v", err)
	}
	// Renewal must keep the registered key.
	if _, err := a.Registry.Renew(ctx, cert, other.CSR); !errors.Is(err, registry.ErrBadCSR) || !strings.Contains(err.Error(), "different key") {
		t.Fatalf("rekey: %v", err)
	}
	if _, err := a.Registry.Renew(ctx, cert, req.CSR); err != nil {
		t.Fatal(err)
	}
	if err := a.Registry.Revoke(ctx, "KT-NOPE", "", "test"); !errors.Is(err, registry.ErrUnknownDevice) {
		t.Fatalf("revoke unknown: %v", err)
	}
	// Migrate is idempotent.
	if err := a.Registry.Migrate(ctx, a.DB); err != nil {
		t.Fatal(err)
	}
	if b.Station.Name != "Test station NS-PSB-001" || !bytes.Equal(b.RootCA, a.PKI.Root().Raw) || len(b.TUFRoot) == 0 {
		t.Fatalf("bundle %+v", b.Station)
	}
}

func TestCreateTokenValidation(t *testing.T) {
	a := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	for _, c := range []struct {
		station string
		ttl     time.Duration
	}{{"ns-psb-001", time.Hour}, {"X", time.Hour}, {"-AB", time.Hour}, {"NS-PSB-001", 0}, {"NS-PSB-001", 1000 * time.Hour}} {
		if _, err := a.Registry.CreateToken(ctx, c.station, "", c.ttl, "test"); err == nil {
			t.Errorf("%q %v accepted", c.station, c.ttl)
		}
	}
	tok, err := a.Registry.CreateToken(ctx, "NS-PSB-001", "", time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.Value) != 39 || strings.Count(tok.Value, "-") != 7 {
		t.Fatalf("token %q", tok.Value)
	}
	if registry.NormalizeToken(strings.ToLower(tok.Value)) != strings.ReplaceAll(tok.Value, "-", "") {
		t.Fatal("normalization")
	}
	if registry.NormalizeToken("o0 il-1") != "00111" {
		t.Fatalf("%q", registry.NormalizeToken("o0 il-1"))
	}
}

func TestTokenRevoke(t *testing.T) {
	a := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	tok := a.Token(t, "NS-PSB-001", time.Hour)
	if err := a.Registry.RevokeToken(ctx, tok, "test"); err != nil {
		t.Fatal(err)
	}
	if err := a.Registry.RevokeToken(ctx, tok, "test"); !errors.Is(err, registry.ErrTokenUnknown) {
		t.Fatalf("second revoke: %v", err)
	}
	req, _ := request(t, "SN-1")
	req.Token = tok
	if _, err := a.Registry.Provision(ctx, req, "test"); !errors.Is(err, protocol.ErrTokenRevoked) || !strings.Contains(err.Error(), "withdrawn") {
		t.Fatalf("revoked token: %v", err)
	}
	ts, err := a.Registry.Tokens(ctx)
	if err != nil || len(ts) != 1 || ts[0].Revoked.IsZero() || ts[0].Station != "NS-PSB-001" || len(ts[0].Hint) != 4 {
		t.Fatalf("tokens %+v %v", ts, err)
	}
}

func TestTPMAreaMustMatchCSR(t *testing.T) {
	open := swtpmtest.Start(t)
	tpm, err := open()
	if err != nil {
		t.Fatal(err)
	}
	k, err := devkey.CreateTPM(tpm, filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	a := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	tok := a.Token(t, "NS-PSB-001", time.Hour)

	// A file key's CSR announced with a TPM's public area: refused.
	req, _ := request(t, "SN-1")
	req.Token, req.KeyKind, req.TPMPublic = tok, protocol.KeyTPM, k.TPMPublic()
	if _, err := a.Registry.Provision(ctx, req, "test"); !errors.Is(err, protocol.ErrBadRequest) || !strings.Contains(err.Error(), "not the key of the certificate request") {
		t.Fatalf("mismatch: %v", err)
	}
	req.TPMPublic = []byte{0, 3, 1, 2, 3}
	if _, err := a.Registry.Provision(ctx, req, "test"); !errors.Is(err, protocol.ErrBadRequest) {
		t.Fatalf("garbage area: %v", err)
	}
	// The TPM key's own CSR with its area: accepted.
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "t"}}, k)
	if err != nil {
		t.Fatal(err)
	}
	req.CSR, req.TPMPublic = der, k.TPMPublic()
	if _, err := a.Registry.Provision(ctx, req, "test"); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkAuthorize measures the intake's per-request device check (chain
// verification plus one SQLite lookup) beside its baseline, the chain
// verification alone.
func BenchmarkAuthorize(b *testing.B) {
	a := registrytest.Start(b, registrytest.Options{})
	req, _ := request(b, "SN-1")
	req.Token = a.Token(b, "NS-PSB-001", time.Hour)
	bun, err := a.Registry.Provision(context.Background(), req, "bench")
	if err != nil {
		b.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(bun.Chain[0])
	b.Run("baseline-verify-chain", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := a.PKI.VerifyDevice(cert); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("authorize", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := a.Registry.Authorize(context.Background(), cert); err != nil {
				b.Fatal(err)
			}
		}
	})
}
