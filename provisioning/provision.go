package provisioning

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/provisioning/devkey"
	"eidkiosk/provisioning/protocol"
)

// Key storage choices for ProvisionOptions.Key.
const (
	KeyAuto = "auto" // the TPM when the box has one, else a file
	KeyTPM  = "tpm"  // the TPM, or fail
	KeyFile = "file" // a 0600 file
)

// ProvisionOptions describe one provisioning.
type ProvisionOptions struct {
	AuthorityURL string // https://host:port of the authority
	Token        string // the one-time enrollment token from city IT
	StateDir     string // the kiosk's state directory
	// Station is the station the technician installs for; empty accepts
	// the token's station.
	Station string
	// CAFingerprint pins the authority's root CA (SHA-256 hex, colons
	// allowed). When empty, Confirm is asked, unless AssumeYes.
	CAFingerprint string
	// Confirm shows the fingerprint to the technician and returns whether
	// they confirmed it matches the one city IT gave them.
	Confirm func(fingerprint string, root *x509.Certificate) (bool, error)
	// AssumeYes accepts the fingerprint unseen (scripted installs); it is
	// logged and audited as such.
	AssumeYes bool
	// Key is KeyAuto (default), KeyTPM or KeyFile.
	Key string
	// Serial is the box's serial number; when empty, the hardware serial,
	// else the TPM's endorsement key hash, else a random ID (deviceSerial).
	Serial   string
	Software string // kiosk version, for the authority's audit log
	// Progress receives one line per step, for the technician.
	Progress func(step string)
	Options
	Clock clock.Clock  // clock.Real{} when nil
	Log   *slog.Logger // slog.Default() when nil
}

// Result says what a provisioning did.
type Result struct {
	DeviceID, StationID, StationName string
	Fingerprint                      string        // the authority root CA's SHA-256
	KeyKind                          string        // protocol.KeyFile or KeyTPM
	Expires                          time.Time     // the device certificate's expiry
	Took                             time.Duration // wall time of the whole provisioning
}

// NormalizeFingerprint lower-cases a fingerprint and drops colons and spaces.
func NormalizeFingerprint(s string) string {
	return strings.NewReplacer(":", "", " ", "", "-", "").Replace(strings.ToLower(strings.TrimSpace(s)))
}

