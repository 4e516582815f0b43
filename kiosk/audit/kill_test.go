package audit_test

import (
	"bufio"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"eidkiosk/kiosk/audit"
	"eidkiosk/provisioning/devkey"
)

// TestKilledWriter kills real writer processes (this test binary, run as
// TestChildWriter) with SIGKILL at random points while they append,
// rotate and sign, one or two at a time, then repairs, verifies the whole
// chain with the device key and checks that every entry a writer was told
// is on disk is still there. 10 kills in `make test` (100 take 17 s alone
// and over a minute under -race); EIDKIOSK_LONG=1 (`make long`) 500.
func TestKilledWriter(t *testing.T) {
	kills := 10
	if os.Getenv("EIDKIOSK_LONG") != "" {
		kills = 500
	}
	dir := t.TempDir()
	keyPath := filepath.Join(t.TempDir(), "device.key")
	key, err := devkey.CreateFile(keyPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	ks := keys(t, key.Public())
	rng := rand.New(rand.NewPCG(16, uint64(time.Now().UnixNano())))
	var acked uint64
	for i := 0; i < kills; {
		n := 1 + i%2 // every other round two writers race for the lock
		var wg sync.WaitGroup
		var mu sync.Mutex
		for range n {
			cmd := exec.Command(os.Args[0], "-test.run=^TestChildWriter$", "-test.count=1")
			cmd.Env = append(os.Environ(), "AUDIT_CHILD_DIR="+dir, "AUDIT_CHILD_KEY="+keyPath)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			wait := time.Duration(rng.IntN(40_000)) * time.Microsecond
			wg.Add(1)
			go func() {
				defer wg.Done()
				sc := bufio.NewScanner(out)
				started := false
				var last uint64
				for sc.Scan() {
					if !started {
						started = true
						time.AfterFunc(wait, func() { cmd.Process.Signal(syscall.SIGKILL) })
					}
					if v, err := strconv.ParseUint(sc.Text(), 10, 64); err == nil {
						last = v
					}
				}
				cmd.Wait()
				mu.Lock()
				acked = max(acked, last)
				mu.Unlock()
			}()
		}
		wg.Wait()
		i += n

		l, err := audit.Open(audit.Options{Dir: dir})
		if err != nil {
			t.Fatalf("after kill %d: open: %v", i, err)
		}
		head, _ := l.Head()
		l.Close()
		if head.Seq < acked {
			t.Fatalf("after kill %d: head is entry %d, but entry %d was acknowledged", i, head.Seq, acked)
		}
		s, err := audit.Verify(dir, ks)
		if err != nil {
			t.Fatalf("after kill %d: %v", i, err)
		}
		if i%25 <= 1 || i >= kills {
			t.Logf("after %d kills: %d entries, %d checkpoints, signed up to %d", i, s.Entries, s.Checkpoints, s.Signed)
		}
	}
	fs, _ := filepath.Glob(filepath.Join(dir, "audit-*.log"))
	s, _ := audit.Verify(dir, ks)
	if s.Checkpoints == 0 || s.Entries < kills || (kills >= 100 && len(fs) < 2) {
		t.Fatalf("the writers did too little to test anything: %d files, %+v", len(fs), s)
	}
}

// TestChildWriter is the process TestKilledWriter kills: it appends until
// killed, printing each entry's sequence number once Append returned.
func TestChildWriter(t *testing.T) {
	dir := os.Getenv("AUDIT_CHILD_DIR")
	if dir == "" {
		t.Skip("run by TestKilledWriter")
	}
	key, err := devkey.OpenFile(os.Getenv("AUDIT_CHILD_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(audit.Options{Dir: dir, Signer: key, CheckpointEvery: 5, MaxFileBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(os.Stdout, 64)
	for i := 0; ; i++ {
		e, err := l.Append(audit.EventVisitEnded, map[string]string{"outcome": "completed", "n": strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			if err := l.Checkpoint(); err != nil {
				t.Fatal(err)
			}
		}
		w.WriteString(strconv.FormatUint(e.Seq, 10) + "\n")
		w.Flush()
	}
}
