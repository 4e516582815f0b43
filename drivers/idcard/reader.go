package idcard

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"eidkiosk/idcard"
	"eidkiosk/internal/pii"
)

// Port is the serial line to the reader's SAM. go.bug.st/serial's Port (see
// OpenSerial), a pty's *os.File and test doubles satisfy it. Close must
// unblock a pending Read.
type Port interface {
	io.Reader
	io.Writer
	io.Closer
}

// BaudSetter is a Port whose line rate can change; SetBaud and Probe need it.
type BaudSetter interface {
	SetBaud(baud int) error
}

// Rates are the GA 467 line rates with their set-baud PARA codes, fastest
// first (the probing order of reference §12).
var Rates = []int{115200, 57600, 38400, 19200, 9600}

func rateCode(baud int) (byte, bool) {
	for i, r := range Rates {
		if r == baud {
			return byte(i), true
		}
	}
	return 0, false
}

// WireTime is how long n bytes take on an 8N1 line at baud (10 bits a byte).
func WireTime(n, baud int) time.Duration {
	if baud <= 0 {
		return 0
	}
	return time.Duration(int64(n) * 10 * int64(time.Second) / int64(baud))
}

// Timeouts bound each exchange; each is extended by twice the wire time of
// the largest answer at the current rate, so slow rates keep working.
//
// The defaults follow the working public code the reference cites (§13):
// 2 s for a base read and 3 s with fingerprints [19]; 300 ms for the short
// commands, the SAM ID timeout of [19] and the low end of the advised
// 300–500 ms for find and select.
type Timeouts struct {
	Short  time.Duration // find, select, status, SAM ID, set baud (default 300ms)
	Reset  time.Duration // SAM reset (default 1s)
	Read   time.Duration // read base message and newest address (default 2s)
	ReadFP time.Duration // read base message with fingerprint (default 3s)
}

func (t Timeouts) withDefaults() Timeouts {
	if t.Short <= 0 {
		t.Short = 300 * time.Millisecond
	}
	if t.Reset <= 0 {
		t.Reset = time.Second
	}
	if t.Read <= 0 {
		t.Read = 2 * time.Second
	}
	if t.ReadFP <= 0 {
		t.ReadFP = 3 * time.Second
	}
	return t
}

