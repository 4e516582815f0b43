// Package uplink sends the outbox's sealed packages to the central authority
// in the background: HTTPS with TLS 1.3 and the device certificate (mTLS),
// one POST per package with its enrollment ID as the idempotency key, oldest
// first. A package leaves the outbox only after the authority's signed
// receipt for exactly that package has been verified with the receipt key.
//
// Failures are retried with exponential backoff and jitter, honouring
// Retry-After (RFC 9110 §10.2.3). A refusal of the terminal itself
// (device_unknown, device_revoked) disables the kiosk through the outbox's
// gate until an upload succeeds again; a refusal of one package marks it
// refused and moves on, never deleting it. Status reports online, backlog
// and the last error for the UI and metrics.
//
// The package does not seal, store or load keys: it gets the device
// certificate, the authority's roots and receipt key from provisioning, and
// the queue from kiosk/outbox.
package uplink

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"eidkiosk/enroll"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/outbox"
)

// Queue is the outbox as the uplink uses it (*outbox.Outbox).
type Queue interface {
	Next(ctx context.Context) (outbox.Item, bool, error)
	Release(ctx context.Context, id, reason string) error
	Ack(ctx context.Context, id string, receipt []byte) error
	Refuse(ctx context.Context, id, code string) error
	SetDisabled(ctx context.Context, code string) error
	Stats() outbox.Stats
	Subscribe() (<-chan struct{}, func())
}

// Path is where packages are posted (the authority's intake).
const Path = enroll.PathEnrollments

// RefusedError is an error answer of the authority. Typed is true when the
// body carried the intake's reason code; an untyped answer (a proxy, a wrong
// URL) is never taken as a refusal of the package and is retried.
type RefusedError struct {
	Status  int
	Code    string
	Message string
	Typed   bool
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("uplink: authority refused (%d %s): %s", e.Status, e.Code, e.Message)
}

// ErrBadReceipt is recorded when the authority's answer does not verify; the
// package stays queued.
var ErrBadReceipt = errors.New("uplink: receipt does not verify")

// Options configure an Uplink.
type Options struct {
	URL         string          // https://host:port of the authority
	Certificate tls.Certificate // device certificate chain and key
	Roots       *x509.CertPool  // the authority's root CA
	ReceiptKey  ed25519.PublicKey
	Queue       Queue
	MinBackoff  time.Duration // default 1s
	MaxBackoff  time.Duration // default 5m
	Timeout     time.Duration // per request, default 30s
	Clock       clock.Clock
	Rand        *rand.Rand // jitter; default seeded randomly
	Logger      *slog.Logger
	// Transport replaces the HTTP transport built from the TLS options
	// (tests of failure modes); nil in production.
	Transport http.RoundTripper
}

// Status is the uplink's state for the UI and metrics.
type Status struct {
	Online       bool      // the last request reached the authority
	Backlog      int       // packages waiting
	BacklogBytes int64     // their size
	Refused      int       // packages refused by the authority, kept
	Disabled     string    // refusal code when the authority refused this terminal
	LastError    string    // last failure, "" after a success (non-personal)
	LastCode     string    // last refusal code
	LastSent     time.Time // last acknowledged package
	NextAttempt  time.Time // when the next try is due while backing off
	Sent         uint64    // packages acknowledged since start
	Failures     uint64    // failed attempts since start
}

// Uplink is the background sender.
type Uplink struct {
	o      Options
	client *http.Client
	kick   chan struct{}

	mu    sync.Mutex
	st    Status
	known bool // st.Online was set at least once
}

