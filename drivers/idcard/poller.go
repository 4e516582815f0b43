package idcard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"eidkiosk/idcard"
	"eidkiosk/internal/clock"
)

// Event is one thing the Poller saw: the card-level facts of the model's
// Event, plus how the exchange went. A Card prints redacted; Err never holds
// personal data.
type Event struct {
	idcard.Event
	Timing Timing // CardRead, CardReadFailed
	SAMID  string // ReaderBack
	Baud   int    // ReaderBack
}

// Options configure a Poller. Port is required; the rest have defaults.
type Options struct {
	Port        string        // tty path, e.g. /dev/idcard or /dev/ttyUSB0
	Baud        int           // configured rate; 0: 115200
	Interval    time.Duration // find-card poll period; 0: 300ms (the fastest reference §12 advises)
	Fingerprint bool          // read with fingerprint (30 10) instead of 30 01
	NewAddress  bool          // also read the appended addresses (30 03) into Card.NewAddresses
	NoProbe     bool          // do not try other rates when the configured one gets no answer
	Photo       PhotoDecoder  // nil: keep the raw WLT only
	Timeouts    Timeouts
	BackoffMin  time.Duration // reconnect backoff; 0: 250ms
	BackoffMax  time.Duration // 0: 5s
	// Open opens the port; nil: OpenSerial.
	Open  func(path string, baud int) (Port, error)
	Clock clock.Clock  // nil: clock.Real
	Log   *slog.Logger // nil: slog.Default(); never given personal data
}

// Poller watches one reader: it polls for a card, reads each placed card
// once, reports removal, and survives the reader vanishing (USB unplug),
// re-opening the port with backoff and probing the rate. All access to the
// port goes through one Reader, so it is serialised.
type Poller struct {
	o Options

	mu     sync.Mutex
	reader *Reader
}

// NewPoller returns a Poller; Run starts it.
func NewPoller(o Options) *Poller {
	if o.Baud == 0 {
		o.Baud = 115200
	}
	if o.Interval <= 0 {
		o.Interval = 300 * time.Millisecond
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 250 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Second
	}
	if o.Open == nil {
		o.Open = func(path string, baud int) (Port, error) { return OpenSerial(path, baud) }
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Poller{o: o}
}

// Do runs f with the current Reader, serialised with the polling (e.g. to
// read the SAM ID for a technician screen). It fails with ErrDisconnected
// while the reader is away.
func (p *Poller) Do(f func(r *Reader) error) error {
	p.mu.Lock()
	r := p.reader
	p.mu.Unlock()
	if r == nil {
		return fmt.Errorf("idcard: %w", ErrDisconnected)
	}
	return f(r)
}

// Run polls until ctx is cancelled (it then returns ctx.Err() within a few
// milliseconds, closing the port). emit is called from Run's goroutine, in
// order; it should not block for long.
func (p *Poller) Run(ctx context.Context, emit func(Event)) error {
	st := &pollState{emit: emit, clk: p.o.Clock}
	backoff := p.o.BackoffMin
	defer p.setReader(nil)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.current() == nil {
			r, samID, err := p.connect(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				st.fault(err)
				if err := clock.Sleep(ctx, p.o.Clock, backoff); err != nil {
					return err
				}
				backoff = min(2*backoff, p.o.BackoffMax)
				continue
			}
			backoff = p.o.BackoffMin
			p.setReader(r)
			st.faulted = false
			st.present = false
			p.o.Log.Info("idcard: reader answers", "port", p.o.Port, "baud", r.Baud())
			st.send(Event{Event: idcard.Event{Kind: idcard.ReaderBack}, SAMID: samID, Baud: r.Baud()})
		}
		start := p.o.Clock.Now()
		if err := p.step(ctx, p.current(), st); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			p.o.Log.Warn("idcard: reader fault", "port", p.o.Port, "err", err)
			p.setReader(nil)
			st.fault(err)
			if err := clock.Sleep(ctx, p.o.Clock, backoff); err != nil {
				return err
			}
			continue
		}
		// Poll on a fixed period, so a placed card is found within one
		// interval whatever the exchange took.
		if err := clock.Sleep(ctx, p.o.Clock, p.o.Interval-p.o.Clock.Now().Sub(start)); err != nil {
			return err
		}
	}
}

type pollState struct {
	emit    func(Event)
	clk     clock.Clock
	present bool // a card is on the antenna and was reported
	faulted bool // a ReaderFault was reported and no ReaderBack since
}

func (s *pollState) send(e Event) {
	e.At = s.clk.Now()
	s.emit(e)
}

func (s *pollState) fault(err error) {
	if s.present {
		// The card cannot be trusted to be the same when the reader
		// returns; its removal is implied by the fault.
		s.present = false
	}
	if !s.faulted {
		s.faulted = true
		s.send(Event{Event: idcard.Event{Kind: idcard.ReaderFault, Err: err}})
	}
}

func (p *Poller) current() *Reader {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reader
}

func (p *Poller) setReader(r *Reader) {
	p.mu.Lock()
	old := p.reader
	p.reader = r
	p.mu.Unlock()
	if old != nil && old != r {
		old.Close()
	}
}

