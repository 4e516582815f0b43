// Package sim is a simulated GA 467 ID-card reader on a pseudo-terminal. It
// answers the real protocol byte for byte (frames, commands and status codes
// of ../shared/reference/idcard-reader-protocol.md, implemented with the
// frame codec of drivers/idcard) so that the real driver, opened on the tty
// path the simulator prints, can be tested and demonstrated without
// hardware.
//
// It holds a deck of synthetic cards (DefaultDeck, or a TOML deck file),
// places and removes them, unplugs and replugs the "USB" reader (the tty
// path, a stable symlink like a udev name, disappears and comes back),
// injects faults (garbage, bad checksums, bad lengths, stalls, split writes,
// missed finds, error codes, unplug mid-answer), honours the line rate the
// driver set on the tty (a wrong rate gets no answer, as on a real line) and
// can throttle its answers to that line rate.
//
// It does not emulate the card's RF layer, the native-USB SAM, or WLT photo
// compression (photos are synthetic bytes).
package sim

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	reader "eidkiosk/drivers/idcard"
	"eidkiosk/idcard"
)

// Options configure a simulator. The zero value works: default deck, 115200
// baud, no throttling, a fresh temporary directory for the tty link.
type Options struct {
	Deck     []idcard.Card // nil: DefaultDeck()
	Baud     int           // the SAM's line rate; 0: 115200
	Throttle bool          // pace requests and answers to the line rate
	// Link is the stable path of the tty (a symlink to /dev/pts/N, replaced
	// on replug); "": <temp dir>/idcard.
	Link string
	// SAMID is the 16 bytes the SAM reports for 12 FF; zero: a fixed
	// synthetic ID.
	SAMID [16]byte
	// Trace, when set, receives one line per request and answer, without
	// card data.
	Trace io.Writer
	// Seed makes the garbage bytes reproducible.
	Seed uint64
	// Quiet makes a resting card unfindable once it was read, until it is
	// removed and placed again or the SAM is reset: the reader behaviour
	// reference §12 says to handle although no source documents it.
	Quiet bool
}

// FaultKind is a kind of injected fault.
type FaultKind int

const (
	// FaultGarbage writes Bytes random bytes (default 16) before the answer;
	// the driver must resynchronise and read the answer.
	FaultGarbage FaultKind = iota + 1
	// FaultNoise writes Bytes random bytes instead of the answer.
	FaultNoise
	// FaultBadChecksum flips the answer's CHK.
	FaultBadChecksum
	// FaultBadLength sends the answer with LEN 0xFFFF (out of range).
	FaultBadLength
	// FaultStall writes half the answer, waits Stall, then writes the rest.
	FaultStall
	// FaultSilent sends no answer.
	FaultSilent
	// FaultSplit writes the answer in pieces of Bytes bytes (default 7), Gap
	// apart (default 1ms).
	FaultSplit
	// FaultNoCard answers find with 80 (no card) although one is placed: the
	// reader that misses a resting card (reference §12).
	FaultNoCard
	// FaultStatus answers with SW3 Status instead of the normal answer.
	FaultStatus
	// FaultUnplug writes half the answer and unplugs the reader; it comes
	// back after Stall when Stall > 0.
	FaultUnplug
)

var faultNames = map[FaultKind]string{
	FaultGarbage: "garbage", FaultNoise: "noise", FaultBadChecksum: "bad-checksum",
	FaultBadLength: "bad-length", FaultStall: "stall", FaultSilent: "silent", FaultSplit: "split",
	FaultNoCard: "no-card", FaultStatus: "status", FaultUnplug: "unplug",
}

func (k FaultKind) String() string {
	if s, ok := faultNames[k]; ok {
		return s
	}
	return fmt.Sprintf("fault(%d)", int(k))
}

