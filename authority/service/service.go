// Package service assembles the reference authority from its modules: the
// database (SQLite under the data directory, or PostgreSQL), the PKI (root
// CA, server certificate, device CA), the device registry, the enrollment
// intake with its face check (facematch's models against the reference
// photo registry), the fleet view with the TUF repository, the review of
// flagged enrollments (its console on a listener of its own: ServeAdmin),
// the phone e-ID (authority/binding), and the Prometheus metrics
// (authority/metrics: the intake is instrumented by a middleware in front
// of the HTTPS handler; `authority serve --metrics-addr` serves them).
// `authority serve` and the demo run it; tests run it on loopback.
//
// It holds no logic of its own beyond the order of construction and the
// HTTPS server's lifecycle.
package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"eidkiosk/authority"
	"eidkiosk/authority/binding"
	"eidkiosk/authority/fleet"
	"eidkiosk/authority/guard"
	"eidkiosk/authority/intake"
	"eidkiosk/authority/metrics"
	"eidkiosk/authority/pki"
	"eidkiosk/authority/registry"
	"eidkiosk/authority/review"
	"eidkiosk/facematch"
	"eidkiosk/facematch/score"
	"eidkiosk/internal/clock"
)

// ErrUnsafeDataDir: the data directory is writable by other users.
var ErrUnsafeDataDir = errors.New("unsafe data directory")

// Config says where the authority keeps its state.
type Config struct {
	DataDir string   // keys, PKI, and the SQLite file unless DB is set
	DB      string   // a postgres:// URL; empty: SQLite in DataDir
	Hosts   []string // names and IPs in the server certificate; default 127.0.0.1, localhost
	RepoDir string   // the TUF repository served under /tuf/; default DataDir/tuf
	Logger  *slog.Logger
	Clock   clock.Clock
	// RequireAllowList refuses devices whose serial is not on the allow-list.
	RequireAllowList bool
	// Face configures the face check of every stored enrollment.
	Face FaceConfig
	// Limits bounds what clients can hold on the HTTPS listener; zero
	// fields take DefaultLimits'.
	Limits Limits
	// Retention is how long review material stays reviewable after an
	// officer's decision (0: kept); see review.Options.
	Retention time.Duration
	// Version is the authority's build, for its metrics.
	Version string
}

// Limits are the HTTPS listener's bounds on connections and their times.
type Limits struct {
	ConnsPerClient int           // open connections of one client address
	Conns          int           // open connections of all clients
	ReadHeader     time.Duration // request line and headers
	Read           time.Duration // a whole request, body included
	Write          time.Duration // a whole response
	Idle           time.Duration // a kept-alive connection between requests
}

// DefaultLimits: the largest legitimate request is a 4 MiB enrollment
// package, 30 s even at 1.1 Mbit/s; the largest response a release
// archive, which a terminal fetches with Range requests and resumes. A
// terminal holds two or three connections (uplink, heartbeat, update), a
// station's terminals share no address, and the demo or a test rig runs a
// few terminals and the CLI from one: 32 per address.
var DefaultLimits = Limits{ConnsPerClient: 32, Conns: 4096, ReadHeader: 5 * time.Second, Read: 45 * time.Second,
	Write: 2 * time.Minute, Idle: 60 * time.Second}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.ConnsPerClient == 0 {
		l.ConnsPerClient = d.ConnsPerClient
	}
	if l.Conns == 0 {
		l.Conns = d.Conns
	}
	if l.ReadHeader == 0 {
		l.ReadHeader = d.ReadHeader
	}
	if l.Read == 0 {
		l.Read = d.Read
	}
	if l.Write == 0 {
		l.Write = d.Write
	}
	if l.Idle == 0 {
		l.Idle = d.Idle
	}
	return l
}

// FaceConfig configures the intake's face check: the live capture against
// the reference photo registry (or the decoded card photo), with the models
// of facematch (a missing or altered model stops Open, naming the file and
// the fix).
type FaceConfig struct {
	Off        bool             // no face check: the models are not loaded
	Thresholds score.Thresholds // zero: score.Default (docs/matching.md)
	// CardPhotos decodes the chip's WLT photo when no reference photo is
	// registered; nil: enrollments without a reference are flagged
	// face_unchecked.
	CardPhotos intake.PhotoDecoder
}

