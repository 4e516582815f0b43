// Package audit is the terminal's tamper-evident audit log: what happened on
// the box (start and stop, each visit's outcome, technician logins, logouts
// and wrong PINs, configuration changes, update steps, tamper, provisioning,
// certificate renewal, outbox exports), append-only, hash-chained, with a
// checkpoint signed by the device key every CheckpointEvery entries. The
// chain's format and its verification are fleetproto's (audit.go), so the
// authority, which receives the entries with the heartbeat, checks them by
// the same code.
//
// On disk: DIR/audit-<first seq>.log, one JSON entry per line, a new file
// when the current one passes MaxFileBytes, the chain carried across files
// (a file's first entry chains to the previous file's last). Every append is
// one write followed by fsync (and an fsync of the directory when it created
// the file), under an exclusive flock of DIR/lock so the kiosk and kioskctl
// can both append (what root creates is given to the directory's owner).
// After a power loss the last line may be torn: the next open or append
// finds it (a last line without its newline) and truncates it; it was never
// acknowledged to its caller, and the chain continues from the last whole
// entry. A damaged line anywhere else, or a whole last line that is not an
// entry, is left as it is: Verify reports it.
//
// Entries carry event names and non-personal fields (outcomes, versions,
// counts, reason codes); free text is passed through logging.Scrub. It does
// not ship entries (kiosk/app puts them on the heartbeat) and does not hold
// the device key: it signs through Signer.
package audit

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"eidkiosk/fleetproto"
	"eidkiosk/internal/atomicfile"
	"eidkiosk/internal/clock"
	"eidkiosk/internal/logging"
)

