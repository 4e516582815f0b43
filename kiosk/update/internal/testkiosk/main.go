// Command testkiosk is a tiny stand-in for the kiosk binary, used by the
// update tests: it runs the real update agent, lease and heartbeat, with
// its version (and whether its self-test passes) set at link time:
//
//	go build -ldflags "-X main.version=2.0.0 -X main.healthy=no"
//
// With -launch it acts as the launcher (update.Exec), as `kioskctl update
// launch` does under systemd. A file named "visit" in the state directory
// stands for a citizen at the terminal: the visit lease is held while it
// exists.
//
// EIDKIOSK_TEST_STOP_AT=PHASE makes it send itself SIGTERM when its agent
// enters PHASE (downloading, installing, switching, trial), printing
// "SIGTERM in PHASE" to stderr first: a stop at an exact moment of the
// update, as systemd would send it.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"eidkiosk/fleetproto"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/heartbeat"
	"eidkiosk/kiosk/lease"
	"eidkiosk/kiosk/update"
	"eidkiosk/provisioning"
)

var (
	version = "0.0.0"
	healthy = "yes"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testkiosk:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		state, repo, root, ca, cert, key, authority, device string
		identity, channel                                   string
		launch, showVersion                                 bool
		poll, window, checkDelay                            time.Duration
	)
	flag.StringVar(&state, "state", "", "state directory")
	flag.StringVar(&repo, "repo", "", "TUF repository URL or directory")
	flag.StringVar(&root, "root", "", "trusted root.json")
	flag.StringVar(&ca, "ca", "", "CA certificate (PEM) of the authority")
	flag.StringVar(&cert, "cert", "", "client certificate (PEM)")
	flag.StringVar(&key, "key", "", "client key (PEM)")
	flag.StringVar(&authority, "authority", "", "authority URL for heartbeats")
	flag.StringVar(&device, "device", "DEV-1", "device ID (rollout cohort)")
	flag.StringVar(&identity, "identity", "", "a provisioned state directory: authority, repository, root.json, mTLS and device ID from its identity")
	flag.StringVar(&channel, "channel", "stable", "update channel")
	flag.BoolVar(&launch, "launch", false, "act as the launcher")
	flag.BoolVar(&showVersion, "version", false, "print the version and exit")
	flag.DurationVar(&poll, "poll", 200*time.Millisecond, "poll interval")
	flag.DurationVar(&window, "window", 3*time.Second, "health window")
	flag.DurationVar(&checkDelay, "check-delay", 0, "how long the self-test takes")
	flag.Parse()
	if showVersion {
		fmt.Println(version)
		return nil
	}
	if launch {
		return update.Exec(state, flag.Args(), nil)
	}
	f, err := os.OpenFile(filepath.Join(state, "starts.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "%s %s %d\n", version, update.RunningSlot(state), os.Getpid())
	f.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var rootJSON []byte
	client := http.DefaultClient
	if identity != "" {
		id, err := provisioning.LoadIdentity(identity)
		if err != nil {
			return err
		}
		defer id.Close()
		rootJSON, device, authority, repo = id.TUFRoot, id.DeviceID, id.AuthorityURL, id.AuthorityURL+"/tuf/"
		client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: id.TLSConfig()}}
	} else if rootJSON, err = os.ReadFile(root); err != nil {
		return err
	}
	if ca != "" {
		pool := x509.NewCertPool()
		pem, err := os.ReadFile(ca)
		if err != nil {
			return err
		}
		pool.AppendCertsFromPEM(pem)
		kp, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return err
		}
		client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{kp}}}}
	}
	ls := lease.New(clock.Real{}, 30*time.Second)
	go func() {
		for ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(state, "visit")); err == nil {
				ls.TryAcquire(lease.Visit)
			} else {
				ls.Release(lease.Visit)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	selftest := func(ctx context.Context) error {
		select {
		case <-time.After(checkDelay):
		case <-ctx.Done():
			return ctx.Err()
		}
		if healthy != "yes" {
			return errors.New("self-test failed")
		}
		return nil
	}
	hb := &heartbeat.Sender{Authority: authority, Client: client, Interval: 300 * time.Millisecond}
	onStatus := update.OnMilestone(hb.Kick)
	if stop := stopAt(os.Getenv("EIDKIOSK_TEST_STOP_AT")); stop != nil {
		onStatus = func(s update.Status) { stop(s) }
	}
	agent, err := update.New(update.Options{
		StateDir: state, TrustedRoot: rootJSON, RepoURL: repo, Client: client,
		Version: version, DeviceID: device, Channel: channel,
		PollInterval: poll, HealthWindow: window, CheckEvery: 50 * time.Millisecond,
		Lease: ls, Checks: []update.Check{{Name: "selftest", Run: selftest}},
		OnStatus: onStatus,
	})
	if err != nil {
		return err
	}
	if authority != "" {
		hb.OnAnswer = func(a fleetproto.Answer) {
			if a.CheckUpdate {
				agent.CheckNow()
			}
		}
		hb.Collect = func() fleetproto.Report {
			s := agent.Status()
			ln := ls.Snapshot()
			return fleetproto.Report{Version: s.Version, Slot: s.Slot, Channel: s.Channel, Healthy: s.Healthy,
				Update: s.Heartbeat(), Lease: fleetproto.Lease{Holder: ln.Holder, Expiry: ln.Expiry}}
		}
		go hb.Run(ctx)
	}
	err = agent.Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// stopAt returns an OnStatus that sends the process SIGTERM once, when the
// agent enters phase ("" or unknown: never).
func stopAt(phase string) func(update.Status) {
	if phase == "" {
		return nil
	}
	var once sync.Once
	return func(s update.Status) {
		if string(s.Phase) == phase {
			once.Do(func() {
				fmt.Fprintf(os.Stderr, "SIGTERM in %s\n", phase)
				syscall.Kill(os.Getpid(), syscall.SIGTERM)
			})
		}
	}
}
