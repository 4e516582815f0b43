// Package wallet is the reference phone wallet: the test double of the
// real phone app and the documentation of its protocol with the authority
// (eidcred's PathBindings and friends). It keeps its state in a directory:
// the phone key (key.pem, P-256, 0600), where it is bound (wallet.json) and
// the current credential (credential.cose).
//
// Bind sends the receipt QR's enrollment ID and binding code with the
// phone's public key to the authority, over TLS pinned to the authority's
// CA fingerprint; Refresh proves possession of the key and fetches a
// credential; Present makes the QR payload of the moment (eidcred.Present),
// which the kiosk verifies offline.
//
// What a real phone app must do that this one does not (docs/eid-credential.md):
// keep the key in the secure element (non-exportable, user presence to
// sign), refresh in the background before expiry, re-render the QR code at
// least every 30 seconds while shown, protect the screen from capture, and
// recover a lost phone through a new visit. This one keeps a software key
// in a file.
package wallet

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"eidkiosk/eidcred"
	"eidkiosk/enroll"
	"eidkiosk/internal/atomicfile"
	"eidkiosk/internal/clock"
)

// Files in the wallet's directory.
const (
	KeyFile        = "key.pem"
	StateFile      = "wallet.json"
	CredentialFile = "credential.cose"
)

// Sentinel errors a caller acts on.
var (
	ErrNotBound     = errors.New("wallet: not bound to an enrollment: run `eidwallet bind` first")
	ErrPending      = errors.New("wallet: the enrollment is not accepted yet: try `eidwallet refresh` later")
	ErrNoCredential = errors.New("wallet: no credential: run `eidwallet refresh`")
	ErrPin          = errors.New("wallet: the authority's certificate does not match the pinned CA fingerprint")
)

// RefusedError is the authority's refusal, with its reason
// (eidcred.Reason*).
type RefusedError struct {
	Status int
	Reason string
	Msg    string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("wallet: the authority refused (%d %s): %s", e.Status, e.Reason, e.Msg)
}

// State is wallet.json: where the wallet is bound. Nothing personal.
type State struct {
	Authority     string `json:"authority"`
	CAFingerprint string `json:"ca_fingerprint"`
	EnrollmentID  string `json:"enrollment_id"`
	BindingID     string `json:"binding_id"`
}

// Wallet is one phone.
type Wallet struct {
	Dir   string
	Clock clock.Clock
	key   *ecdsa.PrivateKey
	state State
}

