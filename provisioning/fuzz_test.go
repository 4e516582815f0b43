package provisioning_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2/transport"

	"eidkiosk/authority/pki"
	"eidkiosk/provisioning"
	"eidkiosk/provisioning/devkey"
	"eidkiosk/provisioning/protocol"
)

// FuzzLoadIdentity feeds damaged bundle.json files to LoadIdentity: it must
// refuse them with an error (never panic, never accept a bundle whose
// certificate is not for the key or does not chain to the root).
// Run longer with: go test -run '^$' -fuzz FuzzLoadIdentity -fuzztime 60s ./provisioning/
func FuzzLoadIdentity(f *testing.F) {
	ca, err := pki.Load(f.TempDir(), nil)
	if err != nil {
		f.Fatal(err)
	}
	state := f.TempDir()
	dir := filepath.Join(state, provisioning.IdentityDir)
	os.MkdirAll(dir, 0o700)
	key, err := devkey.CreateFile(filepath.Join(dir, provisioning.KeyFileName), nil)
	if err != nil {
		f.Fatal(err)
	}
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "t"}}, key)
	cert, err := ca.IssueDevice(csr, "KT-1", "NS-PSB-001")
	if err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal(map[string]any{
		"version": 1, "key_kind": "file", "authority": "https://127.0.0.1:1",
		"bundle": protocol.Bundle{
			DeviceID: "KT-1", Station: protocol.Station{ID: "NS-PSB-001", Name: "x"},
			Chain: [][]byte{cert.Raw, ca.DeviceCA().Raw}, RootCA: ca.Root().Raw,
		},
	})
	bundle := filepath.Join(dir, provisioning.BundleFile)
	os.WriteFile(bundle, good, 0o600)
	if id, err := provisioning.LoadIdentity(state); err != nil {
		f.Fatalf("the seed bundle does not load: %v", err)
	} else {
		id.Close()
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{"version":1,"key_kind":"file","bundle":{}}`))
	f.Add([]byte(`{"version":1,"key_kind":"tpm"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(bundle, b, 0o600); err != nil {
			t.Fatal(err)
		}
		id, err := provisioning.Load(state, provisioning.Options{OpenTPM: func() (transport.TPMCloser, error) { return nil, errors.New("no TPM in the fuzz test") }})
		if err != nil {
			if errors.Is(err, provisioning.ErrNotProvisioned) {
				t.Fatalf("a present bundle read as not provisioned: %v", err)
			}
			return
		}
		defer id.Close()
		if !id.Root.Equal(ca.Root()) || id.Chain[0].CheckSignatureFrom(ca.DeviceCA()) != nil {
			t.Fatal("accepted a bundle not from the authority")
		}
	})
}
