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
	"eidkiosk/authority/intake"
	"eidkiosk/authority/metrics"
	"eidkiosk/authority/pki"
	"eidkiosk/authority/registry"
	"eidkiosk/authority/review"
	"eidkiosk/facematch"
	"eidkiosk/facematch/score"
	"eidkiosk/internal/clock"
)

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
	// Retention is how long review material stays reviewable after an
	// officer's decision (0: kept); see review.Options.
	Retention time.Duration
	// Version is the authority's build, for its metrics.
	Version string
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
	return &Service{DB: db, PKI: p, Registry: reg, Intake: in, Fleet: fl, Review: rv, Binding: bd, Server: srv, RepoDir: repoDir,
		Faces: faces, Metrics: met, log: c.Logger}, nil
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
	hs := &http.Server{
		Handler:           h,
		TLSConfig:         tc,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
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
