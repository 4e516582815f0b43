// Package bindingtest runs the phone e-ID module (authority/binding) on a
// loopback TLS server with a real SQLite database, over a table of
// enrollments the test controls (their binding codes, received times,
// masked names and review statuses), for the module's own tests and the
// wallet's. The enrollment table stands in for the intake and the review
// store, which have tests of their own; everything else is the real module.
package bindingtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"eidkiosk/authority"
	"eidkiosk/authority/binding"
	"eidkiosk/eidcred"
	"eidkiosk/enroll"
	"eidkiosk/internal/clock"
)

// Enrollments is the test's table of stored enrollments: binding.Receipts
// and binding.StatusSource.
type Enrollments struct {
	mu sync.Mutex
	m  map[string]*entry
}

type entry struct {
	rc     binding.Receipt
	status string
}

// Add stores an enrollment with its binding code and review status.
func (e *Enrollments) Add(id, code, maskedName string, received time.Time, status string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.m == nil {
		e.m = map[string]*entry{}
	}
	e.m[id] = &entry{rc: binding.Receipt{CodeHash: sha256.Sum256([]byte(code)), Received: received, MaskedName: maskedName}, status: status}
}

// SetStatus changes an enrollment's review status (an officer's decision).
func (e *Enrollments) SetStatus(id, status string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[id].status = status
}

func (e *Enrollments) get(id string) (*entry, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[id]; ok {
		return x, nil
	}
	return nil, binding.ErrUnknownEnrollment
}

// Receipt implements binding.Receipts.
func (e *Enrollments) Receipt(ctx context.Context, id string) (binding.Receipt, error) {
	x, err := e.get(id)
	if err != nil {
		return binding.Receipt{}, err
	}
	return x.rc, nil
}

// Status implements binding.StatusSource.
func (e *Enrollments) Status(ctx context.Context, id string) (string, error) {
	x, err := e.get(id)
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return x.status, nil
}

// Server is a running module.
type Server struct {
	Module      *binding.Module
	Enrollments *Enrollments
	Clock       *clock.Fake
	URL         string
	// CAFingerprint is the SHA-256 (hex) of the server's self-signed
	// certificate: what a wallet pins.
	CAFingerprint string
	DataDir       string
	// Client trusts the server's certificate.
	Client *http.Client
}

// Start runs the module on loopback TLS until the test ends. o's
// Receipts, Status, Clock and DataDir are the server's own.
func Start(tb testing.TB, start time.Time, o binding.Options) *Server {
	tb.Helper()
	s := &Server{Enrollments: &Enrollments{}, Clock: clock.NewFake(start), DataDir: tb.TempDir()}
	o.Receipts, o.Status, o.Clock, o.DataDir = s.Enrollments, s.Enrollments, s.Clock, s.DataDir
	m, err := binding.New(o)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	db, err := authority.OpenDB(ctx, filepath.Join(s.DataDir, "db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	srv, err := authority.NewServer(ctx, db, nil, m)
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewTLSServer(srv.Handler())
	tb.Cleanup(hs.Close)
	sum := sha256.Sum256(hs.Certificate().Raw)
	s.Module, s.URL, s.CAFingerprint, s.Client = m, hs.URL, hex.EncodeToString(sum[:]), hs.Client()
	return s
}

// Phone is a phone bound to a new accepted enrollment, holding a
// credential issued now.
type Phone struct {
	Key          *ecdsa.PrivateKey
	Credential   []byte
	EID          string
	EnrollmentID string
}

// NewPhone stores a new verified enrollment, binds a new phone key to it
// and fetches a credential, through the module's own methods.
func (s *Server) NewPhone(tb testing.TB, maskedName string) *Phone {
	tb.Helper()
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	id := uuid.NewString()
	code, err := enroll.NewBindingCode(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	s.Enrollments.Add(id, code, maskedName, s.Clock.Now(), binding.StatusVerified)
	hk, _ := key.PublicKey.Bytes()
	st, err := s.Module.Bind(ctx, eidcred.BindRequest{EnrollmentID: id, Code: code, HolderKey: hk}, "bindingtest")
	if err != nil {
		tb.Fatal(err)
	}
	req, err := eidcred.SignRequest(key, st.BindingID, s.Clock.Now())
	if err != nil {
		tb.Fatal(err)
	}
	cred, err := s.Module.Credential(ctx, st.BindingID, req)
	if err != nil {
		tb.Fatal(err)
	}
	c, _, err := eidcred.ParseUnverified(cred)
	if err != nil {
		tb.Fatal(err)
	}
	return &Phone{Key: key, Credential: cred, EID: c.EID, EnrollmentID: id}
}