// Reader speaks GA 467 to one SAM over a Port. All exchanges are serialised
// (the SAM is not re-entrant); a Reader is safe for concurrent use. Create
// it with NewReader; Close closes the port.
type Reader struct {
	port     Port
	timeouts Timeouts

	mu   sync.Mutex // one exchange at a time; guards the fields below
	baud int
	dec  Decoder
	out  int // bytes written since the last Counters call
	in   int // bytes read (frames consumed) since the last Counters call

	direct bool   // read in the exchanging goroutine (port has read timeouts)
	buf    []byte // direct mode read buffer
	broken error  // direct mode: the port failed

	chunks    chan []byte
	dead      chan struct{} // closed when the read loop ends
	deadErr   error
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// readTimeouter is a Port whose Read can time out, like go.bug.st/serial's.
type readTimeouter interface {
	SetReadTimeout(time.Duration) error
}

// readSlice bounds one Read in direct mode: the latency of noticing a
// cancelled context.
const readSlice = 20 * time.Millisecond

// NewReader starts driving port, which runs at baud.
//
// A port with read timeouts (OpenSerial's) is read in the exchanging
// goroutine itself, in slices of 20 ms so that a cancelled context is seen
// at once; any other port (a pty's *os.File, a pipe) is read by a goroutine
// that hands chunks over, and Close unblocks it.
func NewReader(port Port, baud int, t Timeouts) *Reader {
	r := &Reader{
		port:     port,
		timeouts: t.withDefaults(),
		baud:     baud,
		chunks:   make(chan []byte, 256),
		dead:     make(chan struct{}),
	}
	if rt, ok := port.(readTimeouter); ok && rt.SetReadTimeout(readSlice) == nil {
		r.direct = true
		r.buf = make([]byte, 2048)
		return r
	}
	r.wg.Add(1)
	go r.readLoop()
	return r
}

func (r *Reader) readLoop() {
	defer r.wg.Done()
	defer close(r.dead)
	for {
		buf := make([]byte, 512)
		n, err := r.port.Read(buf)
		if n > 0 {
			r.chunks <- buf[:n]
		}
		if err != nil {
			r.deadErr = err
			return
		}
		if n == 0 {
			// A read timeout or a hung-up tty that reports nothing: do not
			// spin.
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// Close closes the port and waits for the read loop to end.
func (r *Reader) Close() error {
	var err error
	r.closeOnce.Do(func() {
		err = r.port.Close()
		if r.direct {
			return
		}
		go func() { // unblock a read loop stuck on a full channel
			for {
				select {
				case b := <-r.chunks:
					pii.Zero(b)
				case <-r.dead:
					return
				}
			}
		}()
		r.wg.Wait()
	})
	return err
}

// Baud returns the line rate the Reader believes the SAM runs at.
func (r *Reader) Baud() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.baud
}

// Counters returns the bytes written and read since the last call (for
// wire-time figures) and resets them.
func (r *Reader) Counters() (out, in int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out, in = r.out, r.in
	r.out, r.in = 0, 0
	return out, in
}

// Exchange sends one request and waits for its response frame. It returns
// ErrTimeout, ErrDisconnected, a *FrameError, or ctx.Err(); the status byte
// is not interpreted here.
func (r *Reader) Exchange(ctx context.Context, cmd Command, data []byte, timeout time.Duration) (Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exchange(ctx, cmd, data, timeout)
}

func (r *Reader) exchange(ctx context.Context, cmd Command, data []byte, timeout time.Duration) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, err
	}
	if r.direct {
		return r.exchangeDirect(ctx, cmd, data, timeout)
	}
	select {
	case <-r.dead:
		return Response{}, r.gone(cmd)
	default:
	}
	// Stale bytes (a late answer to an abandoned request) must not be taken
	// for this request's answer.
	for drained := false; !drained; {
		select {
		case b := <-r.chunks:
			pii.Zero(b)
		default:
			drained = true
		}
	}
	r.dec.Reset()
	req := Request{Cmd: cmd, Data: data}.Encode()
	if _, err := r.port.Write(req); err != nil {
		return Response{}, &OpError{Cmd: cmd, Err: gonePort(err)}
	}
	r.out += len(req)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var lastBad error
	for {
		if resp, done, err := r.nextAnswer(cmd, &lastBad); done {
			return resp, err
		}
		select {
		case b := <-r.chunks:
			r.dec.Write(b)
			pii.Zero(b)
		case <-r.dead:
			r.dec.Reset() // never hand on part of a frame
			return Response{}, r.gone(cmd)
		case <-timer.C:
			r.dec.Reset()
			if lastBad != nil {
				return Response{}, &OpError{Cmd: cmd, Err: lastBad}
			}
			return Response{}, &OpError{Cmd: cmd, Err: fmt.Errorf("%w after %s", ErrTimeout, timeout)}
		case <-ctx.Done():
			r.dec.Reset()
			return Response{}, ctx.Err()
		}
	}
}

// nextAnswer takes what the decoder holds: the answer (done), a corrupt
// whole frame (done, with the error: the SAM sends no second answer), or
// not done when more bytes are needed. A rejected frame that may have been
// garbage looking like a preamble is kept in lastBad.
func (r *Reader) nextAnswer(cmd Command, lastBad *error) (Response, bool, error) {
	for {
		body, ferr := r.dec.Next()
		if body != nil {
			r.in += len(body) + headerLen + 1
			resp, err := ParseResponse(body)
			if err != nil {
				return Response{}, true, &OpError{Cmd: cmd, Err: err}
			}
			return resp, true, nil
		}
		if ferr == nil {
			return Response{}, false, nil
		}
		if errors.Is(ferr, ErrChecksum) {
			r.dec.Reset()
			return Response{}, true, &OpError{Cmd: cmd, Err: ferr}
		}
		*lastBad = ferr
	}
}

type inputResetter interface{ ResetInputBuffer() error }

func (r *Reader) exchangeDirect(ctx context.Context, cmd Command, data []byte, timeout time.Duration) (Response, error) {
	if r.broken != nil {
		return Response{}, &OpError{Cmd: cmd, Err: gonePort(r.broken)}
	}
	if ir, ok := r.port.(inputResetter); ok {
		// Stale bytes (a late answer to an abandoned request) must not be
		// taken for this request's answer.
		if err := ir.ResetInputBuffer(); err != nil {
			r.broken = err
			return Response{}, &OpError{Cmd: cmd, Err: gonePort(err)}
		}
	}
	r.dec.Reset()
	req := Request{Cmd: cmd, Data: data}.Encode()
	if _, err := r.port.Write(req); err != nil {
		r.broken = err
		return Response{}, &OpError{Cmd: cmd, Err: gonePort(err)}
	}
	r.out += len(req)
	deadline := time.Now().Add(timeout)
	var lastBad error
	for {
		if resp, done, err := r.nextAnswer(cmd, &lastBad); done {
			return resp, err
		}
		if err := ctx.Err(); err != nil {
			r.dec.Reset()
			return Response{}, err
		}
		if !time.Now().Before(deadline) {
			r.dec.Reset()
			if lastBad != nil {
				return Response{}, &OpError{Cmd: cmd, Err: lastBad}
			}
			return Response{}, &OpError{Cmd: cmd, Err: fmt.Errorf("%w after %s", ErrTimeout, timeout)}
		}
		n, err := r.port.Read(r.buf)
		if n > 0 {
			r.dec.Write(r.buf[:n])
			pii.Zero(r.buf[:n])
		}
		if err != nil {
			r.broken = err
			r.dec.Reset() // never hand on part of a frame
			return Response{}, &OpError{Cmd: cmd, Err: gonePort(err)}
		}
	}
}

// OpError is a failed exchange: which command, and why (ErrTimeout,
// ErrDisconnected, a *FrameError, ...).
type OpError struct {
	Cmd Command
	Err error
}

func (e *OpError) Error() string {
	return "idcard: " + e.Cmd.String() + ": " + strings.TrimPrefix(e.Err.Error(), "idcard: ")
}

func (e *OpError) Unwrap() error { return e.Err }

// portError is a failed port: it matches ErrDisconnected and the cause.
type portError struct{ err error }

func (e *portError) Error() string   { return "the reader's serial port is gone: " + e.err.Error() }
func (e *portError) Unwrap() []error { return []error{ErrDisconnected, e.err} }

func gonePort(err error) error {
	if err == nil {
		return ErrDisconnected
	}
	return &portError{err}
}

func (r *Reader) gone(cmd Command) error {
	if r.deadErr != nil {
		return &OpError{Cmd: cmd, Err: gonePort(r.deadErr)}
	}
	return &OpError{Cmd: cmd, Err: ErrDisconnected}
}

// command runs an exchange and turns an unexpected SW3 into a *StatusError.
func (r *Reader) command(ctx context.Context, cmd Command, data []byte, timeout time.Duration, ok Status) (Response, error) {
	resp, err := r.exchange(ctx, cmd, data, timeout)
	if err != nil {
		return resp, err
	}
	if resp.SW3 != ok {
		return resp, &StatusError{Cmd: cmd, SW1: resp.SW1, SW2: resp.SW2, SW3: byte(resp.SW3)}
	}
	return resp, nil
}

func (r *Reader) short() time.Duration { return r.timeouts.Short + 2*WireTime(64, r.baud) }

// Reset resets the SAM (10 FF), which also drops the RF field; use it after
// a read error.
func (r *Reader) Reset(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := r.command(ctx, CmdResetSAM, nil, r.timeouts.Reset+2*WireTime(64, r.baud), StatusOK)
	return err
}

// Status runs the SAM self-test (11 FF): nil, or a *StatusError with SW3 60.
func (r *Reader) Status(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := r.command(ctx, CmdSAMStatus, nil, r.short(), StatusOK)
	return err
}

// SAMID reads the SAM's 16-byte ID (12 FF) and formats it as the Routon SDK
// does: u16le "." u16le "-" u32le ×3, padded 2/2/8/10/10 digits (other
// libraries pad differently; reference §3, §14).
func (r *Reader) SAMID(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	resp, err := r.command(ctx, CmdSAMID, nil, r.short(), StatusOK)
	if err != nil {
		return "", err
	}
	return FormatSAMID(resp.Data)
}

// FormatSAMID formats the 16 bytes of a SAM ID answer.
func FormatSAMID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("idcard: SAM ID: %w: %d bytes, want 16", ErrMalformed, len(b))
	}
	le := binary.LittleEndian
	return fmt.Sprintf("%02d.%02d-%08d-%010d-%010d", le.Uint16(b[0:]), le.Uint16(b[2:]),
		le.Uint32(b[4:]), le.Uint32(b[8:]), le.Uint32(b[12:])), nil
}