// New checks the options and builds the TLS client.
func New(o Options) (*Uplink, error) {
	if !strings.HasPrefix(o.URL, "https://") {
		return nil, fmt.Errorf("uplink: authority URL %q is not https", o.URL)
	}
	if o.Queue == nil {
		return nil, errors.New("uplink: no queue")
	}
	if len(o.ReceiptKey) != ed25519.PublicKeySize {
		return nil, errors.New("uplink: receipt key is not an Ed25519 public key")
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(5*time.Minute, o.MinBackoff)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	tr := o.Transport
	if tr == nil {
		if len(o.Certificate.Certificate) == 0 || o.Roots == nil {
			return nil, errors.New("uplink: device certificate and authority roots are required")
		}
		tr = &http.Transport{
			TLSClientConfig: &tls.Config{
				MinVersion: tls.VersionTLS13, RootCAs: o.Roots,
				Certificates: []tls.Certificate{o.Certificate},
			},
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: o.Timeout,
		}
	}
	u := &Uplink{o: o, client: &http.Client{Transport: tr}, kick: make(chan struct{}, 1)}
	u.refreshBacklog()
	return u, nil
}

// Status returns a snapshot.
func (u *Uplink) Status() Status {
	u.refreshBacklog()
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.st
}

func (u *Uplink) refreshBacklog() {
	s := u.o.Queue.Stats()
	u.mu.Lock()
	u.st.Backlog, u.st.BacklogBytes, u.st.Refused, u.st.Disabled = s.Pending, s.Bytes, s.Refused, s.Disabled
	u.mu.Unlock()
}

// Kick ends a backoff wait now (a technician's "retry now").
func (u *Uplink) Kick() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// Run sends until ctx is cancelled; it returns ctx's error.
func (u *Uplink) Run(ctx context.Context) error {
	changes, stop := u.o.Queue.Subscribe()
	defer stop()
	failures := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		it, ok, err := u.o.Queue.Next(ctx)
		if err != nil {
			u.fail(err, "")
			failures++
			if !u.wait(ctx, u.backoff(failures, 0), nil) {
				return ctx.Err()
			}
			continue
		}
		if !ok {
			// Idle. A disabled terminal has nothing to send that would tell
			// it when it is reinstated, so it asks at the longest interval.
			if u.o.Queue.Stats().Disabled != "" {
				if !u.wait(ctx, u.o.MaxBackoff, changes) {
					return ctx.Err()
				}
				u.probe(ctx)
				continue
			}
			if !u.wait(ctx, 0, changes) {
				return ctx.Err()
			}
			continue
		}
		delay, err := u.send(ctx, it)
		if err == nil {
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			// Shutting down: the item goes back to the queue unharmed.
			u.o.Queue.Release(context.WithoutCancel(ctx), it.ID, "shutdown")
			return ctx.Err()
		}
		var ref *RefusedError
		switch {
		case errors.As(err, &ref) && ref.Typed && !enroll.DeviceCode(ref.Code) && ref.Status >= 400 && ref.Status < 500 && ref.Status != http.StatusTooManyRequests:
			// This package is refused for good: keep it, go on with the next.
			u.o.Logger.Warn("uplink: package refused", "enrollment", it.ID, "code", ref.Code)
			if err := u.o.Queue.Refuse(ctx, it.ID, ref.Code); err != nil {
				u.fail(err, "")
			}
			continue
		case errors.As(err, &ref) && ref.Typed && enroll.DeviceCode(ref.Code):
			u.o.Logger.Error("uplink: authority refused this terminal", "code", ref.Code)
			if err := u.o.Queue.SetDisabled(ctx, ref.Code); err != nil {
				u.fail(err, "")
			}
			u.o.Queue.Release(ctx, it.ID, ref.Code)
			failures = max(failures, 30) // probe at the longest interval
		default:
			u.o.Queue.Release(ctx, it.ID, short(err))
		}
		failures++
		if !u.wait(ctx, u.backoff(failures, delay), nil) {
			return ctx.Err()
		}
	}
}

// backoff is the wait after n consecutive failures: exponential from
// MinBackoff, capped at MaxBackoff, "equal jitter" (half fixed, half
// random), and never shorter than the server's Retry-After.
func (u *Uplink) backoff(n int, retryAfter time.Duration) time.Duration {
	d := u.o.MinBackoff
	for i := 1; i < n && d < u.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, u.o.MaxBackoff)
	u.mu.Lock()
	j := time.Duration(u.o.Rand.Int64N(int64(d/2) + 1))
	u.mu.Unlock()
	d = d/2 + j
	if retryAfter > d {
		d = min(retryAfter, time.Hour)
	}
	return d
}

// wait sleeps for d on the injected clock (d == 0: until changes fires),
// ending early on Kick. It reports false when ctx ended.
func (u *Uplink) wait(ctx context.Context, d time.Duration, changes <-chan struct{}) bool {
	var timer <-chan struct{}
	if d > 0 {
		ch := make(chan struct{})
		t := u.o.Clock.AfterFunc(d, func() { close(ch) })
		defer t.Stop()
		timer = ch
		u.mu.Lock()
		u.st.NextAttempt = u.o.Clock.Now().Add(d)
		u.mu.Unlock()
		defer func() {
			u.mu.Lock()
			u.st.NextAttempt = time.Time{}
			u.mu.Unlock()
		}()
	}
	select {
	case <-ctx.Done():
		return false
	case <-timer:
	case <-changes:
	case <-u.kick:
	}
	return true
}