// connect opens the port and checks the SAM: status at the configured rate,
// else (unless NoProbe) at every rate; then reads the SAM ID.
func (p *Poller) connect(ctx context.Context) (*Reader, string, error) {
	port, err := p.o.Open(p.o.Port, p.o.Baud)
	if err != nil {
		return nil, "", err
	}
	r := NewReader(port, p.o.Baud, p.o.Timeouts)
	err = r.Status(ctx)
	if errors.Is(err, ErrTimeout) && !p.o.NoProbe {
		var baud int
		if baud, err = r.Probe(ctx); err == nil {
			p.o.Log.Warn("idcard: reader answers at another rate than configured", "configured", p.o.Baud, "found", baud)
			err = r.Status(ctx)
		}
	}
	if err != nil {
		r.Close()
		return nil, "", err
	}
	id, err := r.SAMID(ctx)
	if err != nil {
		r.Close()
		return nil, "", err
	}
	return r, id, nil
}

// transient reports whether err is worth one retry on the same port.
func transient(err error) bool {
	var fe *FrameError
	return errors.Is(err, ErrTimeout) || errors.As(err, &fe) || errors.Is(err, ErrMalformed) ||
		errors.Is(err, ErrSAM)
}

// step is one poll. It returns an error only for a reader fault.
func (p *Poller) step(ctx context.Context, r *Reader, st *pollState) error {
	r.Counters()
	start := time.Now()
	err := r.Find(ctx)
	if err != nil && !errors.Is(err, ErrDisconnected) && ctx.Err() == nil {
		// Readers miss a present card on one find now and then, and a
		// single answer can be lost to line noise: ask once more before
		// concluding anything (reference §12).
		err = r.Find(ctx)
	}
	if errors.Is(err, ErrNoCard) && st.present {
		// Some readers stop finding a card that rests on the antenna once
		// it was read. Before reporting a removal, confirm it the way
		// reference §12 suggests for a stuck reader: reset the SAM (which
		// drops the RF field) and look again.
		if rerr := r.Reset(ctx); rerr != nil && !errors.As(rerr, new(*StatusError)) {
			return rerr
		}
		if err = r.Find(ctx); err == nil {
			return nil // still there: a quiet reader, not a removal
		}
	}
	switch {
	case errors.Is(err, ErrNoCard):
		if st.present {
			st.present = false
			st.send(Event{Event: idcard.Event{Kind: idcard.CardRemoved}})
		}
		return nil
	case err != nil:
		return err
	case st.present:
		return nil // a resting card, already reported
	}
	st.present = true
	st.send(Event{Event: idcard.Event{Kind: idcard.CardPlaced}})
	return p.read(ctx, r, st, time.Since(start))
}

// read reads the card just found: select and read at once (authentication
// must directly precede the read), then, on failure, reset the SAM when the
// card or SAM reported an error and try the whole find-select-read once more.
func (p *Poller) read(ctx context.Context, r *Reader, st *pollState, find time.Duration) error {
	t := Timing{Find: find}
	card, err := r.selectAndReadLocked(ctx, p.o.Fingerprint, &t)
	if err != nil && retryRead(err) && ctx.Err() == nil {
		if errors.Is(err, ErrCardRead) || errors.Is(err, ErrSAM) {
			if rerr := r.Reset(ctx); errors.Is(rerr, ErrDisconnected) {
				return rerr
			}
		}
		card, t, err = r.ReadCard(ctx, p.o.Fingerprint)
	}
	if err == nil && p.o.NewAddress {
		// Right after the base read the card needs no new authentication.
		start := time.Now()
		card.NewAddresses, err = r.ReadNewAddresses(ctx)
		t.Read += time.Since(start)
		if err != nil {
			card.Wipe()
		}
	}
	out, in := r.Counters()
	t.BytesOut, t.BytesIn, t.Baud = out, in, r.Baud()
	switch {
	case err == nil:
		e := Event{Event: idcard.Event{Kind: idcard.CardRead, Card: card}, Timing: t}
		if p.o.Photo != nil {
			e.Photo, e.PhotoErr = p.o.Photo.DecodePhoto(ctx, card.Photo)
			if e.PhotoErr != nil {
				p.o.Log.Warn("idcard: photo not decoded; keeping the raw WLT", "err", e.PhotoErr)
			}
		}
		st.send(e)
		return nil
	case errors.Is(err, ErrDisconnected):
		return err // never a half-read card: the fault says it all
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, ErrNoCard):
		// Taken away during the read.
		st.send(Event{Event: idcard.Event{Kind: idcard.CardReadFailed, Err: err}, Timing: t})
		st.present = false
		st.send(Event{Event: idcard.Event{Kind: idcard.CardRemoved}})
		return nil
	default:
		st.send(Event{Event: idcard.Event{Kind: idcard.CardReadFailed, Err: err, Invalid: errors.Is(err, idcard.ErrInvalid)}, Timing: t})
		// Stay "present": the citizen removes the card and places it again,
		// as the official usage notes say.
		return nil
	}
}

func retryRead(err error) bool {
	if errors.Is(err, idcard.ErrInvalid) || errors.Is(err, ErrDisconnected) {
		return false // the data is what it is; a fault is reported as such
	}
	return transient(err) || errors.Is(err, ErrCardRead) || errors.Is(err, ErrNoCard)
}

// selectAndReadLocked is select + read under the Reader's lock.
func (r *Reader) selectAndReadLocked(ctx context.Context, fingerprint bool, t *Timing) (idcard.Card, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.selectAndRead(ctx, fingerprint, t)
}