// ErrMalformed is an answer whose frame is sound but whose content does not
// have the layout the command defines.
var ErrMalformed = errors.New("idcard: malformed answer")

// Find looks for a card (20 01). It returns nil when one is on the antenna
// and an error matching ErrNoCard when not.
func (r *Reader) Find(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.find(ctx)
}

func (r *Reader) find(ctx context.Context) error {
	_, err := r.command(ctx, CmdFindCard, nil, r.short(), StatusFound)
	return err
}

// Select selects the found card (20 02).
func (r *Reader) Select(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.selectCard(ctx)
}

func (r *Reader) selectCard(ctx context.Context) error {
	_, err := r.command(ctx, CmdSelectCard, nil, r.short(), StatusOK)
	return err
}

// ReadBase reads the base message (30 01), or with fingerprint (30 10), of
// a selected card and decodes it. All sizes come from the answer's inner
// big-endian length fields (reference §5).
func (r *Reader) ReadBase(ctx context.Context, fingerprint bool) (idcard.Card, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readBase(ctx, fingerprint)
}

func (r *Reader) readBase(ctx context.Context, fingerprint bool) (idcard.Card, error) {
	cmd, timeout, nlen := CmdReadBase, r.timeouts.Read+2*WireTime(1295, r.baud), 2
	if fingerprint {
		cmd, timeout, nlen = CmdReadBaseFP, r.timeouts.ReadFP+2*WireTime(2321, r.baud), 3
	}
	resp, err := r.command(ctx, cmd, nil, timeout, StatusOK)
	if err != nil {
		pii.Zero(resp.Data)
		return idcard.Card{}, err
	}
	defer pii.Zero(resp.Data)
	d := resp.Data
	if len(d) < 2*nlen {
		return idcard.Card{}, fmt.Errorf("idcard: %s: %w: %d data bytes", cmd, ErrMalformed, len(d))
	}
	tl, pl, fl := int(binary.BigEndian.Uint16(d)), int(binary.BigEndian.Uint16(d[2:])), 0
	if fingerprint {
		fl = int(binary.BigEndian.Uint16(d[4:]))
	}
	if tl != idcard.TextLen || pl != idcard.PhotoLen || (fl != 0 && fl != 512 && fl != 1024) || len(d) != 2*nlen+tl+pl+fl {
		return idcard.Card{}, fmt.Errorf("idcard: %s: %w: lengths text %d photo %d fingerprint %d in %d data bytes",
			cmd, ErrMalformed, tl, pl, fl, len(d))
	}
	d = d[2*nlen:]
	c, err := idcard.DecodeText(d[:tl])
	if err != nil {
		return idcard.Card{}, err
	}
	c.Photo = append([]byte(nil), d[tl:tl+pl]...)
	if fl > 0 {
		c.Fingerprint = append([]byte(nil), d[tl+pl:]...)
	}
	return c, nil
}

