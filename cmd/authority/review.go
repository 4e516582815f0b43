package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"eidkiosk/authority/review"
	"eidkiosk/authority/service"
	"eidkiosk/internal/cli"
)

// stdin is where `officer add` reads the password (a test replaces it).
var stdin io.Reader = os.Stdin

func init() {
	var data, dsn, reason, note, actor string
	var asJSON bool
	var limit int
	var retention time.Duration
	storeFlags := func(fs *flag.FlagSet) {
		fs.StringVar(&data, "data", defaultData, "data directory: keys, PKI and the SQLite store")
		fs.StringVar(&dsn, "db", "", "PostgreSQL URL (postgres://…); empty: SQLite in --data")
	}
	actorFlags := func(fs *flag.FlagSet) {
		storeFlags(fs)
		fs.StringVar(&actor, "officer", "", "the officer deciding, for the record (default: operator:$USER)")
	}
	// withReview opens the authority's store without the face models.
	withReview := func(ctx context.Context, f func(*review.Store) error) error {
		svc, err := service.Open(ctx, service.Config{DataDir: data, DB: dsn, Logger: slog.New(slog.DiscardHandler),
			Face: service.FaceConfig{Off: true}, Retention: retention})
		if err != nil {
			return err
		}
		defer svc.Close()
		return f(svc.Review)
	}
	who := func() string {
		if actor != "" {
			return actor
		}
		return operator()
	}
	oneID := func(cmd string, args []string) error {
		if len(args) != 1 {
			fmt.Fprintf(app.Stderr, "review %s: give one enrollment ID (see `eidkiosk-authority review list`)\n", cmd)
			return cli.ErrUsage
		}
		return nil
	}
	app.Register(&cli.Command{
		Name:    "review list",
		Summary: "the enrollments waiting for an officer (needs_review), oldest first, with the counts per status",
		Flags: func(fs *flag.FlagSet) {
			storeFlags(fs)
			fs.BoolVar(&asJSON, "json", false, "print JSON: {\"counts\":…, \"queue\":[…]}")
			fs.IntVar(&limit, "limit", 200, "at most this many")
		},
		Run: func(ctx context.Context, args []string) error {
			return withReview(ctx, func(s *review.Store) error {
				q, err := s.Queue(ctx, review.NeedsReview, limit)
				if err != nil {
					return err
				}
				c, err := s.Counts(ctx)
				if err != nil {
					return err
				}
				return review.WriteQueue(app.Stdout, q, c, asJSON)
			})
		},
	}, &cli.Command{
		Name:    "review show",
		Summary: "one enrollment as an officer reviews it: status, flags, scores, liveness, quality, history (number masked; audited)",
		Usage:   "ID|SHORT",
		Flags:   actorFlags,
		Run: func(ctx context.Context, args []string) error {
			if err := oneID("show", args); err != nil {
				return err
			}
			return withReview(ctx, func(s *review.Store) error {
				c, err := s.Case(ctx, args[0], who())
				if err != nil {
					return err
				}
				return review.WriteCase(app.Stdout, c)
			})
		},
	}, &cli.Command{
		Name:    "review approve",
		Summary: "approve an enrollment waiting for review (needs_review → approved)",
		Usage:   "ID",
		Flags: func(fs *flag.FlagSet) {
			actorFlags(fs)
			fs.StringVar(&note, "note", "", "free text for the record")
		},
		Run: func(ctx context.Context, args []string) error {
			if err := oneID("approve", args); err != nil {
				return err
			}
			return withReview(ctx, func(s *review.Store) error {
				if err := s.Approve(ctx, args[0], who(), note); err != nil {
					return err
				}
				fmt.Fprintf(app.Stdout, "%s approved\n", args[0])
				return nil
			})
		},
	}, &cli.Command{
		Name:    "review reject",
		Summary: "reject an enrollment waiting for review (needs_review → rejected) with a reason code",
		Usage:   "ID",
		Flags: func(fs *flag.FlagSet) {
			actorFlags(fs)
			fs.StringVar(&reason, "reason", "", "reason code: "+strings.Join(review.RejectReasons, ", "))
			fs.StringVar(&note, "note", "", "free text for the record (required with --reason other)")
		},
		Run: func(ctx context.Context, args []string) error {
			if err := oneID("reject", args); err != nil {
				return err
			}
			return withReview(ctx, func(s *review.Store) error {
				if err := s.Reject(ctx, args[0], who(), reason, note); err != nil {
					return err
				}
				fmt.Fprintf(app.Stdout, "%s rejected (%s)\n", args[0], reason)
				return nil
			})
		},
	}, &cli.Command{
		Name:    "review audit",
		Summary: "print the officers' audit log: logins, views, addresses revealed, decisions, account changes, purges",
		Flags: func(fs *flag.FlagSet) {
			storeFlags(fs)
			fs.IntVar(&limit, "limit", 50, "how many of the newest entries to print")
		},
		Run: func(ctx context.Context, args []string) error {
			return withReview(ctx, func(s *review.Store) error {
				es, err := s.Audit(ctx, limit)
				if err != nil {
					return err
				}
				return review.WriteAudit(app.Stdout, es)
			})
		},
	}, &cli.Command{
		Name:    "review purge",
		Summary: "remove the review material of enrollments decided more than --retention ago (the console says so)",
		Flags: func(fs *flag.FlagSet) {
			storeFlags(fs)
			fs.DurationVar(&retention, "retention", 30*24*time.Hour, "keep review material this long after the decision")
		},
		Run: func(ctx context.Context, args []string) error {
			return withReview(ctx, func(s *review.Store) error {
				n, err := s.Purge(ctx, operator())
				if err != nil {
					return err
				}
				fmt.Fprintf(app.Stdout, "review material removed from %d decided enrollments\n", n)
				return nil
			})
		},
	}, &cli.Command{
		Name:    "officer add",
		Summary: "create a review officer: reads the password (12+ characters) from standard input, prints the TOTP secret once",
		Usage:   "NAME",
		Flags:   storeFlags,
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				fmt.Fprintln(app.Stderr, "officer add: give one officer NAME, and the password on standard input")
				return cli.ErrUsage
			}
			pw, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && pw == "" {
				return fmt.Errorf("officer add: read the password from standard input: %w", err)
			}
			return withReview(ctx, func(s *review.Store) error {
				key, err := s.AddOfficer(ctx, args[0], strings.TrimRight(pw, "\r\n"), operator())
				if err != nil {
					return err
				}
				fmt.Fprintf(app.Stdout, "officer %s added\nTOTP secret (enter it in the officer's authenticator app; shown once): %s\n%s\n",
					args[0], key.Secret(), key.URL())
				return nil
			})
		},
	}, &cli.Command{
		Name:    "officer disable",
		Summary: "disable a review officer; their open sessions end at once",
		Usage:   "NAME",
		Flags:   storeFlags,
		Run: func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				fmt.Fprintln(app.Stderr, "officer disable: give one officer NAME (see `eidkiosk-authority officer list`)")
				return cli.ErrUsage
			}
			return withReview(ctx, func(s *review.Store) error {
				if err := s.DisableOfficer(ctx, args[0], operator()); err != nil {
					return err
				}
				fmt.Fprintf(app.Stdout, "officer %s disabled\n", args[0])
				return nil
			})
		},
	}, &cli.Command{
		Name:    "officer list",
		Summary: "list the review officers: active, locked or disabled",
		Flags:   storeFlags,
		Run: func(ctx context.Context, args []string) error {
			return withReview(ctx, func(s *review.Store) error {
				os, err := s.Officers(ctx)
				if err != nil {
					return err
				}
				return review.WriteOfficers(app.Stdout, os)
			})
		},
	})
}
