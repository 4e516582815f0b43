package enroll

import (
	"fmt"
	"log/slog"

	"eidkiosk/idcard"
	"eidkiosk/internal/pii"
)

// SchemaVersion is the version of Record this package writes.
const SchemaVersion = 1

// Record is one enrollment as the authority receives it: what the authority
// needs and nothing more (no fingerprint templates, no raw video). Times are
// Unix milliseconds. It holds personal data in clear and therefore prints as
// redacted; it is only ever encoded inside a sealed package.
type Record struct {
	Version      int      `cbor:"1,keyasint"`
	EnrollmentID string   `cbor:"2,keyasint"`
	DeviceID     string   `cbor:"3,keyasint"`
	StationID    string   `cbor:"4,keyasint"`
	Software     string   `cbor:"5,keyasint"`
	Started      int64    `cbor:"6,keyasint"`
	Finished     int64    `cbor:"7,keyasint"`
	Sealed       int64    `cbor:"8,keyasint"`
	Card         Card     `cbor:"9,keyasint"`
	Portrait     []byte   `cbor:"10,keyasint"` // live portrait, JPEG
	Quality      []Metric `cbor:"11,keyasint"`
	Liveness     Liveness `cbor:"12,keyasint"`
	Consent      Consent  `cbor:"13,keyasint"`
	// BindingCode is the secret half of the receipt's QR code: the citizen's
	// phone proves it saw the receipt by presenting it to the authority.
	BindingCode string `cbor:"14,keyasint"`
	// FaceMatch is the kiosk's 1:1 comparison with the decoded card photo;
	// nil when the kiosk could not decode the photo (no licensed decoder).
	FaceMatch *FaceMatch `cbor:"15,keyasint,omitempty"`
	// MatchFrames are frames of the capture (JPEG) that, with the portrait
	// and the liveness evidence, make the live template of the 1:1 face
	// comparison (at least five usable frames).
	MatchFrames [][]byte `cbor:"16,keyasint,omitempty"`
}

// FaceMatch is the kiosk's comparison of the live capture with the card
// photo: the decision (match or refer; a no_match ends the visit) and the
// score, for the authority's officers.
type FaceMatch struct {
	Decision string  `cbor:"1,keyasint"` // "match" or "refer"
	Score    float64 `cbor:"2,keyasint"`
	Frames   int     `cbor:"3,keyasint"` // capture frames in the live template
}

// Card is the card's data as read from the chip. Dates are the chip's own
// "YYYYMMDD" strings (idcard.Card's …Text fields), carried unconverted;
// empty when absent, ValidTo empty when NoExpiry.
type Card struct {
	Kind         idcard.Kind `cbor:"1,keyasint"`
	Name         string      `cbor:"2,keyasint"`
	NameEN       string      `cbor:"3,keyasint,omitempty"`
	Gender       string      `cbor:"4,keyasint"`
	Ethnic       string      `cbor:"5,keyasint,omitempty"`
	Nationality  string      `cbor:"6,keyasint,omitempty"`
	BirthDate    string      `cbor:"7,keyasint"`
	Address      string      `cbor:"8,keyasint,omitempty"`
	Number       string      `cbor:"9,keyasint"`
	Authority    string      `cbor:"10,keyasint,omitempty"`
	ValidFrom    string      `cbor:"11,keyasint,omitempty"`
	ValidTo      string      `cbor:"12,keyasint,omitempty"`
	NoExpiry     bool        `cbor:"13,keyasint,omitempty"`
	PassNumber   string      `cbor:"14,keyasint,omitempty"`
	IssueCount   string      `cbor:"15,keyasint,omitempty"`
	RenewalCount string      `cbor:"16,keyasint,omitempty"`
	CardVersion  string      `cbor:"17,keyasint,omitempty"`
	PrevLink     string      `cbor:"18,keyasint,omitempty"`
	Text         []byte      `cbor:"19,keyasint"`           // raw 256-byte text block
	Photo        []byte      `cbor:"20,keyasint,omitempty"` // raw 1024-byte WLT photo
}

// Metric is one quality value of the chosen portrait frame.
type Metric struct {
	Name      string  `cbor:"1,keyasint"`
	Value     float64 `cbor:"2,keyasint"`
	Threshold float64 `cbor:"3,keyasint"`
	Pass      bool    `cbor:"4,keyasint"`
}

// Liveness is the kiosk's verdict with its evidence; the authority decides.
type Liveness struct {
	Live       bool               `cbor:"1,keyasint"`
	Challenges []string           `cbor:"2,keyasint"`
	Passed     []bool             `cbor:"3,keyasint"`
	Scores     map[string]float64 `cbor:"4,keyasint"`
	Evidence   [][]byte           `cbor:"5,keyasint"` // down-scaled JPEG frames
	TimingsMS  []int64            `cbor:"6,keyasint"`
	Nonce      []byte             `cbor:"7,keyasint"`
}

// Consent is what the citizen agreed to.
type Consent struct {
	TextVersion string `cbor:"1,keyasint"`
	Language    string `cbor:"2,keyasint"`
	At          int64  `cbor:"3,keyasint"`
}

// Format implements fmt.Formatter: a Record prints only its IDs.
func (r Record) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "enroll.Record{id=%s device=%s station=%s %s}", r.EnrollmentID, r.DeviceID, r.StationID, pii.Redacted)
}

// LogValue implements slog.LogValuer.
func (r Record) LogValue() slog.Value {
	return slog.GroupValue(slog.String("enrollment", r.EnrollmentID), slog.String("device", r.DeviceID),
		slog.String("fields", pii.Redacted))
}

// Format implements fmt.Formatter: a Card prints as redacted.
func (c Card) Format(f fmt.State, verb rune) { fmt.Fprint(f, "enroll.Card{"+pii.Redacted+"}") }

// LogValue implements slog.LogValuer.
func (c Card) LogValue() slog.Value { return slog.StringValue(pii.Redacted) }

// Wipe zeroes every byte slice of r (photos, evidence, raw chip data) and
// clears the record.
func (r *Record) Wipe() {
	pii.Zero(r.Portrait)
	pii.Zero(r.Card.Text)
	pii.Zero(r.Card.Photo)
	for _, e := range r.Liveness.Evidence {
		pii.Zero(e)
	}
	for _, f := range r.MatchFrames {
		pii.Zero(f)
	}
	pii.Zero(r.Liveness.Nonce)
	*r = Record{}
}
