package intake_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/internal/pgtest"
	"eidkiosk/kiosk/submit"
)

// Environment of the crash child (an authority process on PostgreSQL).
const (
	envPGCrashDir  = "EIDKIOSK_PGCRASH_DIR"
	envPGCrashDSN  = "EIDKIOSK_PGCRASH_DSN"
	envPGCrashAddr = "EIDKIOSK_PGCRASH_ADDR"
)

// TestPostgresCrash runs the intake in a child process (this test binary
// again, TestPostgresCrashChild) on a PostgreSQL cluster of its own, has
// four terminals post sealed packages to it over TLS, and crashes it with
// SIGKILL at random moments: the authority process, the PostgreSQL
// postmaster, or both, in turn; 6 crashes (60 with EIDKIOSK_LONG=1, 20 of
// each kind). Packages not acknowledged are sent again, as an outbox
// would. Afterwards every acknowledged enrollment is in the database once
// with the receipt the terminal got, a last pass over every package is
// answered (repeats with the same receipts), and the database holds
// exactly the packages sent, each once.
func TestPostgresCrash(t *testing.T) {
	kills := 6
	if os.Getenv("EIDKIOSK_LONG") != "" {
		kills = 60
	}
	ctx := context.Background()
	cluster, err := pgtest.Start(ctx)
	if err != nil {
		pgtest.Unavailable(t, err)
	}
	t.Cleanup(func() { cluster.Stop() })
	dsn, err := pgtest.NewDatabase(ctx, cluster.URL)
	if err != nil {
		t.Fatal(err)
	}
	pki, err := intaketest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	reg := intaketest.NewRegistry()
	dir := t.TempDir()
	// The keys: created here, used by every child.
	keysOwner, err := intake.New(intake.Options{DataDir: dir, Devices: reg})
	if err != nil {
		t.Fatal(err)
	}
	const terminals = 4
	devs := make([]*intaketest.Device, terminals)
	clients := make([]*http.Client, terminals)
	var certs bytes.Buffer
	for i := range devs {
		devs[i], err = pki.NewDevice(fmt.Sprintf("KT-C%02d", i), "NS-PSB-010")
		if err != nil {
			t.Fatal(err)
		}
		pem.Encode(&certs, &pem.Block{Type: "CERTIFICATE", Bytes: devs[i].Cert.Raw, Headers: map[string]string{"Device": devs[i].ID, "Station": devs[i].Station}})
		clients[i] = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: devs[i].ClientTLS(pki)}}
	}
	writePEMs(t, dir, pki, certs.Bytes())

	// Packages, sealed beforehand: enough that the terminals never run out.
	perTerminal := 10 + 5*kills
	rnd := rand.New(rand.NewPCG(3, 4))
	p, ev, err := intaketest.Portrait()
	if err != nil {
		t.Fatal(err)
	}
	type pkg struct {
		id   string
		body []byte
	}
	queues := make([][]pkg, terminals)
	for i, d := range devs {
		s, err := d.Sealer(keysOwner.IntakePublicKey())
		if err != nil {
			t.Fatal(err)
		}
		for range perTerminal {
			e, err := intaketest.EnrollmentWith(intaketest.CitizenName, intaketest.RandomNumber(rnd), p, ev, rnd)
			if err != nil {
				t.Fatal(err)
			}
			q := &memQueue{}
			rc, err := submit.NewSubmitter(s, q, "crash", nil, nil).Submit(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			queues[i] = append(queues[i], pkg{rc.EnrollmentID, q.pkgs[rc.EnrollmentID]})
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	url := "https://" + addr

	var mu sync.Mutex
	acked := map[string][]byte{} // enrollment ID → receipt the terminal got
	sent := map[string]bool{}
	next := make([]int, terminals) // first package of each terminal not yet acknowledged
	post := func(k int, pk pkg) (int, []byte, error) {
		req, _ := http.NewRequest("POST", url+intake.PathEnrollments+pk.id, bytes.NewReader(pk.body))
		req.Header.Set("Idempotency-Key", pk.id)
		resp, err := clients[k].Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	// A terminal sends its packages in order, each until acknowledged
	// (an outbox's behaviour), until stop.
	terminal := func(k int, stop <-chan struct{}) {
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			i := next[k]
			mu.Unlock()
			if i == len(queues[k]) {
				return
			}
			pk := queues[k][i]
			mu.Lock()
			sent[pk.id] = true
			mu.Unlock()
			code, body, err := post(k, pk)
			if err != nil || (code != http.StatusCreated && code != http.StatusOK) {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			mu.Lock()
			if prev, ok := acked[pk.id]; ok && !bytes.Equal(prev, body) {
				t.Errorf("enrollment %s: receipt changed on a repeat", pk.id)
			}
			acked[pk.id] = body
			next[k]++
			mu.Unlock()
		}
	}

	var child *exec.Cmd
	var childOut bytes.Buffer
	startChild := func() {
		child = exec.Command(os.Args[0], "-test.run=^TestPostgresCrashChild$", "-test.count=1", "-test.v")
		child.Env = append(os.Environ(), envPGCrashDir+"="+dir, envPGCrashDSN+"="+dsn, envPGCrashAddr+"="+addr)
		childOut.Reset()
		child.Stderr = &childOut
		stdout, err := child.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "ready" {
					close(ready)
				}
			}
		}()
		select {
		case <-ready:
		case <-time.After(60 * time.Second):
			child.Process.Kill()
			t.Fatalf("authority child did not start:\n%s", childOut.String())
		}
	}
	killChild := func() {
		child.Process.Signal(syscall.SIGKILL)
		err := child.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("authority child ended by itself (%v):\n%s", err, childOut.String())
		}
	}

	crng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	startChild()
	kinds := map[string]int{}
	for k := range kills {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i := range terminals {
			wg.Add(1)
			go func() { defer wg.Done(); terminal(i, stop) }()
		}
		time.Sleep(time.Duration(200+crng.IntN(800)) * time.Millisecond)
		switch k % 3 {
		case 0:
			kinds["authority"]++
			killChild()
		case 1:
			kinds["postmaster"]++
			if err := cluster.Kill(); err != nil {
				t.Fatal(err)
			}
		case 2:
			kinds["both"]++
			killChild()
			if err := cluster.Kill(); err != nil {
				t.Fatal(err)
			}
		}
		// Let the terminals see the crash, then bring things back.
		time.Sleep(time.Duration(crng.IntN(200)) * time.Millisecond)
		close(stop)
		wg.Wait()
		if k%3 != 0 {
			if err := cluster.Restart(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if k%3 != 1 {
			startChild()
		}
	}
	// Every acknowledged enrollment survived, with its receipt.
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := map[string][]byte{}
	rows, err := db.QueryContext(ctx, `SELECT id, receipt FROM intake_enrollments`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var id string
		var receipt []byte
		if err := rows.Scan(&id, &receipt); err != nil {
			t.Fatal(err)
		}
		if _, dup := stored[id]; dup {
			t.Errorf("enrollment %s stored twice", id)
		}
		stored[id] = receipt
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	nAcked := len(acked)
	for id, r := range acked {
		got, ok := stored[id]
		switch {
		case !ok:
			t.Errorf("acknowledged enrollment %s lost", id)
		case !bytes.Equal(got, r):
			t.Errorf("acknowledged enrollment %s: stored receipt differs from the one acknowledged", id)
		}
	}
	for id := range stored {
		if !sent[id] {
			t.Errorf("database holds %s, which was never sent", id)
		}
	}
	mu.Unlock()
	// A last pass: every package sent is answered, repeats with the receipt stored.
	again := 0
	for k := range terminals {
		for _, pk := range queues[k][:next[k]] {
			code, body, err := post(k, pk)
			if err != nil || code != http.StatusOK || !bytes.Equal(body, acked[pk.id]) {
				t.Fatalf("resending acknowledged %s: %d %v", pk.id, code, err)
			}
			again++
		}
	}
	killChild()
	if nAcked < kills*4 {
		t.Errorf("only %d enrollments acknowledged over %d crashes: the intake hardly ran", nAcked, kills)
	}
	t.Logf("%d crashes %v; %d enrollments acknowledged, %d stored (the rest were in flight at a crash), %d repeats answered alike", kills, kinds, nAcked, n, again)
}

// writePEMs writes what the authority child needs besides the keys: the
// server's certificate and key, the CA, and the terminals' certificates.
func writePEMs(t *testing.T, dir string, pki *intaketest.PKI, devices []byte) {
	key, err := x509.MarshalPKCS8PrivateKey(pki.Server.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"server.crt":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.Server.Certificate[0]}),
		"server.key":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}),
		"ca.crt":      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.CA.Raw}),
		"devices.pem": devices,
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPostgresCrashChild is the authority process of TestPostgresCrash; it
// skips unless started by it.
func TestPostgresCrashChild(t *testing.T) {
	dir := os.Getenv(envPGCrashDir)
	if dir == "" {
		t.Skip("the authority child of TestPostgresCrash")
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	block := func(b []byte) *pem.Block {
		p, _ := pem.Decode(b)
		if p == nil {
			t.Fatal("bad PEM")
		}
		return p
	}
	ca, err := x509.ParseCertificate(block(read("ca.crt")).Bytes)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := x509.ParseCertificate(block(read("server.crt")).Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(block(read("server.key")).Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pki := &intaketest.PKI{CA: ca, Roots: x509.NewCertPool()}
	pki.Roots.AddCert(ca)
	pki.Server.Certificate, pki.Server.PrivateKey, pki.Server.Leaf = [][]byte{srv.Raw}, key, srv
	reg := intaketest.NewRegistry()
	rest := read("devices.pem")
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		reg.Add(&intaketest.Device{ID: b.Headers["Device"], Station: b.Headers["Station"], Cert: c})
	}
	auth := intaketest.NewAuthorityDB(t, dir, os.Getenv(envPGCrashDSN), pki, reg, intake.Options{})
	auth.Serve(t, os.Getenv(envPGCrashAddr))
	fmt.Println("ready")
	select {} // until killed
}
