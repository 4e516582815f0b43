package provisioning_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2/transport"

	"eidkiosk/authority/pki"
	"eidkiosk/authority/registry"
	"eidkiosk/authority/registry/registrytest"
	"eidkiosk/internal/clock"
	"eidkiosk/provisioning"
	"eidkiosk/provisioning/devkey"
	"eidkiosk/provisioning/protocol"
)

const station = "NS-PSB-001"

// startAuthority runs a registry with a small mTLS-protected handler that
// stands in for the intake: it accepts a request when Authorize accepts the
// client certificate.
func startAuthority(t testing.TB, o registrytest.Options) *registrytest.Authority {
	a := registrytest.Start(t, o)
	a.Mux.HandleFunc("POST /test/intake", func(w http.ResponseWriter, r *http.Request) {
		id, st, err := a.Registry.Authorize(r.Context(), registry.PeerCertificate(r))
		if err != nil {
			registry.WriteRefusal(w, err)
			return
		}
		io.WriteString(w, "accepted "+id+" "+st)
	})
	return a
}

func provision(t testing.TB, a *registrytest.Authority, o provisioning.ProvisionOptions) (*provisioning.Identity, provisioning.Result, error) {
	t.Helper()
	if o.AuthorityURL == "" {
		o.AuthorityURL = a.URL
	}
	if o.StateDir == "" {
		o.StateDir = t.TempDir()
	}
	if o.CAFingerprint == "" && o.Confirm == nil && !o.AssumeYes {
		o.CAFingerprint = a.PKI.RootFingerprint()
	}
	if o.Key == "" {
		o.Key = provisioning.KeyFile
	}
	if o.Serial == "" {
		o.Serial = "SN-TEST-0001"
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return provisioning.Provision(context.Background(), o)
}

// intake posts to the test intake with the identity's mTLS configuration.
func intake(t *testing.T, id *provisioning.Identity, a *registrytest.Authority) (int, string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: id.TLSConfig()}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post(a.URL+"/test/intake", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	a := startAuthority(t, registrytest.Options{})
	tok := a.Token(t, station, 24*time.Hour)
	state := t.TempDir()
	var steps []string
	id, res, err := provision(t, a, provisioning.ProvisionOptions{
		Token: tok, StateDir: state, Station: station,
		Progress: func(s string) { steps = append(steps, s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("complete provisioning on loopback (file key) took %v", res.Took)
	t.Logf("steps:\n  %s", strings.Join(steps, "\n  "))
	if res.StationID != station || !strings.HasPrefix(res.DeviceID, "KT-") || res.Fingerprint != a.PKI.RootFingerprint() {
		t.Fatalf("result %+v", res)
	}
	id.Close()

	// The kiosk loads its identity at start.
	id, err = provisioning.LoadIdentity(state)
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	if id.DeviceID != res.DeviceID || id.StationID != station || id.StationName != "Test station "+station {
		t.Fatalf("identity %s %s %q", id.DeviceID, id.StationID, id.StationName)
	}
	if len(id.IntakePublicKey) != 32 || len(id.ReceiptPublicKey) != 32 || !strings.Contains(string(id.TUFRoot), `"root"`) {
		t.Fatalf("bundle keys: intake %d, receipt %d, tuf %q", len(id.IntakePublicKey), len(id.ReceiptPublicKey), id.TUFRoot)
	}
	if !id.Root.Equal(a.PKI.Root()) || len(id.Chain) != 2 || id.Chain[0].Subject.CommonName != id.DeviceID {
		t.Fatal("chain or root do not match the authority's")
	}
	if fi, _ := os.Stat(filepath.Join(state, "identity", provisioning.KeyFileName)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", fi.Mode().Perm())
	}
	if tc := id.TLSCertificate(); len(tc.Certificate) != 2 || tc.PrivateKey == nil {
		t.Fatal("TLSCertificate incomplete")
	}

	// An mTLS request is accepted with the new certificate.
	code, body := intake(t, id, a)
	if code != http.StatusOK || body != "accepted "+id.DeviceID+" "+station {
		t.Fatalf("intake: %d %q", code, body)
	}
	p, err := provisioning.NewClient(id, "").Ping(context.Background())
	if err != nil || p.DeviceID != id.DeviceID {
		t.Fatalf("ping %+v %v", p, err)
	}

	// City IT revokes the terminal: refused, with a reason the kiosk shows.
	if err := a.Registry.Revoke(context.Background(), id.DeviceID, "stolen", "test"); err != nil {
		t.Fatal(err)
	}
	code, body = intake(t, id, a)
	if code != http.StatusForbidden || !strings.Contains(body, `"reason":"revoked"`) || !strings.Contains(body, "terminal disabled, call IT") {
		t.Fatalf("after revoke: %d %s", code, body)
	}
	_, err = provisioning.NewClient(id, "").Ping(context.Background())
	if !errors.Is(err, protocol.ErrRevoked) || !protocol.Disabled(err) {
		t.Fatalf("ping after revoke: %v", err)
	}
	_, _, err = a.Registry.Authorize(context.Background(), id.Chain[0])
	if !errors.Is(err, registry.ErrRevoked) {
		t.Fatalf("Authorize after revoke: %v", err)
	}

	// Both sides audited every step.
	kiosk, err := provisioning.ReadAudit(state)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, e := range kiosk {
		events = append(events, e.Event)
	}
	if got := strings.Join(events, ","); got != "provision.start,ca.pinned,provision.done" {
		t.Fatalf("kiosk audit: %s", got)
	}
	auth, err := a.Registry.Audit(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	events = events[:0]
	for _, e := range auth {
		events = append(events, e.Action)
	}
	if got := strings.Join(events, ","); got != "token.create,provision,revoke" {
		t.Fatalf("authority audit: %s", got)
	}
}

func TestTokenRefusals(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Now())
	a := startAuthority(t, registrytest.Options{})
	b := startAuthority(t, registrytest.Options{Registry: registry.Options{Clock: fake}})

	used := a.Token(t, station, time.Hour)
	if _, _, err := provision(t, a, provisioning.ProvisionOptions{Token: used}); err != nil {
		t.Fatal(err)
	}
	expired := b.Token(t, station, time.Hour)
	fake.Advance(2 * time.Hour)

	for _, c := range []struct {
		name    string
		a       *registrytest.Authority
		o       provisioning.ProvisionOptions
		want    error
		message string
	}{
		{"reused", a, provisioning.ProvisionOptions{Token: used}, protocol.ErrTokenUsed, "already used"},
		{"reused-lowercase-typed", a, provisioning.ProvisionOptions{Token: strings.ToLower(strings.ReplaceAll(used, "-", " "))}, protocol.ErrTokenUsed, "already used"},
		{"expired", b, provisioning.ProvisionOptions{Token: expired}, protocol.ErrTokenExpired, "expired on"},
		{"wrong-station", a, provisioning.ProvisionOptions{Token: a.Token(t, station, time.Hour), Station: "NS-PSB-002"},
			protocol.ErrWrongStation, "is for station NS-PSB-001, but this terminal is being installed for station NS-PSB-002"},
		{"unknown", a, provisioning.ProvisionOptions{Token: "0000-1111-2222-3333-4444-5555-6666-7777"}, protocol.ErrTokenUnknown, "not known to the authority"},
	} {
		t.Run(c.name, func(t *testing.T) {
			state := t.TempDir()
			c.o.StateDir = state
			_, _, err := provision(t, c.a, c.o)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.message) {
				t.Fatalf("err = %v, want %v with %q", err, c.want, c.message)
			}
			if _, err := provisioning.LoadIdentity(state); !errors.Is(err, provisioning.ErrNotProvisioned) {
				t.Fatalf("a refused provisioning left an identity: %v", err)
			}
			if _, err := os.Stat(filepath.Join(state, "identity", provisioning.KeyFileName)); !os.IsNotExist(err) {
				t.Fatalf("a refused provisioning left its key: %v", err)
			}
		})
	}
	// The wrong-station token was not consumed: it still works for its station.
}

func TestSerialAllowList(t *testing.T) {
	t.Parallel()
	a := startAuthority(t, registrytest.Options{})
	ctx := context.Background()
	if err := a.Registry.AllowSerial(ctx, "SN-OK", "batch 1", "test"); err != nil {
		t.Fatal(err)
	}
	tok := a.Token(t, station, time.Hour)
	_, _, err := provision(t, a, provisioning.ProvisionOptions{Token: tok, Serial: "SN-UNKNOWN"})
	if !errors.Is(err, protocol.ErrSerialNotAllowed) || !strings.Contains(err.Error(), "allow-list") {
		t.Fatalf("err = %v", err)
	}
	// The refusal did not burn the token.
	id, _, err := provision(t, a, provisioning.ProvisionOptions{Token: tok, Serial: "SN-OK"})
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	devs, _ := a.Registry.Devices(ctx)
	if len(devs) != 1 || devs[0].Serial != "SN-OK" || devs[0].KeyKind != protocol.KeyFile {
		t.Fatalf("devices %+v", devs)
	}
}

// The same serial provisioned again is refused while its terminal is
// active; city IT's --replace (Registry.Replace) lets it through, and the
// replaced terminal is told why.
func TestReprovisionSameSerialNeedsReplace(t *testing.T) {
	t.Parallel()
	a := startAuthority(t, registrytest.Options{})
	first, _, err := provision(t, a, provisioning.ProvisionOptions{Token: a.Token(t, station, time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	_, _, err = provision(t, a, provisioning.ProvisionOptions{Token: a.Token(t, station, time.Hour)})
	if !errors.Is(err, protocol.ErrSerialActive) || !strings.Contains(err.Error(), "--replace "+first.DeviceID) {
		t.Fatalf("a second provisioning of an active serial: %v", err)
	}
	if _, _, err := a.Registry.Authorize(context.Background(), first.Chain[0]); err != nil {
		t.Fatalf("the active terminal after a refused second provisioning: %v", err)
	}
	if err := a.Registry.Replace(context.Background(), first.DeviceID, "disk swapped, ticket 4711", "operator:it"); err != nil {
		t.Fatal(err)
	}
	second, _, err := provision(t, a, provisioning.ProvisionOptions{Token: a.Token(t, station, time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	_, _, err = a.Registry.Authorize(context.Background(), first.Chain[0])
	if !errors.Is(err, protocol.ErrReplaced) || !protocol.Disabled(err) || !strings.Contains(err.Error(), "disk swapped, ticket 4711") {
		t.Fatalf("old identity of the replaced box: %v", err)
	}
	// It is told why over the wire, too.
	if code, body := intake(t, first, a); code != http.StatusForbidden || !strings.Contains(body, "disk swapped") || !strings.Contains(body, "replaced") {
		t.Fatalf("replaced terminal's request: %d %s", code, body)
	}
	if _, _, err := a.Registry.Authorize(context.Background(), second.Chain[0]); err != nil {
		t.Fatal(err)
	}
}

// Two boxes cloned from one disk (same machine ID, no TPM, no hardware
// serial) get different serials, so neither replaces the other.
func TestClonedBoxesGetDifferentSerials(t *testing.T) {
	dir := t.TempDir()
	mid := filepath.Join(dir, "machine-id")
	os.WriteFile(mid, []byte("0123456789abcdef0123456789abcdef\n"), 0o444)
	oldSrc, oldMid := provisioning.SerialSources, provisioning.MachineIDPath
	provisioning.SerialSources, provisioning.MachineIDPath = []string{filepath.Join(dir, "no-smbios")}, mid
	defer func() { provisioning.SerialSources, provisioning.MachineIDPath = oldSrc, oldMid }()
	a := startAuthority(t, registrytest.Options{})
	noTPM := func() (transport.TPMCloser, error) { return nil, devkey.ErrNoTPM }
	var serials []string
	for i := 0; i < 2; i++ {
		state := t.TempDir()
		id, _, err := provisioning.Provision(context.Background(), provisioning.ProvisionOptions{AuthorityURL: a.URL,
			Token: a.Token(t, station, time.Hour), StateDir: state, CAFingerprint: a.PKI.RootFingerprint(), Key: provisioning.KeyFile,
			Options: provisioning.Options{OpenTPM: noTPM}, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatalf("clone %d: %v", i, err)
		}
		defer id.Close()
		s, err := provisioning.RecordedSerial(state)
		if err != nil || !strings.HasPrefix(s, "box:") || strings.Contains(s, "0123456789abcdef") {
			t.Fatalf("clone %d serial %q %v", i, s, err)
		}
		serials = append(serials, s)
	}
	if serials[0] == serials[1] {
		t.Fatalf("cloned boxes share serial %s", serials[0])
	}
	devs, _ := a.Registry.Devices(context.Background())
	for _, d := range devs {
		if d.Status != registry.StatusActive {
			t.Fatalf("a clone replaced the other: %+v", devs)
		}
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	a := startAuthority(t, registrytest.Options{})
	tok := a.Token(t, station, time.Hour)
	state := t.TempDir()
	_, _, err := provision(t, a, provisioning.ProvisionOptions{Token: tok, StateDir: state, CAFingerprint: strings.Repeat("ab", 32)})
	if !errors.Is(err, provisioning.ErrFingerprint) || !strings.Contains(err.Error(), "does not match the pinned") {
		t.Fatalf("pinned mismatch: %v", err)
	}
	var shown string
	_, _, err = provision(t, a, provisioning.ProvisionOptions{Token: tok, StateDir: state,
		Confirm: func(fp string, root *x509.Certificate) (bool, error) { shown = fp; return false, nil }})
	if !errors.Is(err, provisioning.ErrFingerprint) || shown != a.PKI.RootFingerprint() {
		t.Fatalf("declined: %v (shown %q)", err, shown)
	}
	// Colons and upper case in a pinned fingerprint are fine; the token was not used above.
	fp := strings.ToUpper(a.PKI.RootFingerprint())
	var colon []string
	for i := 0; i < len(fp); i += 2 {
		colon = append(colon, fp[i:i+2])
	}
	id, _, err := provision(t, a, provisioning.ProvisionOptions{Token: tok, StateDir: state, CAFingerprint: strings.Join(colon, ":")})
	if err != nil {
		t.Fatal(err)
	}
	id.Close()
	// Provisioning twice is refused.
	_, _, err = provision(t, a, provisioning.ProvisionOptions{Token: a.Token(t, station, time.Hour), StateDir: state})
	if !errors.Is(err, provisioning.ErrAlreadyProvisioned) {
		t.Fatalf("second provisioning: %v", err)
	}
}

func TestAssumeYesIsAudited(t *testing.T) {
	t.Parallel()
	a := startAuthority(t, registrytest.Options{})
	state := t.TempDir()
	id, _, err := provision(t, a, provisioning.ProvisionOptions{Token: a.Token(t, station, time.Hour), StateDir: state, AssumeYes: true})
	if err != nil {
		t.Fatal(err)
	}
	id.Close()
	log, _ := provisioning.ReadAudit(state)
	if len(log) < 2 || log[1].Event != "ca.assumed" || !strings.Contains(log[1].Detail, "--yes") {
		t.Fatalf("audit %+v", log)
	}
}

func TestLooseKeyPermissionsRefusedAtStart(t *testing.T) {
	t.Parallel()
	a := startAuthority(t, registrytest.Options{})
	state := t.TempDir()
	id, _, err := provision(t, a, provisioning.ProvisionOptions{Token: a.Token(t, station, time.Hour), StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	id.Close()
	key := filepath.Join(state, "identity", provisioning.KeyFileName)
	os.Chmod(key, 0o644)
	_, err = provisioning.LoadIdentity(state)
	if !errors.Is(err, provisioning.ErrKeyPermissions) || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("err = %v", err)
	}
}

func TestNotProvisionedAndCorrupt(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	if _, err := provisioning.LoadIdentity(state); !errors.Is(err, provisioning.ErrNotProvisioned) {
		t.Fatalf("empty: %v", err)
	}
	a := startAuthority(t, registrytest.Options{})
	id, _, err := provision(t, a, provisioning.ProvisionOptions{Token: a.Token(t, station, time.Hour), StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	id.Close()
	bundle := filepath.Join(state, "identity", provisioning.BundleFile)
	b, _ := os.ReadFile(bundle)
	os.WriteFile(bundle, b[:len(b)/2], 0o600) // torn write (cannot happen through atomicfile, but disks lie)
	if _, err := provisioning.LoadIdentity(state); !errors.Is(err, provisioning.ErrCorrupt) {
		t.Fatalf("torn bundle: %v", err)
	}
	os.WriteFile(bundle, b, 0o600)
	os.Remove(filepath.Join(state, "identity", provisioning.KeyFileName))
	if _, err := provisioning.LoadIdentity(state); !errors.Is(err, provisioning.ErrCorrupt) || !strings.Contains(err.Error(), "key is missing") {
		t.Fatalf("missing key: %v", err)
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, _, err := provisioning.Provision(context.Background(), provisioning.ProvisionOptions{
		AuthorityURL: "https://" + addr, Token: "X", StateDir: t.TempDir(), AssumeYes: true, Serial: "S", Key: provisioning.KeyFile,
	})
	if !errors.Is(err, provisioning.ErrUnreachable) || !strings.Contains(err.Error(), "check the network") {
		t.Fatalf("err = %v", err)
	}
}

func TestRenewal(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Now())
	a := startAuthority(t, registrytest.Options{Registry: registry.Options{Clock: fake}})
	state := t.TempDir()
	id, _, err := provision(t, a, provisioning.ProvisionOptions{Token: a.Token(t, station, time.Hour), StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	old := id.Certificate()
	kioskClock := clock.NewFake(time.Now())
	r := &provisioning.Renewer{Identity: id, Clock: kioskClock}
	if renewed, err := r.Check(context.Background()); renewed || err != nil {
		t.Fatalf("renewed a fresh certificate: %v %v", renewed, err)
	}
	kioskClock.Advance(61 * 24 * time.Hour) // less than a third of 90 days left
	if !r.Due() {
		t.Fatal("not due with 29 days left")
	}
	if renewed, err := r.Check(context.Background()); !renewed || err != nil {
		t.Fatalf("renew: %v %v", renewed, err)
	}
	next := id.Certificate()
	if next.SerialNumber.Cmp(old.SerialNumber) == 0 || next.NotAfter.Before(old.NotAfter) {
		t.Fatal("certificate not replaced")
	}
	// The new certificate is on disk and works; the old one works for a grace period.
	again, err := provisioning.LoadIdentity(state)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Certificate().Equal(next) {
		t.Fatal("renewed certificate not stored")
	}
	again.Close()
	if code, body := intake(t, id, a); code != http.StatusOK {
		t.Fatalf("new certificate refused: %d %s", code, body)
	}
	if _, _, err := a.Registry.Authorize(context.Background(), old); err != nil {
		t.Fatalf("old certificate refused within the grace period: %v", err)
	}
	fake.Advance(registry.StaleGrace + time.Minute)
	if _, _, err := a.Registry.Authorize(context.Background(), old); !errors.Is(err, registry.ErrStaleCertificate) {
		t.Fatalf("old certificate after the grace period: %v", err)
	}
	log, _ := provisioning.ReadAudit(state)
	if log[len(log)-1].Event != "renew" {
		t.Fatalf("renewal not audited: %+v", log[len(log)-1])
	}
}

func TestDeprovision(t *testing.T) {
	t.Parallel()
	a := startAuthority(t, registrytest.Options{})
	state := t.TempDir()
	id, _, err := provision(t, a, provisioning.ProvisionOptions{Token: a.Token(t, station, time.Hour), StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	dev := id.DeviceID
	cert := id.Chain[0]
	id.Close()
	outbox := filepath.Join(state, "outbox")
	os.MkdirAll(outbox, 0o700)
	os.WriteFile(filepath.Join(outbox, "e1"), []byte("sealed"), 0o600)
	pending := func(context.Context) (int, error) { return 3, nil }

	err = provisioning.Deprovision(context.Background(), provisioning.DeprovisionOptions{
		StateDir: state, Pending: pending, DrainTimeout: time.Nanosecond, Remove: []string{outbox}})
	if !errors.Is(err, provisioning.ErrOutboxNotEmpty) || !strings.Contains(err.Error(), "3 enrollments") {
		t.Fatalf("undrained outbox: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outbox, "e1")); err != nil {
		t.Fatal("refused deprovisioning lost the outbox")
	}
	if _, err := provisioning.LoadIdentity(state); err != nil {
		t.Fatalf("refused deprovisioning broke the identity: %v", err)
	}

	var steps []string
	err = provisioning.Deprovision(context.Background(), provisioning.DeprovisionOptions{
		StateDir: state, Pending: pending, Force: true, Remove: []string{outbox},
		Progress: func(s string) { steps = append(steps, s) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("deprovision:\n  %s", strings.Join(steps, "\n  "))
	if _, err := provisioning.LoadIdentity(state); !errors.Is(err, provisioning.ErrNotProvisioned) {
		t.Fatalf("after deprovision: %v", err)
	}
	for _, p := range []string{filepath.Join(state, "identity", provisioning.KeyFileName), outbox} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s survived", p)
		}
	}
	if _, _, err := a.Registry.Authorize(context.Background(), cert); !errors.Is(err, registry.ErrDeprovisioned) {
		t.Fatalf("authority still accepts the deprovisioned terminal %s: %v", dev, err)
	}
	if err := provisioning.Deprovision(context.Background(), provisioning.DeprovisionOptions{StateDir: state}); !errors.Is(err, provisioning.ErrNotProvisioned) {
		t.Fatalf("second deprovision: %v", err)
	}
}

// TestOwnershipForTheKioskUser: a technician provisions as root; the state
// directory belongs to the kiosk's user, who must own the identity after.
func TestOwnershipForTheKioskUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to hand files to another user")
	}
	a := startAuthority(t, registrytest.Options{})
	state := t.TempDir()
	const uid, gid = 4242, 4243
	if err := os.Chown(state, uid, gid); err != nil {
		t.Fatal(err)
	}
	id, _, err := provision(t, a, provisioning.ProvisionOptions{Token: a.Token(t, station, time.Hour), StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	id.Close()
	filepath.WalkDir(filepath.Join(state, "identity"), func(p string, d os.DirEntry, err error) error {
		fi, _ := os.Lstat(p)
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != uid || st.Gid != gid {
			t.Errorf("%s owned by %d:%d", p, st.Uid, st.Gid)
		}
		return nil
	})
}

func TestBusyIdentityRefused(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	dir := filepath.Join(state, "identity")
	os.MkdirAll(dir, 0o700)
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	_, _, err = provisioning.Provision(context.Background(), provisioning.ProvisionOptions{
		AuthorityURL: "https://127.0.0.1:1", Token: "T", StateDir: state, AssumeYes: true, Serial: "S"})
	if !errors.Is(err, provisioning.ErrBusy) {
		t.Fatalf("provision: %v", err)
	}
	if err := provisioning.Deprovision(context.Background(), provisioning.DeprovisionOptions{StateDir: state, Force: true}); !errors.Is(err, provisioning.ErrBusy) {
		t.Fatalf("deprovision: %v", err)
	}
}

// TestSaveFailureAfterEnrolment: the authority enrolled the box but the
// bundle cannot be written (a non-empty directory appears where it goes,
// just before the save). The technician is told which terminal to have
// revoked; no key and no identity are left behind.
func TestSaveFailureAfterEnrolment(t *testing.T) {
	t.Parallel()
	a := startAuthority(t, registrytest.Options{})
	state := t.TempDir()
	bundle := filepath.Join(state, "identity", provisioning.BundleFile)
	_, _, err := provision(t, a, provisioning.ProvisionOptions{
		Token: a.Token(t, station, time.Hour), StateDir: state,
		Progress: func(s string) {
			if strings.HasPrefix(s, "checking and saving") {
				os.MkdirAll(filepath.Join(bundle, "x"), 0o700)
			}
		},
	})
	devs, _ := a.Registry.Devices(context.Background())
	if err == nil || len(devs) != 1 || !strings.Contains(err.Error(), "ask city IT to revoke "+devs[0].ID) {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(state, "identity", provisioning.KeyFileName)); !os.IsNotExist(err) {
		t.Fatalf("key left behind: %v", err)
	}
}

// TestExpiredCertificate: a terminal whose certificate expired (switched off
// for months) is refused in the TLS handshake; the message says to provision
// again, not to check the network.
func TestExpiredCertificate(t *testing.T) {
	t.Parallel()
	past := clock.NewFake(time.Now().Add(-100 * 24 * time.Hour))
	a := startAuthority(t, registrytest.Options{PKI: pki.Config{Clock: past}})
	id, _, err := provision(t, a, provisioning.ProvisionOptions{Token: a.Token(t, station, time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	if !id.Expires().Before(time.Now()) {
		t.Fatalf("certificate not expired: %v", id.Expires())
	}
	_, err = provisioning.NewClient(id, "").Ping(context.Background())
	if !errors.Is(err, provisioning.ErrCertificateExpired) || !strings.Contains(err.Error(), "kioskctl provision") {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
	r := &provisioning.Renewer{Identity: id}
	if !r.Due() {
		t.Fatal("an expired certificate is not due for renewal")
	}
	if _, err := r.Check(context.Background()); !errors.Is(err, provisioning.ErrCertificateExpired) {
		t.Fatalf("renewing an expired certificate: %v", err)
	}
	// The authority's own refusal, when the terminal's clock is behind, is
	// not reported as a network fault.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: id.TLSConfig()}}
	defer hc.CloseIdleConnections()
	if _, err := hc.Get(a.URL + "/v1/registry/ping"); err == nil {
		t.Fatal("the authority accepted an expired certificate")
	}
}