func short(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

func (u *Uplink) fail(err error, code string) {
	u.mu.Lock()
	u.st.LastError, u.st.LastCode = short(err), code
	u.st.Failures++
	u.mu.Unlock()
	u.refreshBacklog()
}

// send posts one package. On success it verifies the receipt and acks the
// item. It returns the server's Retry-After on failure.
func (u *Uplink) send(ctx context.Context, it outbox.Item) (time.Duration, error) {
	rctx, cancel := context.WithTimeout(ctx, u.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, strings.TrimRight(u.o.URL, "/")+Path+it.ID, bytes.NewReader(it.Package))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", enroll.ContentType)
	req.Header.Set("Idempotency-Key", it.ID)
	resp, err := u.client.Do(req)
	if err != nil {
		u.setOnline(false)
		err = fmt.Errorf("uplink: %w", err)
		u.fail(err, "")
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	u.setOnline(true)
	if err != nil {
		err = fmt.Errorf("uplink: read answer: %w", err)
		u.fail(err, "")
		return 0, err
	}
	retry := retryAfter(resp.Header.Get("Retry-After"), u.o.Clock.Now())
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		ref := &RefusedError{Status: resp.StatusCode, Code: fmt.Sprintf("http_%d", resp.StatusCode)}
		var eb enroll.ErrorBody
		if json.Unmarshal(body, &eb) == nil && eb.Code != "" {
			ref.Code, ref.Message, ref.Typed = eb.Code, eb.Message, true
		}
		u.fail(ref, ref.Code)
		return retry, ref
	}
	hash := sha256.Sum256(it.Package)
	if _, err := enroll.VerifyReceipt(u.o.ReceiptKey, body, it.ID, hash[:]); err != nil {
		err = fmt.Errorf("%w: %v", ErrBadReceipt, err)
		u.fail(err, "bad_receipt")
		return 0, err
	}
	if err := u.o.Queue.Ack(ctx, it.ID, body); err != nil {
		u.fail(err, "")
		return 0, err
	}
	if u.o.Queue.Stats().Disabled != "" {
		if err := u.o.Queue.SetDisabled(ctx, ""); err != nil {
			u.fail(err, "")
		}
	}
	u.mu.Lock()
	u.st.LastError, u.st.LastCode = "", ""
	u.st.LastSent = u.o.Clock.Now()
	u.st.Sent++
	u.mu.Unlock()
	u.refreshBacklog()
	u.o.Logger.Debug("uplink: acknowledged", "enrollment", it.ID)
	return 0, nil
}

// probe asks the authority's status endpoint whether this terminal is
// authorized again: a refusal keeps it disabled, any answer about the
// (non-existent) enrollment "probe" means the certificate was accepted.
func (u *Uplink) probe(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, u.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, strings.TrimRight(u.o.URL, "/")+Path+"probe", nil)
	if err != nil {
		return
	}
	resp, err := u.client.Do(req)
	if err != nil {
		u.setOnline(false)
		u.fail(fmt.Errorf("uplink: %w", err), "")
		return
	}
	defer resp.Body.Close()
	u.setOnline(true)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb enroll.ErrorBody
	if json.Unmarshal(body, &eb) == nil && enroll.DeviceCode(eb.Code) {
		return
	}
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusOK {
		u.o.Logger.Info("uplink: authority accepts this terminal again")
		if err := u.o.Queue.SetDisabled(ctx, ""); err != nil {
			u.fail(err, "")
		}
	}
}

// setOnline records whether the authority answered, logging the changes
// (and the first state) so an outage shows in the journal once, not per try.
func (u *Uplink) setOnline(v bool) {
	u.mu.Lock()
	changed := u.st.Online != v || !u.known
	u.st.Online, u.known = v, true
	u.mu.Unlock()
	if !changed {
		return
	}
	if v {
		u.o.Logger.Info("uplink: authority reachable", "url", u.o.URL)
	} else {
		u.o.Logger.Warn("uplink: authority unreachable; packages stay queued", "url", u.o.URL)
	}
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
