package session

import (
	"image"
	"time"

	"eidkiosk/idcard"
)

// Event is an input to the engine: a tap from the UI, a reader or sensor
// event from the drivers. Send them with Engine.Send.
type Event interface{ event() }

// Action is what a citizen or technician tapped.
type Action int

const (
	ActStart       Action = iota + 1 // attract: start a visit
	ActConfirm                       // data shown: "this is me"
	ActNotMe                         // data shown: "this is not me"
	ActAgree                         // consent: agree
	ActDecline                       // consent: decline
	ActKeep                          // review: keep this portrait
	ActRetake                        // review: take again
	ActCancel                        // any state: end the visit now
	ActDone                          // receipt, failed, technician: finished
	ActLanguage                      // switch language (Tap.Lang)
	ActTechnician                    // attract/unavailable: enter technician mode (Tap.PIN)
	ActClearTamper                   // technician: the enclosure is closed again, unlock
)

// Tap is a button press on the UI.
type Tap struct {
	Action Action
	Lang   string // for ActLanguage
	PIN    string // for ActTechnician
}

// CardPlaced: the reader found a card on its antenna.
type CardPlaced struct{}

// CardRead: the card was read and decoded. Photo is the decoded card photo,
// nil when no vendor decoder is installed.
type CardRead struct {
	Card  idcard.Card
	Photo image.Image
}

// CardReadFailed: a card was found but could not be read (Err says why;
// idcard's typed errors are kept).
type CardReadFailed struct {
	Err     error
	Invalid bool // the data was read but fails validation (e.g. check digit)
}

// CardRemoved: the card left the antenna.
type CardRemoved struct{}

// ReaderFault: the reader stopped answering (unplugged, SAM failure).
type ReaderFault struct{ Err error }

// ReaderBack: the reader answers again.
type ReaderBack struct{}

// ReaderEvent is what the card reader reported, the card model's event as
// it is (convert with ReaderEvent(ev)): the kiosk hands the driver's
// events over without re-typing them. The engine treats each kind as the
// event of the same name above.
type ReaderEvent idcard.Event

// asEngineEvent is the reader event in the engine's vocabulary (nil for an
// unknown kind).
func (r ReaderEvent) asEngineEvent() Event {
	switch r.Kind {
	case idcard.CardPlaced:
		return CardPlaced{}
	case idcard.CardRead:
		return CardRead{Card: r.Card, Photo: r.Photo}
	case idcard.CardReadFailed:
		return CardReadFailed{Err: r.Err, Invalid: r.Invalid}
	case idcard.CardRemoved:
		return CardRemoved{}
	case idcard.ReaderFault:
		return ReaderFault{Err: r.Err}
	case idcard.ReaderBack:
		return ReaderBack{}
	}
	return nil
}

// CameraFault / CameraBack: camera health outside of a capture.
type CameraFault struct{ Err error }
type CameraBack struct{}

// Presence: someone stands in front of the kiosk (wakes the screen).
type Presence struct{ Present bool }

// Tamper: the enclosure switch changed.
type Tamper struct{ Open bool }

// Recheck asks the engine to ask the Gate again (e.g. after the outbox
// drained); sent by the outbox or uplink when their state changes.
type Recheck struct{}

func (Tap) event()            {}
func (CardPlaced) event()     {}
func (CardRead) event()       {}
func (CardReadFailed) event() {}
func (CardRemoved) event()    {}
func (ReaderFault) event()    {}
func (ReaderBack) event()     {}
func (ReaderEvent) event()    {}
func (CameraFault) event()    {}
func (CameraBack) event()     {}
func (Presence) event()       {}
func (Tamper) event()         {}
func (Recheck) event()        {}

// internal events carry the visit generation so that late results of a
// cancelled visit are dropped.
type timeout struct {
	seq   uint64
	state State
}
type faceProgress struct {
	gen uint64
	p   FaceProgress
}
type faceDone struct {
	gen uint64
	res FaceResult
	err error
}
type sealDone struct {
	gen uint64
	rec Receipt
	err error
}
type gateTick struct{}

func (timeout) event()      {}
func (faceProgress) event() {}
func (faceDone) event()     {}
func (sealDone) event()     {}
func (gateTick) event()     {}

// CardView is what the citizen sees of the card: masked, never the full
// number. The engine builds it; the UI never sees idcard.Card.
type CardView struct {
	Kind      idcard.Kind
	Name      string // masked: "张*"
	NameEN    string // masked
	Number    string // masked: "4401**********123X"
	Gender    string // GB/T 2261.1 code
	BirthYear int
	ValidTo   time.Time
	NoExpiry  bool
	Photo     image.Image // decoded card photo; nil: show the neutral silhouette
}

// View is a snapshot of the engine for the UI. It is a value: the engine
// never changes a View after publishing it, except that Portrait and
// Card.Photo are shared and wiped (zeroed) when the visit ends, so a UI must
// not keep them beyond the next View.
type View struct {
	Seq      uint64    // increases with every published view
	State    State     // which screen
	Lang     string    // "zh-CN" or "en"
	Deadline time.Time // when this screen times out; zero when it does not
	Fault    FaultKind // Failed and Unavailable: why
	Card     *CardView // DataShown onwards, until the wipe
	Face     FaceProgress
	Attempt  int  // face capture attempt, 1-based
	Attempts int  // maximum attempts
	Retry    bool // FaceCapture: the previous attempt failed, say "let's try again"
	Portrait []byte
	Receipt  *Receipt
	ReaderOK bool // the reader answers
	CameraOK bool // the camera delivers frames
	Present  bool // someone stands in front of the kiosk
	Tampered bool
	Visits   uint64 // visits completed since start (for technician mode)
	// Notice is a message key for a passing note on Attract or Unavailable,
	// e.g. "technician.pin_wrong", "technician.locked"; empty when none.
	Notice string
}