// ReadNewAddresses reads the appended (newest) addresses (30 03) after a
// base read of the same card; nil when the card has none (SW3 91).
func (r *Reader) ReadNewAddresses(ctx context.Context) ([]pii.Text, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readNewAddresses(ctx)
}

func (r *Reader) readNewAddresses(ctx context.Context) ([]pii.Text, error) {
	resp, err := r.exchange(ctx, CmdReadNewAddr, nil, r.timeouts.Read+2*WireTime(300, r.baud))
	if err != nil {
		return nil, err
	}
	defer pii.Zero(resp.Data)
	switch resp.SW3 {
	case StatusNoContent:
		return nil, nil
	case StatusOK:
	default:
		return nil, &StatusError{Cmd: CmdReadNewAddr, SW1: resp.SW1, SW2: resp.SW2, SW3: byte(resp.SW3)}
	}
	if len(resp.Data)%70 != 0 || len(resp.Data) > 4*70 {
		return nil, fmt.Errorf("idcard: %s: %w: %d bytes is not N×70, N ≤ 4", CmdReadNewAddr, ErrMalformed, len(resp.Data))
	}
	var out []pii.Text
	for i := 0; i < len(resp.Data); i += 70 {
		if s, _ := idcard.DecodeAddress(resp.Data[i : i+70]); s != "" {
			out = append(out, pii.Text(s))
		}
	}
	return out, nil
}

