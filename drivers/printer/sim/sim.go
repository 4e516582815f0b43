// Package sim is an ESC/POS receipt printer simulator for tests and demos:
// it serves the master side of a pty (github.com/creack/pty), records and
// parses every byte with printer.Decoder, and answers DLE EOT status
// requests from its paper and cover state.
//
// It does not render the receipt to an image.
package sim

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"eidkiosk/drivers/internal/simpty"
	"eidkiosk/drivers/printer"
)

// Printer is a simulated printer. Set its state with the setters; read what
// it printed with Document and Raw.
type Printer struct {
	mu        sync.Mutex
	dec       *printer.Decoder
	raw       []byte
	paperOut  bool
	paperLow  bool
	coverOpen bool
	silent    bool
	decErr    error
	w         io.Writer
	closers   []io.Closer
}

// New returns a printer with paper and its cover closed.
func New() *Printer {
	s := &Printer{dec: printer.NewDecoder()}
	s.dec.OnStatus = s.answer
	return s
}

// SetPaper sets the paper sensor: out, or near its end (low).
func (s *Printer) SetPaper(out, low bool) {
	s.mu.Lock()
	s.paperOut, s.paperLow = out, low
	s.mu.Unlock()
}

// SetCoverOpen opens or closes the cover.
func (s *Printer) SetCoverOpen(open bool) {
	s.mu.Lock()
	s.coverOpen = open
	s.mu.Unlock()
}

// SetSilent makes the printer ignore status requests, like one whose
// automatic status is off.
func (s *Printer) SetSilent(v bool) {
	s.mu.Lock()
	s.silent = v
	s.mu.Unlock()
}

// answer runs under s.mu (from Decoder.Write in Serve).
func (s *Printer) answer(n byte) {
	if s.silent || s.w == nil {
		return
	}
	b := byte(0x12)
	switch n {
	case 2:
		if s.coverOpen {
			b |= 0x04
		}
		if s.paperOut {
			b |= 0x20
		}
	case 4:
		if s.paperOut {
			b |= 0x60
		}
		if s.paperLow {
			b |= 0x0c
		}
	}
	_, _ = s.w.Write([]byte{b})
}

// Serve reads the printer's input from rw until it fails (the other side
// closed) and answers status requests on it.
func (s *Printer) Serve(rw io.ReadWriter) error {
	s.mu.Lock()
	s.w = rw
	s.mu.Unlock()
	buf := make([]byte, 4096)
	for {
		n, err := rw.Read(buf)
		if n > 0 {
			s.mu.Lock()
			s.raw = append(s.raw, buf[:n]...)
			if s.decErr == nil {
				_, s.decErr = s.dec.Write(buf[:n])
			}
			s.mu.Unlock()
		}
		if err != nil {
			return err
		}
	}
}

// Raw returns every byte received.
func (s *Printer) Raw() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.raw...)
}

// Document returns what was printed so far, and the first parse error.
func (s *Printer) Document() (printer.Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dec.Document(), s.decErr
}

// Len returns how many bytes were received.
func (s *Printer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.raw)
}

// WaitLen waits until n bytes were received, or ctx ends: a driver's Print
// returns once its bytes are written, before the printer has read them.
func (s *Printer) WaitLen(ctx context.Context, n int) error {
	for s.Len() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("printer sim: received %d of %d bytes: %w", s.Len(), n, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// Open serves a simulated printer on a pty until ctx ends and opens the
// real driver on it (9600 baud), as the kiosk opens a serial printer.
func Open(ctx context.Context, opt printer.Options) (*printer.Printer, *Printer, error) {
	s, path, err := Pty(ctx)
	if err != nil {
		return nil, nil, err
	}
	p, err := printer.Open(path, 9600, opt)
	if err != nil {
		s.Unplug()
		return nil, nil, err
	}
	return p, s, nil
}

// Pty serves a new simulated printer on a pty until ctx ends. It returns
// the path of the pty's terminal side, to open like a serial port.
func Pty(ctx context.Context) (*Printer, string, error) {
	ptmx, tty, err := simpty.Open()
	if err != nil {
		return nil, "", fmt.Errorf("printer sim: pty: %w", err)
	}
	s := New()
	name := tty.Name()
	// Keep the terminal side open while serving, so the master does not
	// see EIO between the printer's opens and closes.
	s.closers = []io.Closer{ptmx, tty}
	go func() {
		<-ctx.Done()
		s.Unplug()
	}()
	go func() { _ = s.Serve(ptmx) }() // ends when the pty is closed
	return s, name, nil
}

// Unplug closes a printer served by Pty, as if its cable were pulled: the
// port's reads and writes fail from now on.
func (s *Printer) Unplug() {
	s.mu.Lock()
	cs := s.closers
	s.closers = nil
	s.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
	}
}