// Signer signs a checkpoint's hash: the device key (provisioning/devkey,
// in a TPM or a file) satisfies it.
type Signer interface {
	Public() crypto.PublicKey
	Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

// Options configure a Log.
type Options struct {
	Dir string
	// Signer signs checkpoints; nil writes none (a terminal not yet
	// provisioned, or kioskctl appending an export).
	Signer Signer
	// CheckpointEvery is how many entries may follow a checkpoint before
	// the next is written; default 20.
	CheckpointEvery int
	// MaxFileBytes starts a new file once the current one is this large;
	// default 1 MiB.
	MaxFileBytes int64
	// KeepFiles is how many files are kept; older ones are removed once
	// the authority acknowledged every entry in them (SetAcked). Default 32.
	KeepFiles int
	Clock     clock.Clock // default clock.Real
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("audit: log closed")

// Log appends to the audit log in Options.Dir. It is safe for concurrent
// use, by goroutines and by processes.
type Log struct {
	o     Options
	keyID string

	mu       sync.Mutex
	lock     *os.File
	head     *fleetproto.AuditEntry // last entry; nil: empty log
	cur      string                 // current file's path
	curSize  int64
	unsigned int // entries since the last checkpoint
	acked    uint64
}

const (
	filePrefix = "audit-"
	fileSuffix = ".log"
	lockFile   = "lock"
)

// Open opens (creating) the log in o.Dir and repairs a torn last line.
func Open(o Options) (*Log, error) {
	if o.Dir == "" {
		return nil, errors.New("audit: no directory")
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 20
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 1 << 20
	}
	if o.KeepFiles <= 0 {
		o.KeepFiles = 32
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := adopt(o.Dir); err != nil {
		return nil, err
	}
	l := &Log{o: o}
	if o.Signer != nil {
		id, err := fleetproto.KeyID(o.Signer.Public())
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		l.keyID = id
	}
	f, err := os.OpenFile(filepath.Join(o.Dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	l.lock = f
	if err := adopt(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	if err := l.locked(l.newKey); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// EventNewChain starts a chain after the device key changed (the terminal
// was provisioned again): fields previous_key, previous_last,
// previous_hash name the chain archived before it.
const EventNewChain = "audit.new_chain"

// newKey archives the log when its last checkpoint was signed by another
// key than Signer's (a terminal deprovisioned and provisioned again, with a
// new device ID and key): the old chain, which the authority knows under
// the old device ID, moves to DIR/previous-<time>-<key>/, and a new chain
// starts whose first entry names the old one's head.
func (l *Log) newKey() error {
	if l.keyID == "" || l.head == nil {
		return nil
	}
	fs, err := files(l.o.Dir)
	if err != nil {
		return err
	}
	old := ""
	for i := len(fs) - 1; i >= 0 && old == ""; i-- {
		es, err := readFile(fs[i])
		if err != nil {
			return err
		}
		for j := len(es) - 1; j >= 0; j-- {
			if es[j].Event == fleetproto.EventCheckpoint && es[j].Hash != "" {
				old = es[j].Key
				break
			}
		}
	}
	if old == "" || old == l.keyID {
		return nil
	}
	head := *l.head
	arch := filepath.Join(l.o.Dir, fmt.Sprintf("previous-%s-%.12s", l.o.Clock.Now().UTC().Format("20060102T150405Z"), old))
	if err := os.Mkdir(arch, 0o700); err != nil {
		return fmt.Errorf("audit: archive the chain of the previous key: %w", err)
	}
	for _, f := range fs {
		if err := os.Rename(f, filepath.Join(arch, filepath.Base(f))); err != nil {
			return fmt.Errorf("audit: archive the chain of the previous key: %w", err)
		}
	}
	if err := atomicfile.SyncDir(arch); err != nil {
		return err
	}
	if err := atomicfile.SyncDir(l.o.Dir); err != nil {
		return err
	}
	if err := l.refresh(); err != nil {
		return err
	}
	_, err = l.write(fleetproto.AuditEntry{Event: EventNewChain, Fields: map[string]string{
		"previous_key": old, "previous_last": strconv.FormatUint(head.Seq, 10), "previous_hash": head.Hash,
		"archive": filepath.Base(arch)}})
	return err
}

// Close releases the lock file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lock == nil {
		return nil
	}
	err := l.lock.Close()
	l.lock = nil
	return err
}

// locked runs f holding the log's mutex and the directory's flock, after
// catching up with what another process appended.
func (l *Log) locked(f func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lock == nil {
		return ErrClosed
	}
	if err := flock(l.lock); err != nil {
		return fmt.Errorf("audit: lock: %w", err)
	}
	defer syscall.Flock(int(l.lock.Fd()), syscall.LOCK_UN)
	if err := l.refresh(); err != nil {
		return err
	}
	return f()
}

func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// files lists the log's files, oldest first.
func files(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	var out []string
	for _, d := range des {
		n := d.Name()
		if d.Type().IsRegular() && strings.HasPrefix(n, filePrefix) && strings.HasSuffix(n, fileSuffix) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	slices.Sort(out) // names carry zero-padded first sequence numbers
	return out, nil
}

func fileFor(dir string, first uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%s%020d%s", filePrefix, first, fileSuffix))
}

// firstSeq is the first sequence number a file's name says it holds.
func firstSeq(path string) uint64 {
	n := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), filePrefix), fileSuffix)
	v, _ := strconv.ParseUint(n, 10, 64)
	return v
}

// refresh brings head, cur and curSize up to date with the directory,
// truncating a torn last line.
func (l *Log) refresh() error {
	fs, err := files(l.o.Dir)
	if err != nil {
		return err
	}
	if len(fs) == 0 {
		l.head, l.cur, l.curSize, l.unsigned = nil, fileFor(l.o.Dir, 1), 0, 0
		return nil
	}
	last := fs[len(fs)-1]
	fi, err := os.Stat(last)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if last == l.cur && fi.Size() == l.curSize {
		return nil
	}
	l.cur = last
	for i := len(fs) - 1; i >= 0; i-- {
		entries, size, err := repair(fs[i], i == len(fs)-1)
		if err != nil {
			return err
		}
		if i == len(fs)-1 {
			l.curSize = size
		}
		if h := lastWhole(entries); h != nil {
			l.head = h
			if i == len(fs)-1 {
				l.unsigned = 0
				for j := len(entries) - 1; j >= 0 && entries[j].Event != fleetproto.EventCheckpoint; j-- {
					l.unsigned++
				}
			}
			return nil
		}
	}
	l.head = nil
	return nil
}

// repair reads a file's whole entries; with truncate, a torn last line
// (no newline: see parse) is cut off the file. It returns the
// entries and the file's size afterwards.
func repair(path string, truncate bool) ([]fleetproto.AuditEntry, int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: %w", err)
	}
	entries, good := parse(b)
	if int64(good) == int64(len(b)) || !truncate {
		return entries, int64(len(b)), nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: repair %s: %w", filepath.Base(path), err)
	}
	defer f.Close()
	if err := f.Truncate(int64(good)); err != nil {
		return nil, 0, fmt.Errorf("audit: repair %s: %w", filepath.Base(path), err)
	}
	if err := f.Sync(); err != nil {
		return nil, 0, fmt.Errorf("audit: repair %s: %w", filepath.Base(path), err)
	}
	return entries, int64(good), nil
}

// parse returns b's lines as entries and the length of the prefix that
// ends with the last newline. Every line is written with its newline in one
// write and fsynced, so only a power loss leaves a last line without one
// (cut short, or blocks of zeros): that line is torn. A line that ends in a
// newline but is not an entry is not torn but damaged: it is returned as a
// zero entry (no Hash), which verification reports.
func parse(b []byte) ([]fleetproto.AuditEntry, int) {
	var out []fleetproto.AuditEntry
	off := 0
	for off < len(b) {
		nl := bytes.IndexByte(b[off:], '\n')
		if nl < 0 {
			break // torn: no newline
		}
		line := b[off : off+nl]
		off += nl + 1
		var e fleetproto.AuditEntry
		if json.Unmarshal(line, &e) != nil || e.Hash == "" {
			e = fleetproto.AuditEntry{}
		}
		out = append(out, e)
	}
	return out, off
}

// lastWhole is the last entry of es with a hash; nil when none.
func lastWhole(es []fleetproto.AuditEntry) *fleetproto.AuditEntry {
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Hash != "" {
			e := es[i]
			return &e
		}
	}
	return nil
}

// maxValue bounds a field's value (an error message), so that a
// heartbeat's batch stays small.
const maxValue = 240

// maxBatchBytes bounds the entries of one heartbeat (the authority takes
// reports up to 64 KiB).
const maxBatchBytes = 32 << 10

// Append writes one entry and returns it once it is on disk; it writes a
// signed checkpoint after it when CheckpointEvery entries are unsigned.
// Field values are scrubbed of anything that looks like an ID number.
func (l *Log) Append(event string, fields map[string]string) (fleetproto.AuditEntry, error) {
	var e fleetproto.AuditEntry
	err := l.locked(func() error {
		var err error
		clean := make(map[string]string, len(fields))
		for k, v := range fields {
			if len(v) > maxValue {
				v = strings.ToValidUTF8(v[:maxValue], "") + "…"
			}
			clean[k] = logging.Scrub(v)
		}
		if len(clean) == 0 {
			clean = nil
		}
		if e, err = l.write(fleetproto.AuditEntry{Event: event, Fields: clean}); err != nil {
			return err
		}
		if l.o.Signer != nil && l.unsigned >= l.o.CheckpointEvery {
			_, err = l.checkpoint()
		}
		return err
	})
	return e, err
}

// Checkpoint writes a signed checkpoint when entries follow the last one
// (the kiosk calls it at stop and every few minutes, so few entries stay
// unsigned). It does nothing without a Signer.
func (l *Log) Checkpoint() error {
	if l.o.Signer == nil {
		return nil
	}
	return l.locked(func() error {
		if l.head == nil || l.head.Event == fleetproto.EventCheckpoint {
			return nil
		}
		_, err := l.checkpoint()
		return err
	})
}

func (l *Log) checkpoint() (fleetproto.AuditEntry, error) {
	return l.write(fleetproto.AuditEntry{Event: fleetproto.EventCheckpoint, Key: l.keyID})
}

// write chains e to the head, signs a checkpoint, and appends it durably.
func (l *Log) write(e fleetproto.AuditEntry) (fleetproto.AuditEntry, error) {
	e.Seq, e.Time = 1, l.o.Clock.Now().UTC()
	if l.head != nil {
		e.Seq, e.Prev = l.head.Seq+1, l.head.Hash
	}
	e.Hash = e.ComputeHash()
	if e.Event == fleetproto.EventCheckpoint {
		digest, _ := hex.DecodeString(e.Hash)
		sig, err := l.o.Signer.Sign(rand.Reader, digest, crypto.SHA256)
		if err != nil {
			return e, fmt.Errorf("audit: sign checkpoint %d: %w", e.Seq, err)
		}
		e.Sig = sig
	}
	line, err := json.Marshal(e)
	if err != nil {
		return e, fmt.Errorf("audit: %w", err)
	}
	line = append(line, '\n')
	if l.curSize > 0 && l.curSize+int64(len(line)) > l.o.MaxFileBytes {
		l.cur, l.curSize = fileFor(l.o.Dir, e.Seq), 0
	}
	f, err := os.OpenFile(l.cur, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return e, fmt.Errorf("audit: %w", err)
	}
	created := l.curSize == 0
	_, werr := f.Write(line)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		// The line may be half there: the next refresh sees the size
		// changed and truncates it.
		l.curSize = -1
		return e, fmt.Errorf("audit: append entry %d: %w", e.Seq, werr)
	}
	if created {
		if err := adopt(l.cur); err != nil {
			return e, err
		}
		if err := atomicfile.SyncDir(l.o.Dir); err != nil {
			return e, err
		}
		l.prune()
	}
	l.curSize += int64(len(line))
	l.head = &e
	if e.Event == fleetproto.EventCheckpoint {
		l.unsigned = 0
	} else {
		l.unsigned++
	}
	return e, nil
}

