package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority/registry"
	"eidkiosk/authority/registry/registrytest"
	"eidkiosk/provisioning"
	"eidkiosk/provisioning/protocol"
)

// A box provisioned again with the serial of an active terminal is refused
// until city IT creates its token with --replace; the replaced terminal is
// then refused with the reason.
func TestTokenCreateReplace(t *testing.T) {
	a := registrytest.Start(t, registrytest.Options{})
	prov := func(token string) (*provisioning.Identity, error) {
		id, _, err := provisioning.Provision(context.Background(), provisioning.ProvisionOptions{AuthorityURL: a.URL, Token: token,
			StateDir: filepath.Join(t.TempDir(), "state"), CAFingerprint: a.PKI.RootFingerprint(), Key: provisioning.KeyFile,
			Serial: "SN-SAME", Log: slog.New(slog.DiscardHandler)})
		return id, err
	}
	first, err := prov(a.Token(t, "NS-PSB-001", time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := prov(a.Token(t, "NS-PSB-001", time.Hour)); !errors.Is(err, protocol.ErrSerialActive) {
		t.Fatalf("second provisioning of an active serial: %v", err)
	}
	var out, errb strings.Builder
	app.Stdout, app.Stderr = &out, &errb
	defer func() { app.Stdout, app.Stderr = nil, nil }()
	err = app.Run(context.Background(), []string{"token", "create", "--data", a.Dir, "--station", "NS-PSB-001", "--replace", first.DeviceID})
	if err != nil || !strings.Contains(out.String(), "replaced: terminal "+first.DeviceID) {
		t.Fatalf("token create --replace: %v\n%s%s", err, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	second, err := prov(lines[len(lines)-1])
	if err != nil {
		t.Fatalf("provisioning with the replacing token: %v", err)
	}
	defer second.Close()
	_, _, err = a.Registry.Authorize(context.Background(), first.Chain[0])
	if !errors.Is(err, registry.ErrReplaced) || !strings.Contains(err.Error(), "on request of") {
		t.Fatalf("the replaced terminal: %v", err)
	}
}
