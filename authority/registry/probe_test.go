package registry_test

// Black-box probes of issue 20, each against a real registry on TLS
// loopback: each test failed on the code before the fix.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