// adopt gives path to the owner of its directory when root writes it (root
// runs kioskctl; the kiosk's user must go on appending to what root created).
func adopt(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	if err := os.Lchown(path, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("audit: give %s to uid %d: %w", filepath.Base(path), st.Uid, err)
	}
	return nil
}

// prune removes the oldest files beyond KeepFiles whose entries the
// authority acknowledged (a file's last entry is the next file's first - 1).
// Never more than 4×KeepFiles are kept, acknowledged or not.
func (l *Log) prune() {
	fs, err := files(l.o.Dir)
	if err != nil {
		return
	}
	for len(fs) > l.o.KeepFiles {
		lastOfOldest := firstSeq(fs[1]) - 1
		if lastOfOldest > l.acked && len(fs) <= 4*l.o.KeepFiles {
			return
		}
		if os.Remove(fs[0]) != nil {
			return
		}
		fs = fs[1:]
	}
}

// SetAcked records the last entry the authority holds (fleetproto.AuditAck).
func (l *Log) SetAcked(seq uint64) {
	l.mu.Lock()
	l.acked = seq
	l.mu.Unlock()
}

// Head returns the last entry (ok false: the log is empty).
func (l *Log) Head() (fleetproto.AuditEntry, bool) {
	var e fleetproto.AuditEntry
	ok := false
	_ = l.locked(func() error {
		if l.head != nil {
			e, ok = *l.head, true
		}
		return nil
	})
	return e, ok
}

