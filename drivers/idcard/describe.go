package idcard

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"
	"time"

	"eidkiosk/internal/pii"
)

// Field is one labelled value of a card for a technician's display.
type Field struct {
	Key   string `json:"key"`   // stable name, e.g. "number"
	Label string `json:"label"` // English label
	Value string `json:"value"` // masked unless revealed
}

// Fields lists the card's fields for display. Personal values are masked
// (name "张*", number "4401**********123X", birth date year only, address
// first character) unless reveal is set, which a technician asks for
// explicitly. Fields the card's kind does not carry are left out.
func (c Card) Fields(reveal bool) []Field {
	name := func(t pii.Text) string {
		if reveal {
			return t.Reveal()
		}
		return pii.Mask(t.Reveal(), 0)
	}
	id := func(t pii.Text) string {
		if reveal {
			return t.Reveal()
		}
		return pii.MaskID(t.Reveal())
	}
	date := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format("2006-01-02")
	}
	birth := date(c.BirthDate)
	if !reveal && birth != "" {
		birth = birth[:4] + "-**-**"
	}
	to := date(c.ValidTo)
	if c.NoExpiry {
		to = "长期 (no expiry)"
	}
	var fs []Field
	add := func(key, label, v string) {
		if v != "" {
			fs = append(fs, Field{key, label, v})
		}
	}
	add("kind", "Kind", c.Kind.String())
	add("name", "Name", name(c.Name))
	add("name_en", "English name", name(c.NameEN))
	if c.Gender != "" {
		add("gender", "Gender", c.Gender+" "+GenderName(c.Gender, "zh")+" / "+GenderName(c.Gender, "en"))
	}
	if c.Ethnic != "" {
		add("ethnic", "Ethnic group", c.Ethnic+" "+EthnicName(c.Ethnic))
	}
	if c.Nationality != "" {
		add("nationality", "Nationality", c.Nationality+" "+NationalityName(c.Nationality, "zh")+" / "+NationalityName(c.Nationality, "en"))
	}
	add("birth", "Birth date", birth)
	add("address", "Address", name(c.Address))
	for i, a := range c.NewAddresses {
		add(fmt.Sprintf("new_address_%d", i+1), fmt.Sprintf("New address %d", i+1), name(a))
	}
	add("number", "Number", id(c.Number))
	add("pass_number", "Pass number", id(c.PassNumber))
	add("issue_count", "Issue count", c.IssueCount)
	add("renewal_count", "Renewal count", c.RenewalCount)
	add("card_version", "Card version", c.CardVersion)
	add("authority", "Authority", c.Authority)
	add("valid_from", "Valid from", date(c.ValidFrom))
	add("valid_to", "Valid to", to)
	add("prev_link", "Previous card link", c.PrevLink)
	add("photo", "Photo", fmt.Sprintf("%d bytes WLT", len(c.Photo)))
	if len(c.Fingerprint) > 0 {
		add("fingerprint", "Fingerprint", fmt.Sprintf("%d bytes (%d templates)", len(c.Fingerprint), len(c.Fingerprint)/512))
	}
	return fs
}

// Check is the outcome of a technician's reader check (CheckReader).
type Check struct {
	Port       string        `json:"port"`
	Baud       int           `json:"baud"` // the rate the SAM answered at
	SAMID      string        `json:"sam_id"`
	Connect    time.Duration `json:"connect_ns"` // open + status + SAM ID
	Card       Card          `json:"-"`
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
	case CardRead:
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
	case CardReadFailed:
		fmt.Fprintf(&b, ": %v", e.Err)
		if e.Invalid {
			b.WriteString(" (data read but invalid)")
		}
	case ReaderFault:
		fmt.Fprintf(&b, ": %v", e.Err)
	case ReaderBack:
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