// Open opens (or creates, with a new key) the wallet in dir.
func Open(dir string) (*Wallet, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	w := &Wallet{Dir: dir, Clock: clock.Real{}}
	kp := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(kp)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("wallet: key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, fmt.Errorf("wallet: key: %w", err)
		}
		if err := atomicfile.Write(kp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("wallet: key: %w", err)
		}
		w.key = k
	case err != nil:
		return nil, fmt.Errorf("wallet: key: %w", err)
	default:
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("wallet: %s is not PEM", kp)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("wallet: key %s: %w", kp, err)
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("wallet: key %s is not P-256", kp)
		}
		w.key = ec
	}
	sb, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err == nil {
		if err := json.Unmarshal(sb, &w.state); err != nil {
			return nil, fmt.Errorf("wallet: %s: %w", StateFile, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	return w, nil
}

// State returns where the wallet is bound.
func (w *Wallet) State() State { return w.state }

// PublicKey is the phone key's public half.
func (w *Wallet) PublicKey() *ecdsa.PublicKey { return &w.key.PublicKey }

// Bind binds the phone to the enrollment of a receipt QR payload
// ("EIDK1:<enrollment>:<code>") at the authority, pinned to its CA's
// SHA-256 fingerprint (hex, colons allowed).
func (w *Wallet) Bind(ctx context.Context, authorityURL, caFingerprint, receipt string) (eidcred.BindingStatus, error) {
	id, code, err := enroll.ParseQR(strings.TrimSpace(receipt))
	if err != nil {
		return eidcred.BindingStatus{}, fmt.Errorf("wallet: receipt: %w", err)
	}
	st := State{Authority: strings.TrimRight(authorityURL, "/"), CAFingerprint: normalize(caFingerprint), EnrollmentID: id}
	hk, err := w.key.PublicKey.Bytes()
	if err != nil {
		return eidcred.BindingStatus{}, fmt.Errorf("wallet: key: %w", err)
	}
	body, _ := json.Marshal(eidcred.BindRequest{EnrollmentID: id, Code: code, HolderKey: hk})
	var bs eidcred.BindingStatus
	if err := w.call(ctx, st, http.MethodPost, eidcred.PathBindings, "application/json", body, http.StatusCreated, &bs); err != nil {
		return bs, err
	}
	st.BindingID = bs.BindingID
	if err := w.save(st); err != nil {
		return bs, err
	}
	return bs, nil
}

// Status asks the authority where the binding stands.
func (w *Wallet) Status(ctx context.Context) (eidcred.BindingStatus, error) {
	var bs eidcred.BindingStatus
	if w.state.BindingID == "" {
		return bs, ErrNotBound
	}
	err := w.call(ctx, w.state, http.MethodGet, strings.Replace(eidcred.PathBinding, "{id}", w.state.BindingID, 1), "", nil, http.StatusOK, &bs)
	return bs, err
}

// Refresh fetches a new credential and stores it; ErrPending while the
// enrollment waits for acceptance.
func (w *Wallet) Refresh(ctx context.Context) (eidcred.Credential, error) {
	if w.state.BindingID == "" {
		return eidcred.Credential{}, ErrNotBound
	}
	req, err := eidcred.SignRequest(w.key, w.state.BindingID, w.Clock.Now())
	if err != nil {
		return eidcred.Credential{}, err
	}
	var cred []byte
	path := strings.Replace(eidcred.PathCredential, "{id}", w.state.BindingID, 1)
	if err := w.call(ctx, w.state, http.MethodPost, path, eidcred.ContentCOSE, req, http.StatusOK, &cred); err != nil {
		return eidcred.Credential{}, err
	}
	c, _, err := eidcred.ParseUnverified(cred)
	if err != nil {
		return eidcred.Credential{}, fmt.Errorf("wallet: the authority sent %w", err)
	}
	if err := atomicfile.Write(filepath.Join(w.Dir, CredentialFile), cred, 0o600); err != nil {
		return eidcred.Credential{}, fmt.Errorf("wallet: %w", err)
	}
	return c, nil
}

// Credential returns the stored credential and what it says (unverified:
// the wallet only shows its expiry).
func (w *Wallet) Credential() ([]byte, eidcred.Credential, error) {
	b, err := os.ReadFile(filepath.Join(w.Dir, CredentialFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, eidcred.Credential{}, ErrNoCredential
	}
	if err != nil {
		return nil, eidcred.Credential{}, fmt.Errorf("wallet: %w", err)
	}
	c, _, err := eidcred.ParseUnverified(b)
	return b, c, err
}

// Present makes the QR payload for time at.
func (w *Wallet) Present(at time.Time) (string, error) {
	b, _, err := w.Credential()
	if err != nil {
		return "", err
	}
	return eidcred.Present(b, w.key, at)
}

func (w *Wallet) save(st State) error {
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := atomicfile.Write(filepath.Join(w.Dir, StateFile), b, 0o600); err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	w.state = st
	return nil
}

// call makes one request; out is *[]byte for a COSE body, else JSON.
func (w *Wallet) call(ctx context.Context, st State, method, path, ctype string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, st.Authority+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("wallet: %w", err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := pinnedClient(st.CAFingerprint).Do(req)
	if err != nil {
		return fmt.Errorf("wallet: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("wallet: %s %s: %w", method, path, err)
	}
	if resp.StatusCode == http.StatusConflict && path != eidcred.PathBindings {
		return ErrPending
	}
	if resp.StatusCode != want {
		var eb eidcred.ErrorBody
		json.Unmarshal(b, &eb)
		return &RefusedError{Status: resp.StatusCode, Reason: eb.Reason, Msg: eb.Message}
	}
	if p, ok := out.(*[]byte); ok {
		*p = b
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("wallet: %s %s: %w", method, path, err)
	}
	return nil
}

func normalize(fp string) string {
	return strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(fp))
}

// pinnedClient trusts exactly the certificate chain that reaches a
// certificate with the pinned SHA-256 fingerprint (the authority's root
// CA, or a self-signed server certificate), and nothing else.
func pinnedClient(fp string) *http.Client {
	verify := func(cs tls.ConnectionState) error {
		var pinned *x509.Certificate
		for _, c := range cs.PeerCertificates {
			sum := sha256.Sum256(c.Raw)
			if hex.EncodeToString(sum[:]) == fp {
				pinned = c
			}
		}
		if pinned == nil || len(cs.PeerCertificates) == 0 {
			return ErrPin
		}
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(pinned)
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: cs.ServerName, Roots: roots, Intermediates: inter}); err != nil {
			return fmt.Errorf("%w: %v", ErrPin, err)
		}
		return nil
	}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: true, // verified by VerifyConnection against the pin
			VerifyConnection:   verify,
		}},
	}
}