// Since returns up to max entries after sequence number after, oldest
// first, reading only the files that can hold them.
func (l *Log) Since(after uint64, max int) ([]fleetproto.AuditEntry, error) {
	var out []fleetproto.AuditEntry
	err := l.locked(func() error {
		if l.head == nil || l.head.Seq <= after {
			return nil
		}
		fs, err := files(l.o.Dir)
		if err != nil {
			return err
		}
		start := 0
		for i, f := range fs {
			if firstSeq(f) <= after+1 {
				start = i
			}
		}
		for _, f := range fs[start:] {
			es, err := readFile(f)
			if err != nil {
				return err
			}
			for _, e := range es {
				if e.Seq > after && len(out) < max {
					out = append(out, e)
				}
			}
			if len(out) >= max {
				break
			}
		}
		return nil
	})
	return out, err
}

// Batch is the heartbeat's audit part: the head and up to
// fleetproto.MaxAuditBatch entries (and 32 KiB of them) after the last
// acknowledged one.
func (l *Log) Batch() (*fleetproto.AuditBatch, error) {
	l.mu.Lock()
	acked := l.acked
	l.mu.Unlock()
	head, ok := l.Head()
	if !ok {
		return nil, nil
	}
	b := &fleetproto.AuditBatch{Head: head.Seq, HeadHash: head.Hash}
	es, err := l.Since(acked, fleetproto.MaxAuditBatch)
	size := 0
	for i, e := range es {
		line, _ := json.Marshal(e)
		if size += len(line); size > maxBatchBytes && i > 0 {
			es = es[:i]
			break
		}
	}
	b.Entries = es
	return b, err
}

