package session

import (
	"context"
	"errors"
	"image"
	"time"

	"eidkiosk/idcard"
	"eidkiosk/internal/clock"
)

// State is where a visit stands. The UI renders one screen per state.
type State int

const (
	Attract      State = iota // idle loop; "place your card" / tap to start
	CardWait                  // the citizen tapped start: place the card
	CardReading               // a card lies on the reader and is being read
	DataShown                 // the card's data is shown: "this is me" / "not me"
	Consent                   // the privacy notice: accept / decline
	FaceCapture               // live preview, quality guidance, liveness challenges
	Review                    // the chosen portrait: accept / retake
	Sealing                   // sealing and writing the enrollment to the outbox
	ReceiptShown              // enrollment number and QR code
	Failed                    // an error screen (see View.Fault); OK returns to Attract
	Unavailable               // no new visits: outbox full or stale, terminal disabled, tampered
	Technician                // technician mode (entered from Attract only)
)

var stateNames = [...]string{
	Attract: "attract", CardWait: "card-wait", CardReading: "card-reading",
	DataShown: "data-shown", Consent: "consent", FaceCapture: "face-capture",
	Review: "review", Sealing: "sealing", ReceiptShown: "receipt", Failed: "failed",
	Unavailable: "unavailable", Technician: "technician",
}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(?)"
}

// FaultKind says which error screen to show and what the citizen should do.
type FaultKind int

const (
	FaultNone             FaultKind = iota
	FaultReader                     // the reader is not answering
	FaultCamera                     // the camera is not delivering frames
	FaultCardUnread                 // the card could not be read: remove and place it again
	FaultCardExpired                // the card is past its valid-to date
	FaultCardInvalid                // the card's data fails validation (check digit)
	FaultNotMe                      // the citizen said the data is not theirs
	FaultDeclined                   // the citizen declined consent
	FaultLiveness                   // liveness failed and no retries remain
	FaultQuality                    // no portrait good enough within the time
	FaultSeal                       // sealing or writing the outbox failed; nothing was saved
	FaultTimeout                    // the citizen did not answer in time
	FaultCanceled                   // the citizen cancelled
	FaultOutboxFull                 // Unavailable: outbox near its size limit
	FaultOutboxStale                // Unavailable: nothing acknowledged for too long
	FaultDisabled                   // Unavailable: terminal revoked or not provisioned
	FaultTamper                     // Unavailable: enclosure opened
	FaultCardRemovedEarly           // the card was taken away while being read
	FaultUpdating                   // Unavailable: a software update is being switched in (minutes)
	FaultFaceMismatch               // the face does not match the card photo, after one retry
)

var faultNames = [...]string{
	FaultNone: "none", FaultReader: "reader", FaultCamera: "camera",
	FaultCardUnread: "card-unread", FaultCardExpired: "card-expired",
	FaultCardInvalid: "card-invalid", FaultNotMe: "not-me", FaultDeclined: "declined",
	FaultLiveness: "liveness", FaultQuality: "quality", FaultSeal: "seal",
	FaultTimeout: "timeout", FaultCanceled: "canceled", FaultOutboxFull: "outbox-full",
	FaultOutboxStale: "outbox-stale", FaultDisabled: "disabled", FaultTamper: "tamper",
	FaultCardRemovedEarly: "card-removed-early", FaultUpdating: "updating",
	FaultFaceMismatch: "face-mismatch",
}

func (k FaultKind) String() string {
	if int(k) < len(faultNames) {
		return faultNames[k]
	}
	return "fault(?)"
}

// Sentinel errors returned by Gate.Admit; the engine maps them to faults.
var (
	ErrOutboxFull  = errors.New("session: outbox near its size limit")
	ErrOutboxStale = errors.New("session: nothing acknowledged by the authority for too long")
	ErrDisabled    = errors.New("session: terminal disabled")
	ErrTampered    = errors.New("session: enclosure opened")
	ErrUpdating    = errors.New("session: software update in progress")
	// ErrCameraFault is returned by a FaceCapturer whose camera delivers no frames.
	ErrCameraFault = errors.New("session: camera fault")
	// ErrLivenessFailed is returned by a FaceCapturer when a presentation is judged not live.
	ErrLivenessFailed = errors.New("session: liveness failed")
	// ErrNoPortrait is returned by a FaceCapturer that found no frame passing the quality gate in time.
	ErrNoPortrait = errors.New("session: no portrait passed the quality gate")
)