// ParseFaultKind is the inverse of FaultKind.String.
func ParseFaultKind(s string) (FaultKind, error) {
	for k, n := range faultNames {
		if n == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("sim: unknown fault %q", s)
}

// Fault is one injected fault. It applies to the next Times answers (default
// 1) to Cmd (0: any command).
type Fault struct {
	Kind   FaultKind
	Cmd    reader.Command
	Times  int
	Bytes  int
	Gap    time.Duration
	Stall  time.Duration
	Status reader.Status
}

// Stats counts what the simulator saw.
type Stats struct {
	Requests  map[reader.Command]int
	BytesIn   int // request bytes received
	BytesOut  int // answer bytes written
	Ignored   int // bytes dropped because the tty's rate was not the SAM's
	BadFrames int // request frames rejected (checksum, length)
	Plugs     int // times the tty (re)appeared
}

// Sim is a running simulated reader. Its methods are safe for concurrent use.
type Sim struct {
	opts Options
	dir  string // temp dir we created, removed on Close

	mu       sync.Mutex
	master   *os.File
	slave    *os.File // kept open so the tty lives between driver opens
	pts      string
	plugged  bool
	baud     int
	card     int // placed card index, -1: none
	selected bool
	hidden   bool // Quiet: the placed card was read and is not found again
	faults   []Fault
	stats    Stats
	rng      *rand.Rand
	closed   bool
	served   chan struct{} // closed when the current serve loop ends
}

func validRate(b int) bool {
	for _, r := range reader.Rates {
		if r == b {
			return true
		}
	}
	return false
}

// Path is the tty path to open (a symlink to the current /dev/pts/N); it
// does not exist while the reader is unplugged.
func (s *Sim) Path() string { return s.opts.Link }

// Deck returns the cards the simulator holds.
func (s *Sim) Deck() []idcard.Card { return s.opts.Deck }

// Place puts deck card i on the antenna (replacing any card there).
func (s *Sim) Place(i int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= len(s.opts.Deck) {
		return fmt.Errorf("sim: no card %d in a deck of %d", i, len(s.opts.Deck))
	}
	s.card, s.selected, s.hidden = i, false, false
	return nil
}

// Remove takes the card off the antenna.
func (s *Sim) Remove() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.card, s.selected, s.hidden = -1, false, false
}

// Pull takes the card off the antenna and returns once the terminal has
// looked at the empty antenna four times (a poller confirms a removal with
// find, find again, SAM reset, find: the fourth find is the next poll, so
// the removal was reported; a card it never saw takes two polls). A card
// placed again sooner could pass for the same card never removed.
func (s *Sim) Pull(ctx context.Context) error {
	s.Remove()
	s.mu.Lock()
	f0 := s.stats.Requests[reader.CmdFindCard]
	s.mu.Unlock()
	for {
		s.mu.Lock()
		n := s.stats.Requests[reader.CmdFindCard] - f0
		s.mu.Unlock()
		if n >= 4 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sim: the terminal did not poll the empty reader: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Placed returns the index of the card on the antenna, -1 if none.
func (s *Sim) Placed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.card
}

// Inject queues a fault.
func (s *Sim) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// ClearFaults drops queued faults.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetThrottle turns line-rate pacing on or off.
func (s *Sim) SetThrottle(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Throttle = on
}

// Baud is the SAM's current line rate (changed by the set-baud command).
func (s *Sim) Baud() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baud
}

// SetBaud changes the SAM's line rate directly (a reader configured
// differently before the kiosk started).
func (s *Sim) SetBaud(b int) error {
	if !validRate(b) {
		return fmt.Errorf("sim: %d is not a GA 467 rate", b)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.baud = b
	return nil
}

// Stats returns a copy of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Requests = make(map[reader.Command]int, len(s.stats.Requests))
	for k, v := range s.stats.Requests {
		st.Requests[k] = v
	}
	return st
}

// newSim is a simulator with its deck, SAM and faults but no line: the
// answers work (reply), nothing is served until Start plugs a pty in.
func newSim(o Options) (*Sim, error) {
	if o.Deck == nil {
		o.Deck = DefaultDeck()
	}
	if o.Baud == 0 {
		o.Baud = 115200
	}
	if !validRate(o.Baud) {
		return nil, fmt.Errorf("sim: %d is not a GA 467 rate", o.Baud)
	}
	if o.SAMID == ([16]byte{}) {
		o.SAMID = [16]byte{0x05, 0x00, 0x01, 0x00, 0x40, 0x42, 0x0F, 0x00, 0x15, 0xCD, 0x5B, 0x07, 0xB1, 0x68, 0xDE, 0x3A}
	}
	s := &Sim{opts: o, baud: o.Baud, card: -1, rng: rand.New(rand.NewPCG(o.Seed, 467))}
	s.stats.Requests = map[reader.Command]int{}
	return s, nil
}

// Throttle reports whether answers are paced to the line rate.
func (s *Sim) Throttle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Throttle
}

func (s *Sim) trace(format string, args ...any) {
	if s.opts.Trace != nil {
		fmt.Fprintf(s.opts.Trace, "sim: "+format+"\n", args...)
	}
}
