package authority

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Server mounts the authority's modules on one HTTP handler. Its TLS
// configuration (mTLS against the device CA, optional client certificates
// for provisioning) is the caller's: Server only routes.
type Server struct {
	db      *DB
	log     *slog.Logger
	modules []Module
	mux     *http.ServeMux
}

// NewServer migrates every module's tables, in order, and registers their
// routes, plus GET /healthz.
func NewServer(ctx context.Context, db *DB, logger *slog.Logger, modules ...Module) (*Server, error) {
	if db == nil {
		return nil, errors.New("authority: no database")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{db: db, log: logger, modules: modules, mux: http.NewServeMux()}
	for _, m := range modules {
		if err := m.Migrate(ctx, db); err != nil {
			return nil, fmt.Errorf("authority: migrate %s: %w", m.Name(), err)
		}
	}
	for _, m := range modules {
		m.Routes(s.mux)
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := db.PingContext(r.Context()); err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	return s, nil
}

// Handler returns the server's handler: the modules' routes behind a
// middleware that recovers panics and logs method, route, status and
// duration (never bodies, query strings or headers).
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("authority: handler panic", "route", r.Pattern, "panic", fmt.Sprintf("%T", v))
				if !rw.wrote {
					http.Error(rw, "internal error", http.StatusInternalServerError)
				}
			}
			s.log.Debug("authority: request", "method", r.Method, "route", r.Pattern,
				"status", rw.status, "duration", time.Since(start))
		}()
		s.mux.ServeHTTP(rw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