// Service is a running-ready authority.
type Service struct {
	DB       *authority.DB
	PKI      *pki.PKI
	Registry *registry.Registry
	Intake   *intake.Intake
	Fleet    *fleet.Module
	Review   *review.Store
	Binding  *binding.Module // the phone e-ID: bindings, credentials, revocation
	Server   *authority.Server
	RepoDir  string
	// Faces is the face matcher of the intake's face check (nil when
	// Face.Off).
	Faces *facematch.Matcher
	// Metrics are the authority's Prometheus metrics; Serve instruments
	// the intake with them. Modules built later feed them
	// (Metrics.SetReviewQueue, Metrics.Issued).
	Metrics *metrics.Metrics
	log     *slog.Logger
	limits  Limits
}

// devices forwards to the registry, which is built after the intake (it
// needs the intake's public keys).
type devices struct {
	mu sync.RWMutex
	r  *registry.Registry
}

func (d *devices) Authorize(ctx context.Context, cert *x509.Certificate) (string, string, error) {
	d.mu.RLock()
	r := d.r
	d.mu.RUnlock()
	if r == nil {
		return "", "", errors.New("service: registry not ready")
	}
	return r.Authorize(ctx, cert)
}

// Open builds every module and migrates the database.
func Open(ctx context.Context, c Config) (*Service, error) {
	if c.DataDir == "" {
		return nil, errors.New("service: no data directory")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if len(c.Hosts) == 0 {
		c.Hosts = []string{"127.0.0.1", "localhost"}
	}
	if c.RepoDir == "" {
		c.RepoDir = filepath.Join(c.DataDir, "tuf")
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	if fi, err := os.Stat(c.DataDir); err != nil {
		return nil, fmt.Errorf("service: %w", err)
	} else if fi.Mode().Perm()&0o022 != 0 {
		// Keys and the database live here: another user who can write
		// the directory can swap them.
		return nil, fmt.Errorf("service: %w: data directory %s is writable by other users (mode %v): chmod 700 %s", ErrUnsafeDataDir, c.DataDir, fi.Mode().Perm(), c.DataDir)
	}
	dsn := c.DB
	if dsn == "" {
		dsn = c.DataDir
	}
	db, err := authority.OpenDB(ctx, dsn)
	if err != nil {
		return nil, err
	}
	p, err := pki.Load(c.DataDir, c.Hosts)
	if err != nil {
		db.Close()
		return nil, err
	}
	var faces *facematch.Matcher
	var check intake.FaceCheck
	if !c.Face.Off {
		th := c.Face.Thresholds
		if th == (score.Thresholds{}) {
			th = score.Default
		}
		if err := th.Validate(); err != nil {
			db.Close()
			return nil, fmt.Errorf("service: face thresholds: %w", err)
		}
		if faces, err = facematch.Open(facematch.DefaultQuality); err != nil {
			db.Close()
			return nil, fmt.Errorf("service: face check: %w", err)
		}
		check = intake.FaceCheck{Matcher: faces, Thresholds: th, CardPhotos: c.Face.CardPhotos}
	}
	closeAll := func() {
		if faces != nil {
			faces.Close()
		}
		db.Close()
	}
	devs := &devices{}
	rv := review.New(review.Options{Clock: c.Clock, Retention: c.Retention})
	in, err := intake.New(intake.Options{DataDir: c.DataDir, Devices: devs, Logger: c.Logger, Clock: c.Clock, Face: check, Reviews: rv})
	if err != nil {
		closeAll()
		return nil, err
	}
	repoDir := c.RepoDir
	reg := registry.New(db, p, registry.Options{
		IntakePublicKey:  in.IntakePublicKey(),
		ReceiptPublicKey: in.ReceiptPublicKey(),
		TUFRoot: func() []byte {
			b, err := os.ReadFile(filepath.Join(repoDir, "root.json"))
			if err != nil {
				return nil
			}
			return b
		},
		RequireAllowList: c.RequireAllowList,
		Clock:            c.Clock,
		Log:              c.Logger,
	})
	devs.mu.Lock()
	devs.r = reg
	devs.mu.Unlock()
	fl := fleet.New(db, devs, repoDir, c.Clock)
	fl.Log = c.Logger
	rv.SetSource(in)
	bd, err := binding.New(binding.Options{DataDir: c.DataDir, Receipts: intakeReceipts{in}, Status: reviewStatus{rv},
		Clock: c.Clock, Log: c.Logger})
	if err != nil {
		closeAll()
		return nil, err
	}
	srv, err := authority.NewServer(ctx, db, c.Logger, reg, in, fl, rv, bd)
	if err != nil {
		closeAll()
		return nil, err
	}
	met := metrics.New(metrics.Options{DB: db, Roster: Roster(reg), Enrolled: in.Count, RepoDir: repoDir,
		Clock: c.Clock, Version: c.Version})
	met.SetReviewQueue(reviewQueue{rv})
	return &Service{DB: db, PKI: p, Registry: reg, Intake: in, Fleet: fl, Review: rv, Binding: bd, Server: srv, RepoDir: repoDir,
		Faces: faces, Metrics: met, log: c.Logger, limits: c.Limits.withDefaults()}, nil
}

// reviewQueue gives the metrics the officers' queue: how many enrollments
// need a review and since when the oldest waits.
type reviewQueue struct{ s *review.Store }

func (q reviewQueue) ReviewStats(ctx context.Context) (metrics.ReviewStats, error) {
	c, err := q.s.Counts(ctx)
	if err != nil {
		return metrics.ReviewStats{}, err
	}
	st := metrics.ReviewStats{Depth: c[review.NeedsReview]}
	if st.Depth > 0 {
		oldest, err := q.s.Queue(ctx, review.NeedsReview, 1)
		if err != nil {
			return metrics.ReviewStats{}, err
		}
		if len(oldest) > 0 {
			st.Oldest = oldest[0].Since
		}
	}
	return st, nil
}

// Roster lists the registry's terminals for the fleet view.
func Roster(reg *registry.Registry) fleet.Roster {
	return func(ctx context.Context) ([]fleet.Registered, error) {
		devs, err := reg.Devices(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]fleet.Registered, 0, len(devs))
		for _, d := range devs {
			out = append(out, fleet.Registered{DeviceID: d.ID, Station: d.Station, Status: d.Status, Reason: d.Reason})
		}
		return out, nil
	}
}

// TLSConfig is the server's TLS 1.3 configuration with optional client
// certificates verified against the device CA.
func (s *Service) TLSConfig() *tls.Config { return s.PKI.ServerTLSConfig() }

// Serve serves HTTPS on ln until ctx is done, then shuts down gracefully.
// The connections of each client address and in total, and the time a
// request may take, are bounded by Config.Limits.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, s.Metrics.Middleware(s.Server.Handler()), s.TLSConfig())
}

