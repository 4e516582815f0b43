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
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	reader "eidkiosk/drivers/idcard"
	"eidkiosk/drivers/internal/simpty"
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

// Start opens the pty and starts answering.
func Start(o Options) (*Sim, error) {
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
	if s.opts.Link == "" {
		dir, err := os.MkdirTemp("", "idcard-sim-")
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		s.dir = dir
		s.opts.Link = filepath.Join(dir, "idcard")
	}
	if err := s.Replug(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
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

// Plugged reports whether the tty exists.
func (s *Sim) Plugged() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.plugged
}

// Unplug makes the reader disappear: the pty is closed (an open driver's
// reads and writes fail) and the tty path is removed. The card stays.
func (s *Sim) Unplug() {
	s.mu.Lock()
	m, sl, done := s.unplugLocked()
	s.mu.Unlock()
	if m != nil {
		m.Close()
		sl.Close()
		<-done
	}
}

func (s *Sim) unplugLocked() (*os.File, *os.File, chan struct{}) {
	if !s.plugged {
		return nil, nil, nil
	}
	s.plugged = false
	os.Remove(s.opts.Link)
	m, sl := s.master, s.slave
	s.master, s.slave = nil, nil
	s.selected = false
	return m, sl, s.served
}

// Replug makes the reader appear again on a new pty behind the same path.
func (s *Sim) Replug() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("sim: closed")
	}
	if s.plugged {
		return nil
	}
	m, sl, err := simpty.Open()
	if err != nil {
		return fmt.Errorf("sim: open pty: %w", err)
	}
	if err := rawMode(sl, s.baud); err != nil {
		m.Close()
		sl.Close()
		return fmt.Errorf("sim: pty: %w", err)
	}
	os.Remove(s.opts.Link)
	if err := os.Symlink(sl.Name(), s.opts.Link); err != nil {
		m.Close()
		sl.Close()
		return fmt.Errorf("sim: link: %w", err)
	}
	sl.Fd() // blocking mode now, not while serve reads the rate
	s.master, s.slave, s.pts, s.plugged = m, sl, sl.Name(), true
	s.stats.Plugs++
	s.served = make(chan struct{})
	go s.serve(m, sl, s.served)
	return nil
}

// Close unplugs the reader for good and removes the temporary directory.
func (s *Sim) Close() error {
	s.mu.Lock()
	s.closed = true
	m, sl, done := s.unplugLocked()
	s.mu.Unlock()
	if m != nil {
		m.Close()
		sl.Close()
		<-done
	}
	if s.dir != "" {
		return os.RemoveAll(s.dir)
	}
	return nil
}

// rawMode puts the tty in raw mode (no echo, no line discipline) at baud, as
// a freshly enumerated USB serial device would be used.
func rawMode(f *os.File, baud int) error {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CBAUD
	t.Cflag |= unix.CS8 | speedBits[baud]
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

var speedBits = map[int]uint32{115200: unix.B115200, 57600: unix.B57600, 38400: unix.B38400, 19200: unix.B19200, 9600: unix.B9600}

// lineRate is the rate the driver set on the tty.
func lineRate(f *os.File) int {
	t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return 0
	}
	for b, bits := range speedBits {
		if t.Cflag&unix.CBAUD == bits {
			return b
		}
	}
	return 0
}

func (s *Sim) trace(format string, args ...any) {
	if s.opts.Trace != nil {
		fmt.Fprintf(s.opts.Trace, "sim: "+format+"\n", args...)
	}
}

// serve answers requests on one plugged pty until it is closed.
func (s *Sim) serve(m, sl *os.File, done chan struct{}) {
	defer close(done)
	var dec reader.Decoder
	buf := make([]byte, 4096)
	for {
		n, err := m.Read(buf)
		if err != nil {
			return
		}
		// A receiver at another rate sees framing errors, not the bytes sent.
		s.mu.Lock()
		if s.slave != sl {
			s.mu.Unlock()
			return // unplugged
		}
		rate, want := lineRate(sl), s.baud
		if rate != want {
			s.stats.Ignored += n
			s.mu.Unlock()
			s.trace("%d bytes at %d baud ignored (SAM at %d)", n, rate, want)
			continue
		}
		s.stats.BytesIn += n
		s.mu.Unlock()
		dec.Write(buf[:n])
		for {
			body, ferr := dec.Next()
			if ferr != nil {
				s.mu.Lock()
				s.stats.BadFrames++
				s.mu.Unlock()
				// The SAM answers a corrupt host frame with 10 or 11.
				code := reader.StatusChecksum
				if errors.Is(ferr, reader.ErrLength) {
					code = reader.StatusLength
				}
				s.trace("bad request frame: %v", ferr)
				if !s.write(m, reader.Response{SW3: code}.Encode(), 0, Fault{}, time.Now()) {
					return
				}
				continue
			}
			if body == nil {
				break
			}
			req, err := reader.ParseRequest(body)
			if err != nil {
				continue
			}
			// On a real line the request's last byte arrives its wire time
			// after the first; the answer is paced from then.
			start := time.Now()
			if s.Throttle() {
				start = start.Add(reader.WireTime(len(body)+8, s.Baud()))
			}
			if !s.answer(m, req, start) {
				return
			}
		}
	}
}

