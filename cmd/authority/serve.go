package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"eidkiosk/authority/service"
	"eidkiosk/facematch/score"
	"eidkiosk/internal/cli"
	"eidkiosk/internal/logging"
	"eidkiosk/kiosk/sdnotify"
)

func init() {
	var addr, adminAddr, metricsAddr, data, dsn, hosts, repo, logFormat, logLevel string
	var allowList, noFace bool
	var retention time.Duration
	faceTh := score.Default
	app.Register(&cli.Command{
		Name:    "serve",
		Summary: "run the authority: provisioning, enrollment intake, fleet view and update repository over HTTPS",
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&addr, "addr", "127.0.0.1:8443", "HOST:PORT to listen on")
			fs.StringVar(&adminAddr, "admin-addr", "127.0.0.1:8444", "HOST:PORT of the officers' review console (TLS, own listener; keep it on loopback); empty: no console")
			fs.StringVar(&metricsAddr, "metrics-addr", "", "HOST:PORT serving Prometheus metrics over plain HTTP (/metrics; loopback or a management network); empty: off")
			fs.DurationVar(&retention, "retention", 0, "remove review material (portrait, photos, evidence) this long after an officer's decision; 0: keep")
			fs.StringVar(&data, "data", defaultData, "data directory: keys, PKI and the SQLite store")
			fs.StringVar(&dsn, "db", "", "PostgreSQL URL (postgres://…) shared by several intake replicas; empty: SQLite in --data")
			fs.StringVar(&hosts, "hosts", "127.0.0.1,localhost", "comma-separated names and IPs for the server certificate")
			fs.StringVar(&repo, "repo", "", "TUF repository directory served under /tuf/; empty: DATA/tuf")
			fs.BoolVar(&allowList, "require-allow-list", false, "refuse terminals whose serial is not on the procurement allow-list")
			fs.BoolVar(&noFace, "no-face-check", false, "do not compare enrollments' faces with the reference photos (no models loaded)")
			fs.Float64Var(&faceTh.Match, "face-match", score.Default.Match, "face scores at or above: match (docs/matching.md)")
			fs.Float64Var(&faceTh.Refer, "face-refer", score.Default.Refer, "face scores at or above, below --face-match: flagged face_refer; below: face_mismatch")
			fs.StringVar(&logFormat, "log-format", "auto", "log format: auto, text or json")
			fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
		},
		Run: func(ctx context.Context, args []string) error {
			log, _ := logging.New(logging.Options{Format: logFormat, Level: logLevel}, app.Stderr)
			svc, err := service.Open(ctx, service.Config{
				DataDir: data, DB: dsn, Hosts: strings.Split(hosts, ","), RepoDir: repo,
				Logger: log, RequireAllowList: allowList,
				Face: service.FaceConfig{Off: noFace, Thresholds: faceTh}, Retention: retention, Version: buildVersion(),
			})
			if err != nil {
				return err
			}
			defer svc.Close()
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			var mln net.Listener
			if metricsAddr != "" {
				if mln, err = net.Listen("tcp", metricsAddr); err != nil {
					ln.Close()
					return fmt.Errorf("listen for metrics: %w", err)
				}
				log.Info("authority metrics serving", "addr", mln.Addr().String())
				fmt.Fprintf(app.Stdout, "metrics: http://%s/metrics\n", mln.Addr())
			}
			log.Info("authority serving", "addr", ln.Addr().String(), "db", string(svc.DB.Dialect),
				"root_ca_sha256", svc.PKI.RootFingerprint())
			fmt.Fprintf(app.Stdout, "authority: https://%s (root CA SHA-256 %s)\n", ln.Addr(), svc.PKI.RootFingerprint())
			// Type=notify: the unit is active once the port accepts connections.
			n := sdnotify.New()
			if err := n.Ready("serving on " + ln.Addr().String()); err != nil {
				log.Warn("systemd notification failed", "err", err)
			}
			defer n.Stopping()
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			var side []chan error // the console's and the metrics' servers
			if adminAddr != "" {
				aln, err := net.Listen("tcp", adminAddr)
				if err != nil {
					ln.Close()
					if mln != nil {
						mln.Close()
					}
					return fmt.Errorf("listen (review console): %w", err)
				}
				fmt.Fprintf(app.Stdout, "review console: https://%s/\n", aln.Addr())
				errc := make(chan error, 1)
				go func() { errc <- svc.ServeAdmin(ctx, aln) }()
				side = append(side, errc)
			}
			if mln != nil {
				errc := make(chan error, 1)
				go func() { errc <- svc.Metrics.Serve(ctx, mln) }()
				side = append(side, errc)
			}
			err = svc.Serve(ctx, ln)
			cancel()
			for _, errc := range side {
				if serr := <-errc; !errors.Is(serr, context.Canceled) {
					err = errors.Join(err, serr)
				}
			}
			return err
		},
	})
}

// buildVersion is the module version the binary was built from ("(devel)"
// in a source tree), for the metrics' build info.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return ""
}
