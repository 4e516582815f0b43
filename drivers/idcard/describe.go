package idcard

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"
	"time"

	"eidkiosk/idcard"
)

// Check is the outcome of a technician's reader check (CheckReader).
type Check struct {
	Port       string        `json:"port"`
	Baud       int           `json:"baud"` // the rate the SAM answered at
	SAMID      string        `json:"sam_id"`
	Connect    time.Duration `json:"connect_ns"` // open + status + SAM ID
	Card       idcard.Card   `json:"-"`
	Timing     Timing        `json:"timing"`
	Photo      image.Image   `json:"-"`
	PhotoErr   error         `json:"-"`
	PhotoTaken time.Duration `json:"photo_ns,omitempty"`
}

// CheckOptions configure CheckReader.
type CheckOptions struct {
	Port        string
	Baud        int // 0: 115200
	Probe       bool
	Fingerprint bool
	Wait        time.Duration // how long to wait for a card; 0: 10s
	Photo       PhotoDecoder
	// Progress, when set, is told what the check is doing (waiting for a
	// card…), so an operator never watches silence.
	Progress func(msg string)
	Open     func(path string, baud int) (Port, error) // nil: OpenSerial
}

// CheckReader opens the reader, checks the SAM (self-test, SAM ID; probing
// the rate if asked and needed), waits for a card and reads it once. The
// caller owns ch.Card and should Wipe it.
func CheckReader(ctx context.Context, o CheckOptions) (ch Check, err error) {
	if o.Baud == 0 {
		o.Baud = 115200
	}
	if o.Wait <= 0 {
		o.Wait = 10 * time.Second
	}
	if o.Open == nil {
		o.Open = func(path string, baud int) (Port, error) { return OpenSerial(path, baud) }
	}
	say := func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(format, args...))
		}
	}
	ch.Port = o.Port
	start := time.Now()
	port, err := o.Open(o.Port, o.Baud)
	if err != nil {
		return ch, err
	}
	r := NewReader(port, o.Baud, Timeouts{})
	defer r.Close()
	err = r.Status(ctx)
	if errors.Is(err, ErrTimeout) && o.Probe {
		say("no answer at %d baud; probing the other rates", o.Baud)
		if _, err = r.Probe(ctx); err == nil {
			err = r.Status(ctx)
		}
	}
	if err != nil {
		return ch, err
	}
	ch.Baud = r.Baud()
	if ch.SAMID, err = r.SAMID(ctx); err != nil {
		return ch, err
	}
	ch.Connect = time.Since(start)
	say("reader answers at %d baud, SAM %s", ch.Baud, ch.SAMID)
	deadline := time.Now().Add(o.Wait)
	said := false
	for {
		err = r.Find(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNoCard) {
			return ch, err
		}
		if !said {
			say("waiting up to %s for a card on the reader", o.Wait.Round(time.Second))
			said = true
		}
		if time.Now().After(deadline) {
			return ch, fmt.Errorf("idcard: no card placed within %s: %w", o.Wait, ErrNoCard)
		}
		select {
		case <-ctx.Done():
			return ch, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
	r.Counters()
	ch.Card, ch.Timing, err = r.ReadCard(ctx, o.Fingerprint)
	if err != nil {
		return ch, err
	}
	if o.Photo != nil {
		t := time.Now()
		ch.Photo, ch.PhotoErr = o.Photo.DecodePhoto(ctx, ch.Card.Photo)
		ch.PhotoTaken = time.Since(t)
	}
	return ch, nil
}

// Describe formats an event for a technician's console, masked unless
// reveal.
func (e Event) Describe(reveal bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", e.At.Format("15:04:05.000"), e.Kind)
	switch e.Kind {
	case idcard.CardRead:
		for _, f := range e.Card.Fields(reveal) {
			fmt.Fprintf(&b, "\n  %-18s %s", f.Label, f.Value)
		}
		fmt.Fprintf(&b, "\n  %-18s %s", "Timing", e.Timing)
		switch {
		case e.Photo != nil:
			fmt.Fprintf(&b, "\n  %-18s decoded %dx%d", "Photo picture", e.Photo.Bounds().Dx(), e.Photo.Bounds().Dy())
		case e.PhotoErr != nil:
			fmt.Fprintf(&b, "\n  %-18s %v", "Photo picture", e.PhotoErr)
		}
	case idcard.CardReadFailed:
		fmt.Fprintf(&b, ": %v", e.Err)
		if e.Invalid {
			b.WriteString(" (data read but invalid)")
		}
	case idcard.ReaderFault:
		fmt.Fprintf(&b, ": %v", e.Err)
	case idcard.ReaderBack:
		fmt.Fprintf(&b, ": SAM %s at %d baud", e.SAMID, e.Baud)
	}
	return b.String()
}

// String summarises the timing: total, per step, bytes and wire time.
func (t Timing) String() string {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }
	return fmt.Sprintf("%s (find %s, select %s, read %s); %d bytes out, %d in; wire %s at %d baud",
		ms(t.Total()), ms(t.Find), ms(t.Select), ms(t.Read), t.BytesOut, t.BytesIn, ms(t.Wire()), t.Baud)
}