// Throttle reports whether answers are paced to the line rate.
func (s *Sim) Throttle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opts.Throttle
}

// takeFault pops the first queued fault matching cmd.
func (s *Sim) takeFault(cmd reader.Command) (Fault, bool) {
	for i, f := range s.faults {
		if f.Cmd != 0 && f.Cmd != cmd {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		} else {
			s.faults[i] = f
		}
		return f, true
	}
	return Fault{}, false
}

// answer handles one request; it reports false when the pty is gone.
func (s *Sim) answer(m *os.File, req reader.Request, start time.Time) bool {
	s.mu.Lock()
	s.stats.Requests[req.Cmd]++
	f, faulty := s.takeFault(req.Cmd)
	resp, newBaud := s.respond(req, f, faulty)
	baud := s.baud // the answer goes out at the rate the request came in
	if newBaud != 0 {
		// The acknowledgement is paced at the old rate, and the SAM listens
		// at the new one from now on (the host switches on receiving it).
		s.baud = newBaud
	}
	s.mu.Unlock()
	s.trace("%s → SW3 %s (%d data bytes)%s", req.Cmd, resp.SW3, len(resp.Data), faultNote(f, faulty))
	frame := resp.Encode()
	if faulty {
		switch f.Kind {
		case FaultBadChecksum:
			frame[len(frame)-1] ^= 0x5A
		case FaultBadLength:
			frame[5], frame[6] = 0xFF, 0xFF
		case FaultSilent:
			return true
		case FaultNoise:
			frame = s.garbage(f)
		case FaultGarbage:
			frame = append(s.garbage(f), frame...)
		}
	}
	return s.write(m, frame, baud, f, start)
}

func faultNote(f Fault, faulty bool) string {
	if !faulty {
		return ""
	}
	return " [fault " + f.Kind.String() + "]"
}

