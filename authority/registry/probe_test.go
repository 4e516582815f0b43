package registry_test

// Black-box probes of issue 20, each against a real registry on TLS
// loopback: each test failed on the code before the fix.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority/guard"
	"eidkiosk/authority/registry"
	"eidkiosk/authority/registry/registrytest"
	"eidkiosk/internal/clock"
	"eidkiosk/provisioning/protocol"
)

func anonClient(t *testing.T, a *registrytest.Authority) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(a.PKI.Root())
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 30 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	return hc
}

func dirSize(t *testing.T, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// Finding 1: a 900 KB serial with any token was written whole to the audit
// table (50 requests grew the data directory by 43 MB), and nothing limited
// the rate of unauthenticated requests.
func TestProbeProvisionDiskFillAndRate(t *testing.T) {
	a := registrytest.Start(t, registrytest.Options{Registry: registry.Options{
		ProvisionRate: guard.Rate{Every: time.Hour, Burst: 10}}})
	hc := anonClient(t, a)
	req, _ := request(t, strings.Repeat("S", 900_000))
	req.Token = "AAAA-BBBB-CCCC"
	req.Station = "NS-\x1b[31mEVIL\n"
	body, _ := json.Marshal(req)
	before := dirSize(t, a.Dir)
	codes := map[int]int{}
	var retry string
	for range 50 {
		resp, err := hc.Post(a.URL+protocol.PathProvision, "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		var ref protocol.Refusal
		json.NewDecoder(resp.Body).Decode(&ref)
		resp.Body.Close()
		codes[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests {
			retry = resp.Header.Get("Retry-After")
			if ref.Reason != protocol.ReasonTooMany {
				t.Fatalf("429 with reason %q", ref.Reason)
			}
		}
	}
	if codes[http.StatusBadRequest] != 10 || codes[http.StatusTooManyRequests] != 40 {
		t.Fatalf("answers by status: %v (want 10×400 then 40×429)", codes)
	}
	if s, err := strconv.Atoi(retry); err != nil || s < 1 || s > 3600 {
		t.Fatalf("Retry-After %q", retry)
	}
	if grew := dirSize(t, a.Dir) - before; grew > 256<<10 {
		t.Fatalf("the data directory grew by %d bytes for 50 refused requests", grew)
	}
	audit, err := a.Registry.Audit(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 10 {
		t.Fatalf("%d audit rows, want 10 (one per request let through)", len(audit))
	}
	for _, e := range audit {
		if len(e.Detail) > 600 || len(e.Station) > 80 || strings.ContainsAny(e.Station+e.Detail, "\x1b\n") {
			t.Fatalf("audit row not bounded or not escaped: station %q, %d bytes of detail", e.Station, len(e.Detail))
		}
	}
}

// Finding 1, the other side: once the bucket refills the same source is
// served again, and another source is not held back by the first.
func TestProvisionRateRefills(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	l := guard.NewLimiter(guard.Rate{Every: 20 * time.Second, Burst: 2}, guard.Rate{}, clk)
	for i := range 2 {
		if ok, _ := l.Allow("10.0.0.1"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := l.Allow("10.0.0.1")
	if ok || wait != 20*time.Second {
		t.Fatalf("third request: ok=%v wait=%s", ok, wait)
	}
	if ok, _ := l.Allow("10.0.0.2"); !ok {
		t.Fatal("another source was refused")
	}
	clk.Advance(20 * time.Second)
	if ok, _ := l.Allow("10.0.0.1"); !ok {
		t.Fatal("the bucket did not refill")
	}
}

// Finding 8: a CSR signed with SHA-1 was accepted.
func TestProbeSHA1CSR(t *testing.T) {
	a := registrytest.Start(t, registrytest.Options{})
	hc := anonClient(t, a)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "t"},
		SignatureAlgorithm: x509.ECDSAWithSHA1}, key)
	if err != nil {
		t.Fatal(err)
	}
	req := protocol.ProvisionRequest{CSR: der, Serial: "SN-SHA1", KeyKind: protocol.KeyFile, Token: a.Token(t, "NS-PSB-001", time.Hour)}
	if code, ref, _ := postProvision(t, hc, a, req); code != 400 || ref.Reason != protocol.ReasonBadCSR {
		t.Fatalf("SHA-1 CSR: %d %+v", code, ref)
	}
}

func postProvision(t *testing.T, hc *http.Client, a *registrytest.Authority, req protocol.ProvisionRequest) (int, protocol.Refusal, *protocol.Bundle) {
	t.Helper()
	body, _ := json.Marshal(req)
	resp, err := hc.Post(a.URL+protocol.PathProvision, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		var b protocol.Bundle
		if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, protocol.Refusal{}, &b
	}
	var ref protocol.Refusal
	json.NewDecoder(resp.Body).Decode(&ref)
	return resp.StatusCode, ref, nil
}

// Finding 2: a one-time token for another station plus a working
// terminal's serial must not take that terminal over; a token bound to a
// serial provisions only that box; a used token does not name its terminal.
func TestProbeCrossStationTakeover(t *testing.T) {
	a := registrytest.Start(t, registrytest.Options{})
	hc := anonClient(t, a)
	ctx := context.Background()
	victim, _ := request(t, "SN-VICTIM-1")
	victim.Token = a.Token(t, "ST-1", time.Hour)
	code, ref, b := postProvision(t, hc, a, victim)
	if code != 200 {
		t.Fatalf("victim: %d %+v", code, ref)
	}
	cert, _ := x509.ParseCertificate(b.Chain[0])

	attack, _ := request(t, "SN-VICTIM-1")
	attack.Token = a.Token(t, "ST-2", time.Hour)
	if code, ref, _ := postProvision(t, hc, a, attack); code != 403 || ref.Reason != protocol.ReasonSerialActive {
		t.Fatalf("takeover attempt: %d %+v", code, ref)
	}
	if id, _, err := a.Registry.Authorize(ctx, cert); err != nil || id != b.DeviceID {
		t.Fatalf("the victim lost its identity: %v", err)
	}

	tok, err := a.Registry.CreateBoundToken(ctx, "ST-3", "", "SN-BOX-3", time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := request(t, "SN-OTHER")
	other.Token = tok.Value
	if code, ref, _ := postProvision(t, hc, a, other); code != 403 || ref.Reason != protocol.ReasonSerialNotAllowed {
		t.Fatalf("bound token on another box: %d %+v", code, ref)
	}
	right, _ := request(t, "SN-BOX-3")
	right.Token = tok.Value
	if code, ref, _ := postProvision(t, hc, a, right); code != 200 {
		t.Fatalf("bound token on its box: %d %+v", code, ref)
	}

	again, _ := request(t, "SN-LATE")
	again.Token = victim.Token
	code, ref, _ = postProvision(t, hc, a, again)
	if code != 403 || ref.Reason != protocol.ReasonTokenUsed || strings.Contains(ref.Message, b.DeviceID) {
		t.Fatalf("used token: %d %+v (must not name %s)", code, ref, b.DeviceID)
	}
}
