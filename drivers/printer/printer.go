package printer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"go.bug.st/serial"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// Port is what the printer needs of a serial port; go.bug.st/serial's Port
// satisfies it. A Read that times out returns 0, nil.
type Port interface {
	io.ReadWriteCloser
	SetReadTimeout(t time.Duration) error
}

// Options tunes the printer. The zero value prints the QR code natively,
// the station name in GB18030, and checks paper before each receipt.
type Options struct {
	RasterQR   bool           // draw the QR code as an image (printers without GS ( k)
	ASCII      bool           // the printer has no Chinese font: print English only
	SkipStatus bool           // the printer never answers DLE EOT
	StatusWait time.Duration  // how long to wait for a status byte; default 500ms
	Location   *time.Location // for the printed time; default time.Local
	QRModule   int            // dots per QR module; default 6
}

// Receipt is what one receipt says. It carries no personal data.
type Receipt struct {
	Station string    // the heading: the station's name
	Number  string    // the enrollment number, printed large; printable ASCII, e.g. "NS01-7K3Q-9D"
	QR      string    // payload of the QR code the phone scans to bind the eID
	At      time.Time // when the enrollment was saved
	Sent    bool      // already acknowledged by the authority (else "saved, it will be sent")
}

// Sentinel errors for the states the kiosk acts on (a message on screen,
// the red LED's printer code).
var (
	ErrPaperOut   = errors.New("printer: out of paper")
	ErrCoverOpen  = errors.New("printer: cover open")
	ErrFault      = errors.New("printer: reports an error (cutter or head)")
	ErrNoAnswer   = errors.New("printer: no answer to a status request (off, unplugged, or set printer.status_check = false)")
	ErrBadReceipt = errors.New("printer: receipt has no enrollment number or QR payload")
	ErrGone       = errors.New("printer: gone (unplugged or powered off)")
)

// gone turns the errors of a vanished serial device into ErrGone.
func gone(err error) error {
	var pe *serial.PortError
	if errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ENXIO) || errors.Is(err, syscall.ENODEV) ||
		(errors.As(err, &pe) && pe.Code() == serial.PortClosed) {
		return fmt.Errorf("%w: %v", ErrGone, err)
	}
	return err
}

// Printer is an ESC/POS receipt printer. Its methods are safe for
// concurrent use; one receipt prints at a time.
type Printer struct {
	port Port
	opt  Options
	mu   sync.Mutex
}

// Open opens the serial device name at baud (8N1).
func Open(name string, baud int, opt Options) (*Printer, error) {
	p, err := serial.Open(name, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return nil, fmt.Errorf("printer: open %s: %w", name, err)
	}
	return New(p, opt), nil
}

// New returns a Printer on an open port.
func New(port Port, opt Options) *Printer {
	if opt.StatusWait <= 0 {
		opt.StatusWait = 500 * time.Millisecond
	}
	if opt.Location == nil {
		opt.Location = time.Local
	}
	if opt.QRModule <= 0 {
		opt.QRModule = 6
	}
	return &Printer{port: port, opt: opt}
}

// Close closes the port.
func (p *Printer) Close() error { return p.port.Close() }

// Status is the printer's paper and cover state.
type Status struct {
	CoverOpen bool
	PaperOut  bool
	PaperLow  bool // near end: print, but tell the technician
	Fault     bool
}

// Err returns the sentinel error for a state that stops printing, or nil.
func (s Status) Err() error {
	switch {
	case s.PaperOut:
		return ErrPaperOut
	case s.CoverOpen:
		return ErrCoverOpen
	case s.Fault:
		return ErrFault
	}
	return nil
}

// Status asks the printer for its offline cause (DLE EOT 2) and its paper
// sensor (DLE EOT 4).
func (p *Printer) Status(ctx context.Context) (Status, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status(ctx)
}

func (p *Printer) status(ctx context.Context) (Status, error) {
	var st Status
	off, err := p.query(ctx, 2)
	if err != nil {
		return st, err
	}
	paper, err := p.query(ctx, 4)
	if err != nil {
		return st, err
	}
	st.CoverOpen = off&0x04 != 0
	st.Fault = off&0x40 != 0
	st.PaperOut = off&0x20 != 0 || paper&0x60 != 0
	st.PaperLow = paper&0x0c != 0
	return st, nil
}