// readFile returns a file's entries as they stand (a torn last line left out).
func readFile(path string) ([]fleetproto.AuditEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	es, _ := parse(b)
	return es, nil
}

// Read returns every entry of the log in dir, in file order, without
// repairing anything. A line that is not an entry is an error wrapping
// fleetproto.ErrAuditAltered (a torn last line is left out, and torn says so).
func Read(dir string) (entries []fleetproto.AuditEntry, torn bool, err error) {
	fs, err := files(dir)
	if err != nil {
		return nil, false, err
	}
	for i, f := range fs {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, false, fmt.Errorf("audit: %w", err)
		}
		es, good := parse(b)
		if good != len(b) {
			if i != len(fs)-1 {
				return nil, false, fmt.Errorf("audit: %s ends in a torn line: %w", filepath.Base(f), fleetproto.ErrAuditAltered)
			}
			torn = true
		}
		// A file is named after its first entry: a file whose first lines
		// were removed no longer starts where its name says.
		if len(es) > 0 && es[0].Seq != firstSeq(f) {
			return nil, false, fmt.Errorf("audit: %s starts at entry %d: %w", filepath.Base(f), es[0].Seq, fleetproto.ErrAuditBroken)
		}
		entries = append(entries, es...)
	}
	return entries, torn, nil
}

// Verify reads the log in dir and verifies its chain and every checkpoint
// with keys (nil: hashes and links only). A log whose first file starts
// after entry 1 (older files removed once shipped) is verified from its
// first entry on.
func Verify(dir string, keys fleetproto.AuditKeys) (fleetproto.AuditSummary, error) {
	es, _, err := Read(dir)
	if err != nil {
		return fleetproto.AuditSummary{}, err
	}
	fromStart := len(es) > 0 && es[0].Seq <= 1
	s, err := fleetproto.VerifyAudit(es, nil, fromStart, keys)
	if err != nil {
		return s, fmt.Errorf("audit: %s: %w", dir, err)
	}
	return s, nil
}

// KeysOf returns the AuditKeys knowing just pub (the terminal's device key).
func KeysOf(pub crypto.PublicKey) (fleetproto.AuditKeys, error) {
	id, err := fleetproto.KeyID(pub)
	if err != nil {
		return nil, err
	}
	return func(k string) crypto.PublicKey {
		if k == id {
			return pub
		}
		return nil
	}, nil
}

// DirIn is the audit log's directory in a kiosk state directory.
func DirIn(stateDir string) string { return filepath.Join(stateDir, "audit") }

// Last returns the newest entry recording event (ok false: none), reading
// files from the newest back.
func (l *Log) Last(event string) (e fleetproto.AuditEntry, ok bool, err error) {
	err = l.locked(func() error {
		fs, err := files(l.o.Dir)
		if err != nil {
			return err
		}
		for i := len(fs) - 1; i >= 0 && !ok; i-- {
			es, err := readFile(fs[i])
			if err != nil {
				return err
			}
			for j := len(es) - 1; j >= 0; j-- {
				if es[j].Event == event && es[j].Hash != "" {
					e, ok = es[j], true
					break
				}
			}
		}
		return nil
	})
	return e, ok, err
}