func (s *Sim) garbage(f Fault) []byte {
	n := f.Bytes
	if n <= 0 {
		n = 16
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := make([]byte, n)
	for i := range g {
		g[i] = byte(s.rng.Uint32())
		if g[i] == 0xAA {
			g[i] = 0x55 // keep it from forming a preamble
		}
	}
	return g
}

// respond computes the answer to req; s.mu is held.
func (s *Sim) respond(req reader.Request, f Fault, faulty bool) (resp reader.Response, newBaud int) {
	if faulty && f.Kind == FaultStatus {
		return reader.Response{SW3: f.Status}, 0
	}
	ok := reader.Response{SW3: reader.StatusOK}
	switch {
	case req.Cmd == reader.CmdResetSAM:
		s.selected, s.hidden = false, false
		return ok, 0
	case req.Cmd == reader.CmdSAMStatus:
		return ok, 0
	case req.Cmd == reader.CmdSAMID:
		ok.Data = append([]byte(nil), s.opts.SAMID[:]...)
		return ok, 0
	case req.Cmd == reader.CmdFindCard:
		s.selected = false
		if s.card < 0 || s.hidden || (faulty && f.Kind == FaultNoCard) {
			return reader.Response{SW3: reader.StatusNoCard}, 0
		}
		return reader.Response{SW3: reader.StatusFound, Data: make([]byte, 4)}, 0
	case req.Cmd == reader.CmdSelectCard:
		if s.card < 0 {
			return reader.Response{SW3: reader.StatusSelectFailed}, 0
		}
		s.selected = true
		ok.Data = make([]byte, 8)
		return ok, 0
	case req.Cmd == reader.CmdReadBase || req.Cmd == reader.CmdReadBaseFP:
		if s.card < 0 || !s.selected {
			// Not authenticated: the card does not answer.
			return reader.Response{SW3: reader.StatusReadFailed}, 0
		}
		c := s.opts.Deck[s.card]
		photo := c.Photo
		if len(photo) != idcard.PhotoLen {
			photo = make([]byte, idcard.PhotoLen)
		}
		d := []byte{0x01, 0x00, 0x04, 0x00}
		if req.Cmd == reader.CmdReadBaseFP {
			n := len(c.Fingerprint)
			d = append(d, byte(n>>8), byte(n))
		}
		d = append(d, c.Text...)
		d = append(d, photo...)
		if req.Cmd == reader.CmdReadBaseFP {
			d = append(d, c.Fingerprint...)
		}
		ok.Data = d
		s.hidden = s.opts.Quiet
		return ok, 0
	case req.Cmd == reader.CmdReadNewAddr:
		if s.card < 0 || !s.selected {
			return reader.Response{SW3: reader.StatusReadFailed}, 0
		}
		c := s.opts.Deck[s.card]
		if len(c.NewAddresses) == 0 {
			return reader.Response{SW3: reader.StatusNoContent}, 0
		}
		for _, a := range c.NewAddresses {
			rec, err := idcard.EncodeAddress(a.Reveal())
			if err != nil {
				return reader.Response{SW3: reader.StatusReadFailed}, 0
			}
			ok.Data = append(ok.Data, rec...)
		}
		return ok, 0
	case req.Cmd&0xFF00 == reader.CmdSetBaud:
		code := int(req.Cmd & 0xFF)
		if code >= len(reader.Rates) || len(req.Data) != 0 {
			return reader.Response{SW3: reader.StatusCommand}, 0
		}
		return ok, reader.Rates[code]
	case req.Cmd == reader.CmdSetMaxRFByte:
		if len(req.Data) != 1 || req.Data[0] < 24 {
			return reader.Response{SW3: reader.StatusCommand}, 0
		}
		return ok, 0
	}
	return reader.Response{SW3: reader.StatusCommand}, 0
}

// write sends frame, applying the writing faults and, when throttling, the
// line rate; it reports false when the pty is gone.
func (s *Sim) write(m *os.File, frame []byte, baud int, f Fault, start time.Time) bool {
	pieces := [][]byte{frame}
	var gap time.Duration
	switch f.Kind {
	case FaultSplit:
		size, g := f.Bytes, f.Gap
		if size <= 0 {
			size = 7
		}
		if g <= 0 {
			g = time.Millisecond
		}
		pieces, gap = nil, g
		for len(frame) > 0 {
			k := min(size, len(frame))
			pieces, frame = append(pieces, frame[:k]), frame[k:]
		}
	case FaultStall, FaultUnplug:
		h := len(frame) / 2
		pieces = [][]byte{frame[:h], frame[h:]}
	}
	for i, p := range pieces {
		if i > 0 {
			switch f.Kind {
			case FaultStall:
				time.Sleep(f.Stall)
			case FaultUnplug:
				go func() {
					s.Unplug()
					if f.Stall > 0 {
						time.Sleep(f.Stall)
						if err := s.Replug(); err != nil {
							s.trace("replug: %v", err)
						}
					}
				}()
				return false
			default:
				time.Sleep(gap)
			}
			start = time.Now()
		}
		if !s.paced(m, p, baud, start) {
			return false
		}
	}
	return true
}

// paced writes p, at the line rate from start when throttling.
func (s *Sim) paced(m *os.File, p []byte, baud int, start time.Time) bool {
	if !s.Throttle() || baud == 0 {
		n, err := m.Write(p)
		s.count(n)
		return err == nil
	}
	per := reader.WireTime(1, baud)
	const chunk = 16
	for off := 0; off < len(p); {
		k := min(chunk, len(p)-off)
		// byte off+k-1 is complete on the line at start + (off+k)·per
		if d := time.Until(start.Add(time.Duration(off+k) * per)); d > 0 {
			time.Sleep(d)
		}
		n, err := m.Write(p[off : off+k])
		s.count(n)
		if err != nil {
			return false
		}
		off += k
	}
	return true
}

func (s *Sim) count(n int) {
	s.mu.Lock()
	s.stats.BytesOut += n
	s.mu.Unlock()
}