// query sends DLE EOT n and reads the one-byte answer, whose fixed bits
// (0xx1 xx10) tell it from noise.
func (p *Printer) query(ctx context.Context, n byte) (byte, error) {
	if err := p.write(ctx, statusQuery(n)); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(p.opt.StatusWait)
	buf := make([]byte, 1)
	for {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("printer: %w", err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return 0, ErrNoAnswer
		}
		if err := p.port.SetReadTimeout(min(left, 100*time.Millisecond)); err != nil {
			return 0, fmt.Errorf("printer: %w", err)
		}
		k, err := p.port.Read(buf)
		if err != nil {
			if g := gone(err); g != err {
				return 0, g
			}
			return 0, fmt.Errorf("printer: reading status: %w", err)
		}
		if k == 1 && buf[0]&0x93 == 0x12 {
			return buf[0], nil
		}
	}
}

func (p *Printer) write(ctx context.Context, b []byte) error {
	for len(b) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("printer: %w", err)
		}
		n := min(len(b), 256)
		k, err := p.port.Write(b[:n])
		if err != nil {
			if g := gone(err); g != err {
				return g
			}
			return fmt.Errorf("printer: write: %w", err)
		}
		b = b[k:]
	}
	return nil
}

// Print prints r. It checks the paper first unless Options.SkipStatus;
// nothing is printed when the printer cannot finish.
func (p *Printer) Print(ctx context.Context, r Receipt) error {
	data, err := p.Render(r)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.opt.SkipStatus {
		st, err := p.status(ctx)
		if err != nil {
			return err
		}
		if err := st.Err(); err != nil {
			return err
		}
	}
	if err := p.write(ctx, data); err != nil {
		return err
	}
	if d, ok := p.port.(interface{ Drain() error }); ok {
		if err := d.Drain(); err != nil {
			return fmt.Errorf("printer: drain: %w", err)
		}
	}
	return nil
}

// Render returns the ESC/POS bytes of a receipt.
func (p *Printer) Render(r Receipt) ([]byte, error) {
	station := r.Station
	if !printableASCII(r.Number) || r.QR == "" {
		return nil, ErrBadReceipt
	}
	var b builder
	b.init()
	b.align(AlignCenter)
	text := func(zh, en string) error {
		if p.opt.ASCII || zh == "" {
			b.line([]byte(asciiOnly(en)))
			return nil
		}
		s := zh
		if en != "" {
			s += " " + en
		}
		gb, err := simplifiedchinese.GB18030.NewEncoder().String(s)
		if err != nil {
			return fmt.Errorf("printer: encoding text: %w", err)
		}
		b.chinese(true)
		b.line([]byte(gb))
		b.chinese(false)
		return nil
	}
	b.bold(true)
	if p.opt.ASCII || isASCII(station) {
		b.line([]byte(asciiOnly(station)))
	} else if err := text(station, ""); err != nil {
		return nil, err
	}
	b.bold(false)
	b.line([]byte(strings.Repeat("-", 32)))
	if err := text("登记号", "Enrollment number"); err != nil {
		return nil, err
	}
	b.size(2, 2)
	b.bold(true)
	b.line([]byte(r.Number))
	b.bold(false)
	b.size(1, 1)
	b.line([]byte(r.At.In(p.opt.Location).Format("2006-01-02 15:04")))
	var err error
	if r.Sent {
		err = text("已提交", "Sent to the authority")
	} else {
		err = text("已保存，将自动提交", "Saved; it will be sent")
	}
	if err != nil {
		return nil, err
	}
	b.feed(1)
	if p.opt.RasterQR {
		err = b.qrRaster(r.QR, p.opt.QRModule)
	} else {
		err = b.qrNative([]byte(r.QR), byte(p.opt.QRModule))
	}
	if err != nil {
		return nil, err
	}
	b.WriteByte(lf)
	if err := text("请用手机 eID 应用扫码", "Scan with the eID app"); err != nil {
		return nil, err
	}
	b.feed(3)
	b.cut()
	return b.Bytes(), nil
}

func isASCII(s string) bool {
	for _, r := range s {
		if r > unicode.MaxASCII {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return false
		}
	}
	return s != ""
}

// asciiOnly drops characters a printer without a Chinese font cannot print
// and collapses the spaces left behind.
func asciiOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			b.WriteRune(r)
		} else {
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
