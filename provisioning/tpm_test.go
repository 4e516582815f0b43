package provisioning_test

import (
	"context"
	"crypto"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2/transport"

	"eidkiosk/authority/registry/registrytest"
	"eidkiosk/provisioning"
	"eidkiosk/provisioning/devkey/swtpmtest"
	"eidkiosk/provisioning/protocol"
)

func TestEndToEndTPM(t *testing.T) {
	t.Parallel()
	openTPM := swtpmtest.Start(t)
	a := startAuthority(t, registrytest.Options{})
	state := t.TempDir()
	id, res, err := provision(t, a, provisioning.ProvisionOptions{
		Token: a.Token(t, station, time.Hour), StateDir: state, Key: provisioning.KeyAuto,
		Options: provisioning.Options{OpenTPM: openTPM},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("complete provisioning on loopback (TPM key, swtpm) took %v", res.Took)
	id.Close()
	if res.KeyKind != protocol.KeyTPM {
		t.Fatalf("key kind %q with a TPM present", res.KeyKind)
	}
	if _, err := os.Stat(filepath.Join(state, "identity", provisioning.KeyFileName)); !os.IsNotExist(err) {
		t.Fatal("a key file was written although the key is in the TPM")
	}
	id, err = provisioning.Load(state, provisioning.Options{OpenTPM: openTPM})
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	// The TLS handshake signs inside the TPM.
	if code, body := intake(t, id, a); code != http.StatusOK {
		t.Fatalf("intake with the TPM key: %d %s", code, body)
	}
	devs, _ := a.Registry.Devices(context.Background())
	if len(devs) != 1 || devs[0].KeyKind != protocol.KeyTPM {
		t.Fatalf("devices %+v", devs)
	}
	// Renewal signs its CSR inside the TPM and keeps the key.
	old := id.Certificate()
	if err := (&provisioning.Renewer{Identity: id}).Renew(context.Background()); err != nil {
		t.Fatal(err)
	}
	if id.Certificate().Equal(old) || !id.Certificate().PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(old.PublicKey) {
		t.Fatal("renewal did not keep the TPM key with a new certificate")
	}
	if code, body := intake(t, id, a); code != http.StatusOK {
		t.Fatalf("intake after renewal: %d %s", code, body)
	}
	// Without the TPM the identity does not load, with a clear reason.
	_, err = provisioning.Load(state, provisioning.Options{OpenTPM: func() (transport.TPMCloser, error) {
		return nil, errors.New("no /dev/tpmrm0")
	}})
	if err == nil || !strings.Contains(err.Error(), "in the TPM, which cannot be opened") {
		t.Fatalf("load without TPM: %v", err)
	}
}

func TestKeyTPMRequiredButAbsent(t *testing.T) {
	t.Parallel()
	a := startAuthority(t, registrytest.Options{})
	_, _, err := provision(t, a, provisioning.ProvisionOptions{
		Token: a.Token(t, station, time.Hour), Key: provisioning.KeyTPM,
		Options: provisioning.Options{OpenTPM: func() (transport.TPMCloser, error) { return nil, errors.New("no /dev/tpmrm0") }},
	})
	if err == nil || !strings.Contains(err.Error(), "--key tpm") {
		t.Fatalf("err = %v", err)
	}
}

// BenchmarkProvision measures a complete provisioning on loopback (TLS
// fetch of the CA, key generation, CSR, token check and certificate issue in
// SQLite, bundle stored with fsync) beside its baseline: one mTLS ping on a
// new connection, the cheapest authenticated exchange.
func BenchmarkProvision(b *testing.B) {
	a := startAuthority(b, registrytest.Options{})
	b.Run("baseline-mtls-ping", func(b *testing.B) {
		id, _, err := provision(b, a, provisioning.ProvisionOptions{Token: a.Token(b, station, time.Hour)})
		if err != nil {
			b.Fatal(err)
		}
		defer id.Close()
		for b.Loop() {
			c := provisioning.NewClient(id, "")
			if _, err := c.Ping(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, kind := range []string{provisioning.KeyFile, provisioning.KeyTPM} {
		b.Run("provision-"+kind, func(b *testing.B) {
			var o provisioning.Options
			if kind == provisioning.KeyTPM {
				o.OpenTPM = swtpmtest.Start(b)
			}
			for b.Loop() {
				b.StopTimer()
				tok := a.Token(b, station, time.Hour)
				state := b.TempDir()
				b.StartTimer()
				id, _, err := provision(b, a, provisioning.ProvisionOptions{Token: tok, StateDir: state, Key: kind, Options: o})
				if err != nil {
					b.Fatal(err)
				}
				id.Close()
			}
		})
	}
}
