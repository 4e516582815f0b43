package uplink_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/enroll"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/kiosk/submit"
	"eidkiosk/kiosk/uplink"
)

// Environment of the crash child.
const (
	envCrashDir = "EIDKIOSK_CRASH_DIR"
	envCrashURL = "EIDKIOSK_CRASH_URL"
)

// TestCrash runs a child kiosk (this test binary again, TestCrashChild) that
// enqueues visits and uploads them, and kills it with SIGKILL at random
// moments, 100 times (1000 with EIDKIOSK_LONG=1). Afterwards a last uplink
// drains the outbox, and every enrollment the child reported as saved is at
// the authority exactly once, and the authority holds nothing else than
// what the outbox holds.
func TestCrash(t *testing.T) {
	kills := 100
	if os.Getenv("EIDKIOSK_LONG") != "" {
		kills = 1000
	}
	pki, err := intaketest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	reg := intaketest.NewRegistry()
	dev, _ := pki.NewDevice("KT-CRASH", "NS-PSB-009")
	reg.Add(dev)
	auth := intaketest.NewAuthority(t, t.TempDir(), pki, reg, intake.Options{})
	url := auth.Serve(t, "127.0.0.1:0")
	dir := t.TempDir()
	writeChildFiles(t, dir, dev, pki, auth)

	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	early := 0
	for k := 0; k < kills; k++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashURL+"="+url)
		var out bytes.Buffer
		cmd.Stderr = &out
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
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
		if k%5 == 0 {
			// While it starts and recovers the outbox.
			time.Sleep(time.Duration(rnd.IntN(250)) * time.Millisecond)
			early++
		} else {
			// While it enqueues and uploads.
			select {
			case <-ready:
			case <-time.After(30 * time.Second):
				t.Fatal("child did not start")
			}
			time.Sleep(time.Duration(rnd.IntN(150)) * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child %d ended by itself (%v):\n%s", k, err, out.String())
		}
	}
	saved := readSaved(t, filepath.Join(dir, "saved.log"))
	if len(saved) < kills/4 {
		t.Fatalf("only %d visits saved in %d runs: the child hardly ran", len(saved), kills)
	}

	// Power back on: drain what is left.
	ctx := context.Background()
	box, err := outbox.Open(ctx, filepath.Join(dir, "state", "outbox"), config.Default().Outbox, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	before := box.Stats()
	up, err := uplink.New(uplink.Options{URL: url, Certificate: dev.TLS, Roots: pki.Roots,
		ReceiptKey: auth.Intake.ReceiptPublicKey(), Queue: box, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { up.Run(rctx); close(done) }()
	limit := time.Now().Add(2 * time.Minute)
	for box.Stats().Pending > 0 && time.Now().Before(limit) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	after := box.Stats()
	if after.Pending != 0 || after.Refused != 0 {
		t.Fatalf("after drain: %+v (%+v)", after, up.Status())
	}
	atAuthority, err := auth.Intake.IDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, id := range atAuthority {
		count[id]++
	}
	for _, id := range saved {
		if count[id] != 1 {
			t.Errorf("saved enrollment %s is at the authority %d times", id, count[id])
		}
		if s, _, err := box.State(ctx, id); err != nil || s != outbox.Acked {
			t.Errorf("saved enrollment %s: outbox state %q %v", id, s, err)
		}
	}
	for id := range count {
		if s, _, err := box.State(ctx, id); err != nil || s != outbox.Acked {
			t.Errorf("authority holds %s, which the outbox does not know as acked (%q %v)", id, s, err)
		}
	}
	if len(atAuthority) != after.Acked {
		t.Errorf("authority holds %d, outbox acked %d", len(atAuthority), after.Acked)
	}
	t.Logf("%d kills (%d while starting), %d saved, %d enqueued in all, %d left to drain after the last kill", kills, early, len(saved), after.Acked, before.Pending)
	box.Close()
	grepDir(t, filepath.Join(dir, "state"), intaketest.CitizenName, intaketest.CitizenNumber)
}

func writeChildFiles(t *testing.T, dir string, dev *intaketest.Device, pki *intaketest.PKI, auth *intaketest.Authority) {
	key, err := x509.MarshalPKCS8PrivateKey(dev.Key)
	if err != nil {
		t.Fatal(err)
	}
	p, ev, err := intaketest.Portrait()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"device.key":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}),
		"device.crt":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: dev.Cert.Raw}),
		"ca.crt":      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.CA.Raw}),
		"intake.pub":  auth.Intake.IntakePublicKey(),
		"receipt.pub": auth.Intake.ReceiptPublicKey(),
		"ids":         []byte(dev.ID + "\n" + dev.Station),
		"portrait":    p,
	}
	for i, e := range ev {
		files[fmt.Sprintf("evidence%d", i)] = e
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func readSaved(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := sc.Text(); len(l) == 36 {
			ids = append(ids, l)
		}
	}
	// A line cut by the kill has no newline and fewer characters; only
	// complete lines count. (A complete 36-character last line without its
	// newline also counts: Submit had returned.)
	return ids
}

// TestCrashChild is the kiosk process of TestCrash; it runs only when
// EIDKIOSK_CRASH_DIR is set, and until it is killed (or 30 s pass).
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		t.Skip("helper process of TestCrash")
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cert, err := tls.X509KeyPair(read("device.crt"), read("device.key"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(read("ca.crt"))
	ids := strings.Split(string(read("ids")), "\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	box, err := outbox.Open(ctx, filepath.Join(dir, "state", "outbox"), config.Default().Outbox, nil)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := enroll.NewSealer(cert.PrivateKey.(crypto.Signer), cert.Leaf, read("intake.pub"), ids[0], ids[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	up, err := uplink.New(uplink.Options{URL: os.Getenv(envCrashURL), Certificate: cert, Roots: roots,
		ReceiptKey: ed25519.PublicKey(read("receipt.pub")), Queue: box,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go up.Run(ctx)
	fmt.Println("ready")
	sub := submit.NewSubmitter(sealer, box, "crash-child", nil, nil)
	log, err := os.OpenFile(filepath.Join(dir, "saved.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	portrait := read("portrait")
	var ev [][]byte
	for i := 0; ; i++ {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("evidence%d", i)))
		if err != nil {
			break
		}
		ev = append(ev, b)
	}
	rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	for ctx.Err() == nil {
		number := intaketest.RandomNumber(rnd)
		if rnd.IntN(4) == 0 {
			number = intaketest.CitizenNumber
		}
		e, err := intaketest.EnrollmentWith(intaketest.CitizenName, number, portrait, ev, rnd)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := sub.Submit(ctx, e)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			t.Fatal(err)
		}
		// "Saved" is on screen now: record it.
		log.WriteString(rc.EnrollmentID + "\n")
		log.Sync()
	}
	t.Fatal("crash child was not killed")
}
