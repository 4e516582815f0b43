package idcard

import (
	"fmt"
	"log/slog"
	"time"

	"eidkiosk/internal/pii"
)

// Kind is the type of document read from the chip, chosen by the marker at
// byte 248 of the text block.
type Kind int

const (
	KindUnknown     Kind = iota
	KindResident         // 居民身份证 (GA/T 490), marker ' '
	KindForeign2017      // 外国人永久居留身份证 2017, marker 'I'
	KindForeign2023      // 外国人永久居留身份证 2023, marker 'Y'
	KindHKMOTW           // 港澳台居民居住证, marker 'J'
)

// Known reports whether k is one of the four kinds of document.
func (k Kind) Known() bool { return k >= KindResident && k <= KindHKMOTW }

func (k Kind) String() string {
	switch k {
	case KindResident:
		return "resident"
	case KindForeign2017:
		return "foreign-2017"
	case KindForeign2023:
		return "foreign-2023"
	case KindHKMOTW:
		return "hkmotw-permit"
	}
	return "unknown"
}

// Card is one document as read from the chip. Personal fields are pii.Text
// and the whole value prints as redacted (fmt and slog), so a Card can never
// leak into a log line by accident.
//
// Fields that a card type does not carry are left zero.
type Card struct {
	Kind Kind

	Name         pii.Text // Chinese name (resident, J, Y; Chinese name of I if present)
	NameEN       pii.Text // English name (I, Y), "SURNAME,GIVEN" as printed
	Gender       string   // GB/T 2261.1 code: "0", "1", "2", "9"
	Ethnic       string   // GB 3304 two-digit code (resident only), raw
	Nationality  string   // ISO 3166 alpha-3 (I, Y)
	BirthDate    time.Time
	Address      pii.Text // resident and J
	Number       pii.Text // citizen ID / permit / card number
	Authority    string   // issuing authority text (resident, J) or accepting-authority code (I)
	ValidFrom    time.Time
	ValidTo      time.Time // zero when NoExpiry
	NoExpiry     bool      // valid-to reads 长期
	PassNumber   pii.Text  // J: HK/Macau/Taiwan pass number
	IssueCount   string    // J: issue count
	RenewalCount string    // Y: 换证次数
	CardVersion  string    // I: card version
	PrevLink     string    // Y: link to previous card number

	// The dates as the chip writes them, "YYYYMMDD" (ValidToText is "长期"
	// when NoExpiry), kept beside the parsed times above: the enrollment
	// record carries these strings as read, so no date is converted twice.
	// DecodeText fills them; a card built in code gets them from
	// WithChipDates.
	BirthDateText string
	ValidFromText string
	ValidToText   string

	// NewAddresses are the appended (newest) addresses (command 30 03),
	// read only when asked (Options.NewAddress); newest last.
	NewAddresses []pii.Text

	// Raw chip data, kept untouched for the authority.
	Text        []byte // the 256-byte UCS-2LE text block
	Photo       []byte // the 1024-byte WLT photo
	Fingerprint []byte // 0, 512 or 1024 bytes of fingerprint templates
}

// Format implements fmt.Formatter: a Card prints only its kind.
func (c Card) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "idcard.Card{kind=%s %s}", c.Kind, pii.Redacted)
}

// LogValue implements slog.LogValuer.
func (c Card) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", c.Kind.String()), slog.String("fields", pii.Redacted))
}

// Expired reports whether the card is past its valid-to date at now (the card
// stays valid through the whole valid-to day, in China Standard Time).
func (c Card) Expired(now time.Time) bool {
	if c.NoExpiry || c.ValidTo.IsZero() {
		return false
	}
	return !now.Before(c.ValidTo.AddDate(0, 0, 1))
}

// WithChipDates returns c with every empty chip date string filled from
// its parsed time (DateText), for cards built in code rather than read.
func (c Card) WithChipDates() Card {
	if c.BirthDateText == "" {
		c.BirthDateText = DateText(c.BirthDate)
	}
	if c.ValidFromText == "" {
		c.ValidFromText = DateText(c.ValidFrom)
	}
	if c.ValidToText == "" {
		c.ValidToText = DateText(c.ValidTo)
		if c.NoExpiry {
			c.ValidToText = LongTerm
		}
	}
	return c
}

// Wipe zeroes the raw byte fields and clears every field of c.
func (c *Card) Wipe() {
	pii.Zero(c.Text)
	pii.Zero(c.Photo)
	pii.Zero(c.Fingerprint)
	*c = Card{}
}