// AdminTLSConfig is the review console's TLS 1.3 configuration: the
// authority's server certificate, no client certificates (officers log in
// with a password and a one-time code).
func (s *Service) AdminTLSConfig() *tls.Config {
	c := s.PKI.ServerTLSConfig()
	c.ClientAuth, c.ClientCAs = tls.NoClientCert, nil
	return c
}

// ServeAdmin serves the officers' review console over HTTPS on ln (keep it
// on loopback or an officers' network) until ctx is done; with a retention
// configured it removes decided enrollments' review material hourly.
func (s *Service) ServeAdmin(ctx context.Context, ln net.Listener) error {
	if s.Review.Retention() > 0 {
		go func() {
			t := time.NewTicker(time.Hour)
			defer t.Stop()
			for {
				if n, err := s.Review.Purge(ctx, "retention"); err != nil {
					s.log.Warn("service: review retention", "err", err)
				} else if n > 0 {
					s.log.Info("service: review material removed", "enrollments", n)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	return s.serve(ctx, ln, s.Review.Console(s.log), s.AdminTLSConfig())
}

func (s *Service) serve(ctx context.Context, ln net.Listener, h http.Handler, tc *tls.Config) error {
	l := s.limits
	ln = guard.Listen(ln, l.ConnsPerClient, l.Conns)
	hs := &http.Server{
		Handler:           h,
		TLSConfig:         tc,
		ReadHeaderTimeout: l.ReadHeader,
		ReadTimeout:       l.Read,
		WriteTimeout:      l.Write,
		IdleTimeout:       l.Idle,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("service: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
		<-errc
		return nil
	}
}

// Close stops the intake's background work, closes the database and frees
// the face models.
func (s *Service) Close() error {
	err := errors.Join(s.Intake.Close(), s.DB.Close())
	if s.Faces != nil {
		err = errors.Join(err, s.Faces.Close())
	}
	return err
}