// SetMaxRFBytes sets the largest RF frame the SAM uses with the card (61 FF
// + n, valid 24..255; integrations send 0x50 once after start-up; reference §3).
func (r *Reader) SetMaxRFBytes(ctx context.Context, n int) error {
	if n < 24 || n > 255 {
		return fmt.Errorf("idcard: set max RF frame bytes: %d is outside 24..255", n)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := r.command(ctx, CmdSetMaxRFByte, []byte{byte(n)}, r.short(), StatusOK)
	return err
}

// SetBaud switches the SAM to baud (60 xx) and, once it acknowledged at the
// old rate, the port too. The port must be a BaudSetter.
func (r *Reader) SetBaud(ctx context.Context, baud int) error {
	code, ok := rateCode(baud)
	if !ok {
		return fmt.Errorf("idcard: set baud rate: %d is not a GA 467 rate", baud)
	}
	bs, ok := r.port.(BaudSetter)
	if !ok {
		return fmt.Errorf("idcard: set baud rate: the port cannot change its rate")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.command(ctx, CmdSetBaud|Command(code), nil, r.short(), StatusOK); err != nil {
		return err
	}
	if err := bs.SetBaud(baud); err != nil {
		return fmt.Errorf("idcard: set baud rate: port: %w", gonePort(err))
	}
	r.baud = baud
	return nil
}

// Probe finds the rate the SAM answers at: the current rate first, then the
// others fastest first, sending SAM status (11 FF) at each until a frame
// comes back (reference §12). The port is left at the rate found.
func (r *Reader) Probe(ctx context.Context) (int, error) {
	bs, ok := r.port.(BaudSetter)
	r.mu.Lock()
	defer r.mu.Unlock()
	order := []int{r.baud}
	if ok {
		for _, b := range Rates {
			if b != r.baud {
				order = append(order, b)
			}
		}
	}
	var last error
	for _, b := range order {
		if b != r.baud {
			if err := bs.SetBaud(b); err != nil {
				return 0, fmt.Errorf("idcard: probe: %w", gonePort(err))
			}
			r.baud = b
		}
		_, err := r.exchange(ctx, CmdSAMStatus, nil, r.short())
		if err == nil {
			return b, nil // any answer proves the rate; the status is checked by the caller
		}
		if errors.Is(err, ErrDisconnected) || ctx.Err() != nil {
			return 0, err
		}
		last = err
	}
	return 0, fmt.Errorf("idcard: probe: no answer at any rate: %w", last)
}

// Timing is how long one card read took and how many bytes it exchanged.
type Timing struct {
	Find, Select, Read time.Duration
	BytesOut, BytesIn  int
	Baud               int
}

// Total is the time from the first find to the decoded card.
func (t Timing) Total() time.Duration { return t.Find + t.Select + t.Read }

// Wire is the time the exchanged bytes take on the line at Baud.
func (t Timing) Wire() time.Duration { return WireTime(t.BytesOut+t.BytesIn, t.Baud) }

// ReadCard authenticates and reads the card on the antenna: find (retried
// once when it reports no card, as vendor code does), select, and read the
// base message (with fingerprint when asked). The whole sequence holds the
// port.
func (r *Reader) ReadCard(ctx context.Context, fingerprint bool) (idcard.Card, Timing, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := Timing{Baud: r.baud}
	out0, in0 := r.out, r.in
	done := func() {
		t.BytesOut, t.BytesIn = r.out-out0, r.in-in0
	}
	start := time.Now()
	err := r.find(ctx)
	if errors.Is(err, ErrNoCard) {
		err = r.find(ctx)
	}
	t.Find = time.Since(start)
	if err != nil {
		done()
		return idcard.Card{}, t, err
	}
	c, err := r.selectAndRead(ctx, fingerprint, &t)
	done()
	return c, t, err
}

func (r *Reader) selectAndRead(ctx context.Context, fingerprint bool, t *Timing) (idcard.Card, error) {
	start := time.Now()
	err := r.selectCard(ctx)
	t.Select = time.Since(start)
	if err != nil {
		return idcard.Card{}, err
	}
	start = time.Now()
	c, err := r.readBase(ctx, fingerprint)
	t.Read = time.Since(start)
	return c, err
}