// Provision provisions the terminal: it fetches and confirms the authority's
// CA, creates the device key, sends the CSR with the token, checks and stores
// the returned bundle, and returns the loaded identity. On failure the state
// directory is left as it was (a key created on the way is destroyed).
func Provision(ctx context.Context, o ProvisionOptions) (*Identity, Result, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(format, args...))
		}
	}
	start := o.Clock.Now()
	dir := filepath.Join(o.StateDir, IdentityDir)
	audit := func(event, detail string) {
		if err := appendAudit(dir, o.Clock.Now(), event, detail); err != nil {
			o.Log.Error("provisioning: audit", "err", err)
		}
	}
	if o.StateDir == "" || !filepath.IsAbs(o.StateDir) {
		return nil, Result{}, fmt.Errorf("provisioning: state directory %q must be an absolute path", o.StateDir)
	}
	if strings.TrimSpace(o.Token) == "" {
		return nil, Result{}, fmt.Errorf("provisioning: no enrollment token given (city IT creates one with `authority token create`)")
	}
	unlock, err := lockIdentity(dir)
	if err != nil {
		return nil, Result{}, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, BundleFile)); err == nil {
		if id, lerr := Load(o.StateDir, o.Options); lerr == nil {
			defer id.Close()
			return nil, Result{}, fmt.Errorf("%w as %s of station %s: run `kioskctl deprovision` first", ErrAlreadyProvisioned, id.DeviceID, id.StationID)
		}
		return nil, Result{}, fmt.Errorf("%w (its identity does not load): run `kioskctl deprovision --force` first", ErrAlreadyProvisioned)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, Result{}, fmt.Errorf("provisioning: %w", err)
	}
	defer func() {
		if err := FixOwnership(o.StateDir); err != nil {
			o.Log.Error("provisioning: the kiosk's user may not read its identity", "err", err)
		}
	}()
	serial, source := o.Serial, "given"
	if serial == "" {
		var err error
		if serial, source, err = deviceSerial(o); err != nil {
			return nil, Result{}, err
		}
	}
	progress("serial number %s (%s)", serial, source)
	audit("provision.start", fmt.Sprintf("authority %s, serial %q (%s)", o.AuthorityURL, serial, source))

	// 1. The authority's CA, confirmed by the technician or pinned.
	progress("connecting to the authority at %s", o.AuthorityURL)
	root, err := fetchRoot(ctx, o.AuthorityURL)
	if err != nil {
		audit("provision.failed", err.Error())
		return nil, Result{}, err
	}
	fp := Fingerprint(root)
	progress("authority CA fingerprint (SHA-256): %s", groupHex(fp))
	switch {
	case o.CAFingerprint != "":
		if NormalizeFingerprint(o.CAFingerprint) != fp {
			err := fmt.Errorf("%w: the authority's CA fingerprint %s does not match the pinned %s: do not continue; check the URL and the network with city IT",
				ErrFingerprint, fp, NormalizeFingerprint(o.CAFingerprint))
			audit("provision.failed", err.Error())
			return nil, Result{}, err
		}
		audit("ca.pinned", fp)
		progress("fingerprint matches the pinned one")
	case o.AssumeYes:
		o.Log.Warn("provisioning: authority CA accepted without confirmation (--yes)", "fingerprint", fp)
		audit("ca.assumed", fp+" accepted without confirmation (--yes)")
	case o.Confirm != nil:
		ok, err := o.Confirm(fp, root)
		if err != nil {
			return nil, Result{}, fmt.Errorf("provisioning: confirmation: %w", err)
		}
		if !ok {
			audit("provision.failed", "CA fingerprint not confirmed: "+fp)
			return nil, Result{}, fmt.Errorf("%w: the technician did not confirm fingerprint %s", ErrFingerprint, fp)
		}
		audit("ca.confirmed", fp)
	default:
		return nil, Result{}, fmt.Errorf("%w: no pinned fingerprint and no one to confirm %s", ErrFingerprint, fp)
	}

	// 2. The device key.
	key, keyPath, err := createKey(o, dir, progress)
	if err != nil {
		_ = devkey.Destroy(filepath.Join(dir, KeyFileName))
		_ = devkey.Destroy(filepath.Join(dir, TPMKeyFileName))
		audit("provision.failed", err.Error())
		return nil, Result{}, err
	}
	ok := false
	defer func() {
		if !ok {
			key.Close()
			_ = devkey.Destroy(keyPath)
		}
	}()
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:            pkix.Name{CommonName: "eidkiosk terminal " + serial},
		SignatureAlgorithm: x509.ECDSAWithSHA256,
	}, key)
	if err != nil {
		return nil, Result{}, fmt.Errorf("provisioning: certificate request: %w", err)
	}

	// 3. The request, over TLS verified against the confirmed root.
	progress("sending the certificate request with the token")
	pool := x509.NewCertPool()
	pool.AddCert(root)
	hc := httpClient(&tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool})
	req := protocol.ProvisionRequest{
		Token: o.Token, Station: o.Station, CSR: csr, Serial: serial,
		KeyKind: key.Kind(), Software: o.Software,
	}
	if tk, isTPM := key.(devkey.TPMKey); isTPM {
		req.TPMPublic = tk.TPMPublic()
	}
	var b protocol.Bundle
	if err := call(ctx, hc, o.AuthorityURL, protocol.PathProvision, req, &b); err != nil {
		audit("provision.refused", err.Error())
		return nil, Result{}, err
	}

	// 4. Check and store.
	progress("checking and saving the identity for terminal %s of station %s", b.DeviceID, b.Station.ID)
	if string(b.RootCA) != string(root.Raw) {
		return nil, Result{}, fmt.Errorf("provisioning: the authority returned a different root CA than the one confirmed; refusing the bundle")
	}
	if o.Station != "" && b.Station.ID != o.Station {
		return nil, Result{}, fmt.Errorf("provisioning: the authority enrolled the terminal for station %s, not %s; refusing the bundle", b.Station.ID, o.Station)
	}
	st := stored{KeyKind: key.Kind(), Authority: o.AuthorityURL, Provisioned: o.Clock.Now().UTC(), Bundle: b}
	id, err := newIdentity(dir, key, st)
	if err != nil {
		return nil, Result{}, err
	}
	if err := writeStored(dir, st); err != nil {
		err = fmt.Errorf("provisioning: the authority enrolled this box as terminal %s, but its identity could not be saved (%w): fix the disk, ask city IT to revoke %s and for a new token, and provision again",
			b.DeviceID, err, b.DeviceID)
		audit("provision.failed", err.Error())
		return nil, Result{}, err
	}
	ok = true
	if err := recordSerial(o.StateDir, serial); err != nil {
		o.Log.Warn("provisioning: serial not recorded in the state directory", "err", err)
	}
	res := Result{
		DeviceID: b.DeviceID, StationID: b.Station.ID, StationName: b.Station.Name,
		Fingerprint: fp, KeyKind: key.Kind(), Expires: id.Expires(), Took: o.Clock.Now().Sub(start),
	}
	audit("provision.done", fmt.Sprintf("terminal %s of station %s, key %s, certificate %s until %s",
		b.DeviceID, b.Station.ID, key.Kind(), id.Chain[0].SerialNumber.Text(16), res.Expires.Format(time.RFC3339)))
	o.Log.Info("provisioning: terminal provisioned", "device", b.DeviceID, "station", b.Station.ID, "key", key.Kind(), "took", res.Took)
	return id, res, nil
}