// ---- What the engine needs from the rest of the kiosk. ----
// Each interface is implemented elsewhere (kiosk/face, enroll and
// kiosk/outbox, kiosk/peripherals) and wired in kiosk/app.

// FaceCapturer captures a portrait and runs liveness for one visit.
// Capture blocks until done, ctx is cancelled, or it fails. It reports
// progress (guidance, the current challenge, the face box) through report,
// which must not block; it is called from the capturer's goroutine.
// nonce seeds the liveness challenge sequence for this visit.
type FaceCapturer interface {
	Capture(ctx context.Context, nonce []byte, report func(FaceProgress)) (FaceResult, error)
}

// FaceProgress is the live state of a capture, for the UI.
type FaceProgress struct {
	Box       image.Rectangle // face box in preview coordinates; empty when no face
	Frame     image.Point     // size of the frame Box refers to
	Guidance  []string        // message keys from the quality gate, e.g. "face.move_closer"
	Challenge string          // current liveness challenge key, e.g. "challenge.blink"; "" when none
	Deadline  time.Time       // when the current challenge times out
	Step      int             // 1-based index of the current challenge
	Steps     int             // number of challenges in this visit
}

// Measure is one measured quality value and whether it passed.
type Measure struct {
	Name      string  `cbor:"1,keyasint" json:"name"`
	Value     float64 `cbor:"2,keyasint" json:"value"`
	Threshold float64 `cbor:"3,keyasint" json:"threshold"`
	Pass      bool    `cbor:"4,keyasint" json:"pass"`
}

// Liveness is the kiosk's liveness verdict with the evidence for the
// authority, which decides.
type Liveness struct {
	Live       bool               // the kiosk's verdict
	Challenges []string           // challenge keys asked, in order
	Passed     []bool             // per challenge
	Scores     map[string]float64 // per-check scores (passive and active)
	Evidence   [][]byte           // a few down-scaled JPEG frames
	Timings    []time.Duration    // response time per challenge
	Nonce      []byte             // the nonce the challenge sequence was drawn from
}

// FaceResult is a successful capture.
type FaceResult struct {
	Portrait []byte    // 3:4 JPEG, ≤ 60 KB
	Quality  []Measure // values of the chosen frame
	Liveness Liveness
	Match    *FaceMatch // the comparison with the card photo; nil when none was made
	// MatchFrames are frames sampled during the capture (JPEG) for the 1:1
	// comparison's live template, with the portrait and the evidence.
	MatchFrames [][]byte
}

// Enrollment is everything one visit produces. The engine owns it until it
// hands it to Submitter.Submit, and wipes it after.
type Enrollment struct {
	Card     idcard.Card
	Face     FaceResult
	Consent  ConsentRecord
	Started  time.Time
	Finished time.Time
}

// ConsentRecord is what the citizen agreed to.
type ConsentRecord struct {
	TextVersion string // version of the privacy notice shown
	Language    string // "zh-CN" or "en"
	At          time.Time
}

// Receipt is what the citizen takes away.
type Receipt struct {
	EnrollmentID string // time-ordered ID, also the idempotency key
	Short        string // short number printed and shown large, e.g. "NS01-7K3Q-9D"
	QR           string // payload of the QR code the phone scans to bind
	Queued       time.Time
	Sent         bool // already acknowledged by the authority (else "saved, it will be sent")
}

// Submitter seals an enrollment and writes it durably to the outbox. When it
// returns nil the enrollment survives a power cut; the citizen is then told
// "saved". It must not keep references to e after returning.
type Submitter interface {
	Submit(ctx context.Context, e *Enrollment) (Receipt, error)
}

// Gate says whether a new visit may start: nil, or ErrOutboxFull,
// ErrOutboxStale, ErrDisabled, ErrTampered (possibly wrapped).
type Gate interface {
	Admit() error
}

// Signals receives the visit's outward signals for LEDs, buzzer, IR light
// and voice. Calls must not block. A nil Signals is allowed.
type Signals interface {
	StateChanged(from, to State)
}

// ReceiptPrinter is the engine's "print the receipt" effect: PrintReceipt
// is called once per saved enrollment, on the engine's goroutine, as the
// receipt screen is entered. It must not block (print in the background)
// and reports its own failures (the screen shows the receipt anyway). A nil
// ReceiptPrinter prints nothing.
type ReceiptPrinter interface {
	PrintReceipt(r Receipt)
}

// Clock is the engine's time source; tests use clock.Fake.
type Clock = clock.Clock
