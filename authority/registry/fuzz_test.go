package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority/guard"
	"eidkiosk/authority/registry"
	"eidkiosk/authority/registry/registrytest"
	"eidkiosk/provisioning/protocol"
)

// FuzzProvisionJSON feeds arbitrary bodies to the unauthenticated
// provisioning endpoint: the answer is never a server error, and every
// audit row it leaves is bounded and free of control characters (issue 20,
// findings 1 and 7). Seeds: a well-formed request with a real token and
// CSR, and the probe's oversized and escape-laden fields.
func FuzzProvisionJSON(f *testing.F) {
	fast := guard.Rate{Every: time.Nanosecond, Burst: 1 << 20}
	a := registrytest.Start(f, registrytest.Options{Registry: registry.Options{ProvisionRate: fast, GlobalRate: fast}})
	mux := http.NewServeMux()
	a.Registry.Routes(mux)
	req, _ := request(f, "SN-FUZZ")
	req.Token = a.Token(f, "NS-PSB-001", time.Hour)
	good, _ := json.Marshal(req)
	f.Add(good)
	f.Add([]byte(`{"token":"AAAA","serial":"` + strings.Repeat("S", 5000) + `","key_kind":"file"}`))
	f.Add([]byte(`{"token":"AAAA","serial":"SN\u001b[2J\n","station":"ST\u001b]0;x\u0007","key_kind":"file"}`))
	f.Add([]byte(`{"token":"\u0000","serial":"\u202e","key_kind":"tpm","tpm_public":"AAAA"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", protocol.PathProvision, bytes.NewReader(body))
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("status %d: %s", w.Code, w.Body.String())
		}
		es, err := a.Registry.Audit(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			row := e.Actor + e.Action + e.Device + e.Station + e.Detail
			if len(row) > 1024 || strings.ContainsAny(row, "\x00\x1b\n\r\t\x07\u202e") {
				t.Fatalf("audit row not bounded or not escaped: %q", row)
			}
		}
	})
}
