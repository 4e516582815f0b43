package provisioning

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/provisioning/protocol"
)

// Renewer renews the device certificate before it expires, without a
// technician: the terminal authenticates with its current certificate and
// sends a CSR for the same key. The kiosk calls Check periodically (hourly is
// plenty); a refusal saying the terminal is disabled is returned as is
// (protocol.Disabled reports it).
type Renewer struct {
	Identity *Identity
	// URL is the authority's base URL; the identity's AuthorityURL when empty.
	URL string
	// Remaining is the fraction of the certificate's lifetime left at which
	// it renews; 1/3 when 0.
	Remaining float64
	Clock     clock.Clock  // clock.Real{} when nil
	Log       *slog.Logger // slog.Default() when nil
}

func (r *Renewer) clock() clock.Clock {
	if r.Clock == nil {
		return clock.Real{}
	}
	return r.Clock
}

// Due reports whether the current certificate should be renewed now.
func (r *Renewer) Due() bool {
	c := r.Identity.Certificate()
	frac := r.Remaining
	if frac <= 0 || frac >= 1 {
		frac = 1.0 / 3
	}
	life := c.NotAfter.Sub(c.NotBefore)
	at := c.NotAfter.Add(-time.Duration(float64(life) * frac))
	return !r.clock().Now().Before(at)
}

// Check renews when Due; it reports whether it did.
func (r *Renewer) Check(ctx context.Context) (bool, error) {
	if !r.Due() {
		return false, nil
	}
	if err := r.Renew(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// Renew renews the certificate now and stores the new bundle durably; the
// Identity's TLS configuration uses it from the next handshake. The bundle
// also refreshes the intake and receipt keys and the TUF root on disk; the
// Identity's fields for those keep their values until the next start.
func (r *Renewer) Renew(ctx context.Context) error {
	log := r.Log
	if log == nil {
		log = slog.Default()
	}
	id := r.Identity
	unlock, err := lockIdentity(id.dir)
	if err != nil {
		return err
	}
	defer unlock()
	old := id.Certificate()
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:            pkix.Name{CommonName: id.DeviceID},
		SignatureAlgorithm: x509.ECDSAWithSHA256,
	}, id.Signer)
	if err != nil {
		return fmt.Errorf("provisioning: renewal request: %w", err)
	}
	var b protocol.Bundle
	c := NewClient(id, r.URL)
	c.clock = r.clock()
	if err := c.call(ctx, protocol.PathRenew, protocol.RenewRequest{CSR: csr}, &b); err != nil {
		_ = appendAudit(id.dir, r.clock().Now(), "renew.failed", err.Error())
		return err
	}
	if b.DeviceID != id.DeviceID || b.Station.ID != id.StationID {
		return fmt.Errorf("provisioning: the renewal names terminal %s of station %s, not %s of %s; refusing it", b.DeviceID, b.Station.ID, id.DeviceID, id.StationID)
	}
	if err := id.replace(b, r.clock().Now()); err != nil {
		return err
	}
	next := id.Certificate()
	_ = appendAudit(id.dir, r.clock().Now(), "renew", fmt.Sprintf("certificate %s until %s replaces %s",
		next.SerialNumber.Text(16), next.NotAfter.Format(time.RFC3339), old.SerialNumber.Text(16)))
	log.Info("provisioning: device certificate renewed", "device", id.DeviceID, "expires", next.NotAfter)
	return nil
}
