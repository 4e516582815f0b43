package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority/fleet"
	"eidkiosk/authority/registry/registrytest"
	"eidkiosk/fleetproto"
	"eidkiosk/provisioning/protocol"
)

// Issue 20 finding 7: the unauthenticated station field reached `device
// audit` raw (escape sequences in the operator's terminal), and a newline
// in a terminal's heartbeat forged a second row of `fleet`.
func TestProbeOperatorOutputEscaped(t *testing.T) {
	a := registrytest.Start(t, registrytest.Options{})
	ctx := context.Background()
	roots := x509.NewCertPool()
	roots.AddCert(a.PKI.Root())
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer hc.CloseIdleConnections()
	body, _ := json.Marshal(protocol.ProvisionRequest{Token: "AAAA-BBBB", Serial: "SN-1", KeyKind: protocol.KeyFile,
		Station: "ST\x1b]0;owned\x07\x1b[2J\nKT-FORGED\tactive"})
	resp, err := hc.Post(a.URL+protocol.PathProvision, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// A provisioned terminal whose heartbeat carries a newline.
	tok := a.Token(t, "NS-PSB-001", time.Hour)
	req, _ := registrytest.Request(t, "SN-2")
	req.Token = tok
	b, err := a.Registry.Provision(ctx, req, "test")
	if err != nil {
		t.Fatal(err)
	}
	m := fleet.New(a.DB, a.Registry, "", nil)
	if err := m.Migrate(ctx, a.DB); err != nil {
		t.Fatal(err)
	}
	if err := m.Record(ctx, b.DeviceID, "NS-PSB-001", fleetproto.Report{Version: "1.0.0", Healthy: true,
		Update: fleetproto.Update{Slots: map[string]string{"a": "1.0.0\nKT-FORGED\tNS-PSB-001\tactive"}}}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		args []string
		rows int // data rows expected
	}{
		{[]string{"device", "audit", "--data", a.Dir}, 3}, // token.create, provision.refused, provision
		{[]string{"fleet", "--data", a.Dir}, 1},
	} {
		var out, errb strings.Builder
		app.Stdout, app.Stderr = &out, &errb
		err := app.Run(ctx, c.args)
		app.Stdout, app.Stderr = nil, nil
		if err != nil {
			t.Fatalf("%v: %v\n%s", c.args, err, errb.String())
		}
		s := out.String()
		if strings.ContainsAny(s, "\x1b\x07") {
			t.Errorf("%v printed control characters:\n%q", c.args, s)
		}
		if strings.Contains(s, "\nKT-FORGED") {
			t.Errorf("%v: a value forged a row:\n%s", c.args, s)
		}
		lines := strings.Split(strings.TrimSpace(s), "\n")
		if c.args[0] == "fleet" {
			lines = lines[:len(lines)-1] // "N terminals"
		}
		if len(lines) != 1+c.rows {
			t.Errorf("%v: %d lines, want a header and %d rows:\n%s", c.args, len(lines), c.rows, s)
		}
	}
}