func createKey(o ProvisionOptions, dir string, progress func(string, ...any)) (devkey.Key, string, error) {
	mode := o.Key
	if mode == "" {
		mode = KeyAuto
	}
	if mode != KeyFile {
		t, err := o.openTPM()
		switch {
		case err == nil:
			path := filepath.Join(dir, TPMKeyFileName)
			progress("generating the device key inside the TPM")
			k, err := devkey.CreateTPM(t, path)
			if err != nil {
				t.Close()
				return nil, "", err
			}
			return k, path, nil
		case mode == KeyTPM:
			return nil, "", fmt.Errorf("provisioning: --key tpm, but %w", err)
		default:
			progress("no TPM found (%v): the device key goes to a 0600 file", err)
		}
	}
	path := filepath.Join(dir, KeyFileName)
	progress("generating the device key (file, mode 0600)")
	k, err := devkey.CreateFile(path, nil)
	return k, path, err
}

// fetchRoot connects to the authority without trusting it yet and returns
// the root CA it presents, after checking that the server certificate chains
// to it and names the host.
func fetchRoot(ctx context.Context, authorityURL string) (*x509.Certificate, error) {
	host, addr, err := hostOf(authorityURL)
	if err != nil {
		return nil, err
	}
	d := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 10 * time.Second},
		Config: &tls.Config{
			MinVersion: tls.VersionTLS13, ServerName: host,
			InsecureSkipVerify: true, // verified below against the root the technician confirms
		},
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, netError(authorityURL, err)
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) < 2 {
		return nil, fmt.Errorf("provisioning: the server at %s does not present an authority root CA (is it an eidkiosk authority?)", authorityURL)
	}
	root := certs[len(certs)-1]
	if !root.IsCA || root.CheckSignatureFrom(root) != nil {
		return nil, fmt.Errorf("provisioning: the server at %s does not present a self-signed root CA (is it an eidkiosk authority?)", authorityURL)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	for _, c := range certs[1 : len(certs)-1] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter}); err != nil {
		return nil, fmt.Errorf("provisioning: the server certificate at %s does not fit its own CA: %w", authorityURL, err)
	}
	return root, nil
}

// Fingerprint is the SHA-256 of a certificate's DER in lower-case hex, as
// shown to technicians and pinned in authority.ca_fingerprint.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256Sum(c.Raw)
	return hex.EncodeToString(sum[:])
}

// groupHex writes a fingerprint in groups of four for reading aloud.
func groupHex(s string) string {
	var parts []string
	for i := 0; i < len(s); i += 4 {
		parts = append(parts, s[i:min(i+4, len(s))])
	}
	return strings.Join(parts, " ")
}
