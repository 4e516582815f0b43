package provisioning

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/provisioning/protocol"
)

// call POSTs (or GETs when in is nil) JSON to base+path and decodes the
// answer into out. A refusal comes back as an error wrapping a
// *protocol.Refusal; a network failure wraps ErrUnreachable.
func call(ctx context.Context, hc *http.Client, base, path string, in, out any) error {
	method := http.MethodGet
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("provisioning: %w", err)
		}
		method, body = http.MethodPost, bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(base, "/")+path, body)
	if err != nil {
		return fmt.Errorf("provisioning: authority URL %q: %w", base, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return netError(base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, protocol.MaxBody+1))
	if err != nil {
		return fmt.Errorf("%w: reading the answer from %s: %v", ErrUnreachable, base, err)
	}
	if resp.StatusCode != http.StatusOK {
		var ref protocol.Refusal
		if json.Unmarshal(data, &ref) == nil && ref.Reason != "" {
			return fmt.Errorf("provisioning: %w", &ref)
		}
		return fmt.Errorf("provisioning: the authority at %s answered %s (is the URL right? it must be the authority's, not another server's)", base, resp.Status)
	}
	if len(data) > protocol.MaxBody {
		return fmt.Errorf("provisioning: the authority's answer exceeds %d bytes", protocol.MaxBody)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("provisioning: the authority's answer is not understood: %w", err)
	}
	return nil
}

func netError(base string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s did not answer in time: %w", ErrUnreachable, base, err)
	}
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ce) {
		return fmt.Errorf("provisioning: the server at %s is not the authority this terminal trusts (%v): check the URL; if the authority's CA was replaced, provision again", base, ce.Err)
	}
	var ae tls.AlertError
	if errors.As(err, &ae) {
		return fmt.Errorf("provisioning: the authority at %s refused the TLS connection (%v): the device certificate may have expired; provision again", base, err)
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "remote error" {
		return fmt.Errorf("provisioning: the authority at %s refused this terminal in the TLS handshake (%v): if its certificate expired or the authority's CA changed, provision again", base, oe.Err)
	}
	if errors.As(err, &oe) {
		return fmt.Errorf("%w: cannot reach %s (%v): check the network cable, the address and that the authority runs", ErrUnreachable, base, oe.Err)
	}
	return fmt.Errorf("%w: %s: %v", ErrUnreachable, base, err)
}

func httpClient(cfg *tls.Config) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     cfg,
			TLSHandshakeTimeout: 10 * time.Second,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			ForceAttemptHTTP2:   true,
		},
	}
}

// ErrCertificateExpired: the device certificate is past its expiry, so the
// authority refuses the terminal and it can no longer renew: provision again.
var ErrCertificateExpired = errors.New("provisioning: device certificate expired")

// Client talks to the authority with the terminal's identity (mTLS).
type Client struct {
	id    *Identity
	base  string
	hc    *http.Client
	clock clock.Clock
}

// call checks the certificate's expiry against the terminal's clock (the
// authority's refusal of an expired certificate in TLS 1.3 reaches the
// client as a broken connection, which would read as a network fault) and
// makes the call.
func (c *Client) call(ctx context.Context, path string, in, out any) error {
	if exp := c.id.Expires(); c.clock.Now().After(exp) {
		return fmt.Errorf("%w on %s: the authority refuses it; ask city IT for a token, then `kioskctl deprovision --force` and `kioskctl provision`",
			ErrCertificateExpired, exp.UTC().Format("2006-01-02 15:04 MST"))
	}
	return call(ctx, c.hc, c.base, path, in, out)
}

// NewClient returns a client for the authority at base (the identity's
// AuthorityURL when empty).
func NewClient(id *Identity, base string) *Client {
	if base == "" {
		base = id.AuthorityURL
	}
	return &Client{id: id, base: base, hc: httpClient(id.TLSConfig()), clock: clock.Real{}}
}

// URL is the authority's base URL.
func (c *Client) URL() string { return c.base }

// Ping asks the authority who this terminal is and what time it is. It fails
// with a refusal (protocol.Disabled reports the terminal disabled) when the
// authority does not accept the terminal.
func (c *Client) Ping(ctx context.Context) (protocol.Ping, error) {
	var p protocol.Ping
	err := c.call(ctx, protocol.PathPing, nil, &p)
	return p, err
}

// SendReport sends a self-test report.
func (c *Client) SendReport(ctx context.Context, rep protocol.SelfTestReport) error {
	var ack protocol.Ack
	if err := c.call(ctx, protocol.PathSelfTest, rep, &ack); err != nil {
		return err
	}
	_ = appendAudit(c.id.dir, c.clock.Now(), "selftest.sent", fmt.Sprintf("%d checks, passed=%v", len(rep.Checks), rep.Passed))
	return nil
}

// hostOf returns the host part of an https URL, for certificate checks.
func hostOf(raw string) (host, addr string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", "", fmt.Errorf("provisioning: authority URL %q must be https://HOST[:PORT]", raw)
	}
	addr = u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	return u.Hostname(), addr, nil
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
