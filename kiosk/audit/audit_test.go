package audit_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"eidkiosk/fleetproto"
	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/audit"
)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keys(t testing.TB, pub crypto.PublicKey) fleetproto.AuditKeys {
	k, err := audit.KeysOf(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fill writes n visit entries to a log that rotates every few entries.
func fill(t *testing.T, dir string, k crypto.Signer, n int) *audit.Log {
	t.Helper()
	l, err := audit.Open(audit.Options{Dir: dir, Signer: k, CheckpointEvery: 4, MaxFileBytes: 2048,
		Clock: clock.NewFake(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for i := range n {
		if err := l.Record(audit.EventVisitEnded, "outcome", []string{"completed", "timeout", "liveness"}[i%3]); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func TestChainAcrossFilesVerifies(t *testing.T) {
	dir := t.TempDir()
	k := newKey(t)
	l := fill(t, dir, k, 40)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	fs, _ := filepath.Glob(filepath.Join(dir, "audit-*.log"))
	if len(fs) < 3 {
		t.Fatalf("%d files: the log did not rotate", len(fs))
	}
	s, err := audit.Verify(dir, keys(t, &k.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	// 40 entries, a checkpoint after every 4, and the final one.
	if s.First != 1 || s.Entries != 50 || s.Checkpoints != 10 || s.Signed != s.Last || s.Last != 50 {
		t.Fatalf("summary %+v", s)
	}
	// Another key does not verify the checkpoints.
	if _, err := audit.Verify(dir, keys(t, &newKey(t).PublicKey)); !errors.Is(err, fleetproto.ErrAuditSignature) {
		t.Fatalf("verified with another key: %v", err)
	}
	// A reopened log continues the chain.
	l.Close()
	l2, err := audit.Open(audit.Options{Dir: dir, Signer: k, MaxFileBytes: 2048})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	e, err := l2.Append(audit.EventStop, nil)
	if err != nil || e.Seq != 51 {
		t.Fatalf("append after reopen: seq %d, %v", e.Seq, err)
	}
	if _, err := audit.Verify(dir, keys(t, &k.PublicKey)); err != nil {
		t.Fatal(err)
	}
	got, err := l2.Since(45, 3)
	if err != nil || len(got) != 3 || got[0].Seq != 46 || got[2].Seq != 48 {
		t.Fatalf("Since(45, 3): %v %v", got, err)
	}
}

// lines returns every line of the log's files, with the file each is in.
type line struct {
	file string
	text []byte
}

func readLines(t *testing.T, dir string) []line {
	t.Helper()
	fs, _ := filepath.Glob(filepath.Join(dir, "audit-*.log"))
	slices.Sort(fs)
	var out []line
	for _, f := range fs {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range bytes.SplitAfter(b, []byte("\n")) {
			if len(l) > 0 {
				out = append(out, line{f, l})
			}
		}
	}
	return out
}

func writeLines(t *testing.T, dir string, ls []line) {
	t.Helper()
	byFile := map[string][]byte{}
	fs, _ := filepath.Glob(filepath.Join(dir, "audit-*.log"))
	for _, f := range fs {
		byFile[f] = nil
	}
	for _, l := range ls {
		byFile[l.file] = append(byFile[l.file], l.text...)
	}
	for f, b := range byFile {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func entryOf(t *testing.T, l line) fleetproto.AuditEntry {
	var e fleetproto.AuditEntry
	if err := json.Unmarshal(l.text, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func lineOf(t *testing.T, file string, e fleetproto.AuditEntry) line {
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return line{file, append(b, '\n')}
}

// Tampering is each way an attacker with the disk could change the log.
// Every one must be caught by the kiosk's Verify (and, in authority/fleet's
// tests, by the authority).
func Tampering(t *testing.T) map[string]func([]line) []line {
	return map[string]func([]line) []line{
		"edit an outcome": func(ls []line) []line {
			e := entryOf(t, ls[10])
			e.Fields["outcome"] = "completed-edited"
			ls[10] = lineOf(t, ls[10].file, e)
			return ls
		},
		"edit and rehash the rest of the chain": func(ls []line) []line {
			// The attacker recomputes every hash after the edit; only the
			// checkpoints' signatures (no key) stop it.
			var prev string
			for i := range ls {
				e := entryOf(t, ls[i])
				if i == 10 {
					e.Fields["outcome"] = "completed"
				}
				if i > 10 {
					e.Prev = prev
				}
				if i >= 10 {
					e.Hash = e.ComputeHash()
					ls[i] = lineOf(t, ls[i].file, e)
				}
				prev = e.Hash
			}
			return ls
		},
		"delete an entry":  func(ls []line) []line { return slices.Delete(ls, 7, 8) },
		"delete the first": func(ls []line) []line { return ls[1:] },
		"reorder two":      func(ls []line) []line { ls[5].text, ls[6].text = ls[6].text, ls[5].text; return ls },
		"move across files": func(ls []line) []line {
			// the first line of the second file moved to the end of the first
			i := slices.IndexFunc(ls, func(l line) bool { return l.file != ls[0].file })
			ls[i].file = ls[i-1].file
			ls[i-1].text, ls[i].text = ls[i].text, ls[i-1].text
			return ls
		},
		"drop a checkpoint's signature": func(ls []line) []line {
			for i := range ls {
				if e := entryOf(t, ls[i]); e.Event == fleetproto.EventCheckpoint {
					e.Sig = e.Sig[:len(e.Sig)-1]
					ls[i] = lineOf(t, ls[i].file, e)
					break
				}
			}
			return ls
		},
		"damage a line": func(ls []line) []line {
			ls[3].text = []byte("{\"seq\":4,garbage}\n")
			return ls
		},
	}
}

func TestTamperingDetectedAtTheKiosk(t *testing.T) {
	k := newKey(t)
	for name, tamper := range Tampering(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			fill(t, dir, k, 24).Close()
			if _, err := audit.Verify(dir, keys(t, &k.PublicKey)); err != nil {
				t.Fatal(err)
			}
			writeLines(t, dir, tamper(readLines(t, dir)))
			_, err := audit.Verify(dir, keys(t, &k.PublicKey))
			if !errors.Is(err, fleetproto.ErrAuditAltered) && !errors.Is(err, fleetproto.ErrAuditBroken) && !errors.Is(err, fleetproto.ErrAuditSignature) {
				t.Fatalf("tampering not detected: %v", err)
			}
			t.Logf("detected: %v", err)
		})
	}
}

// A power loss can leave the last line cut anywhere or as a block of
// zeros; the next open truncates it and the chain continues.
func TestTornLastLineRepaired(t *testing.T) {
	k := newKey(t)
	base := t.TempDir()
	fill(t, base, k, 6).Close()
	ls := readLines(t, base)
	last := ls[len(ls)-1]
	for cut := 0; cut < len(last.text); cut += 7 {
		for _, zeros := range []int{0, 512} {
			t.Run(strconv.Itoa(cut)+"+"+strconv.Itoa(zeros), func(t *testing.T) {
				dir := t.TempDir()
				torn := slices.Clone(ls)
				torn[len(torn)-1] = line{filepath.Join(dir, filepath.Base(last.file)), append(last.text[:cut:cut], make([]byte, zeros)...)}
				for i := range torn[:len(torn)-1] {
					torn[i].file = filepath.Join(dir, filepath.Base(torn[i].file))
				}
				for _, l := range torn {
					f, err := os.OpenFile(l.file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
					if err != nil {
						t.Fatal(err)
					}
					f.Write(l.text)
					f.Close()
				}
				l, err := audit.Open(audit.Options{Dir: dir, Signer: k, MaxFileBytes: 2048})
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				head, _ := l.Head()
				if want := entryOf(t, ls[len(ls)-2]).Seq; head.Seq != want {
					t.Fatalf("head %d after repair, want %d", head.Seq, want)
				}
				if _, err := l.Append(audit.EventStart, map[string]string{"version": "1.2.3"}); err != nil {
					t.Fatal(err)
				}
				if err := l.Checkpoint(); err != nil {
					t.Fatal(err)
				}
				if _, err := audit.Verify(dir, keys(t, &k.PublicKey)); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestNothingPersonalInFields(t *testing.T) {
	dir := t.TempDir()
	l, err := audit.Open(audit.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Record(audit.EventRenewal, "outcome", "failed", "detail", "card 11010519491231002X refused"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "audit-00000000000000000001.log"))
	if bytes.Contains(b, []byte("11010519491231002X")) || !bytes.Contains(b, []byte("redacted")) {
		t.Fatalf("an ID number reached the log: %s", b)
	}
}

// A heartbeat's batch stays within what the authority takes, however long
// the entries' texts; the rest follows in the next batch.
func TestBatchBounded(t *testing.T) {
	l, err := audit.Open(audit.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	long := strings.Repeat("reader timeout ", 100)
	for range fleetproto.MaxAuditBatch {
		if err := l.Record(audit.EventRenewal, "outcome", "failed", "detail", long); err != nil {
			t.Fatal(err)
		}
	}
	b, err := l.Batch()
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(b)
	if len(body) > 40<<10 || len(b.Entries) == 0 || len(b.Entries) == fleetproto.MaxAuditBatch || b.Head != fleetproto.MaxAuditBatch {
		t.Fatalf("batch of %d entries, %d bytes, head %d", len(b.Entries), len(body), b.Head)
	}
	if v := b.Entries[0].Fields["detail"]; len(v) > 300 {
		t.Fatalf("a field of %d bytes", len(v))
	}
	l.SetAcked(b.Entries[len(b.Entries)-1].Seq)
	next, _ := l.Batch()
	if next.Entries[0].Seq != b.Entries[len(b.Entries)-1].Seq+1 {
		t.Fatalf("the next batch starts at %d", next.Entries[0].Seq)
	}
}

// A terminal provisioned again (new device ID, new key) keeps its old log
// in an archive and starts a chain the new key signs from its first entry,
// which names the old chain's head.
func TestNewKeyStartsANewChain(t *testing.T) {
	dir := t.TempDir()
	k1, k2 := newKey(t), newKey(t)
	fill(t, dir, k1, 10).Close()
	oldHead, _, _ := audit.Read(dir)
	l, err := audit.Open(audit.Options{Dir: dir, Signer: k2})
	if err != nil {
		t.Fatal(err)
	}
	l.Record(audit.EventStart, "version", "2.0.0")
	l.Checkpoint()
	l.Close()
	s, err := audit.Verify(dir, keys(t, &k2.PublicKey))
	if err != nil || s.First != 1 || s.Signed != s.Last {
		t.Fatalf("new chain: %+v %v", s, err)
	}
	es, _, _ := audit.Read(dir)
	last := oldHead[len(oldHead)-1]
	if es[0].Event != audit.EventNewChain || es[0].Fields["previous_hash"] != last.Hash || es[0].Fields["previous_last"] != strconv.FormatUint(last.Seq, 10) {
		t.Fatalf("first entry of the new chain: %+v", es[0])
	}
	arch, _ := filepath.Glob(filepath.Join(dir, "previous-*"))
	if len(arch) != 1 {
		t.Fatalf("archives: %v", arch)
	}
	if s, err := audit.Verify(arch[0], keys(t, &k1.PublicKey)); err != nil || s.Last != last.Seq {
		t.Fatalf("archived chain: %+v %v", s, err)
	}
	// Opening again with the new key changes nothing.
	l, _ = audit.Open(audit.Options{Dir: dir, Signer: k2})
	l.Close()
	if again, _, _ := audit.Read(dir); len(again) != len(es) {
		t.Fatalf("%d entries after reopening, %d before", len(again), len(es))
	}
}
