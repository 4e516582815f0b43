package session

import (
	"context"
	"crypto/rand"
	"image"
	"log/slog"
	"sync"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/config"
)

// Options configures an Engine. Face and Submit are required.
type Options struct {
	Timeouts config.TimeoutsConfig
	Face     FaceCapturer
	Submit   Submitter
	Gate     Gate           // nil: always admit
	Signals  Signals        // nil: none
	Print    ReceiptPrinter // nil: receipts are only shown
	Clock    clock.Clock
	Logger   *slog.Logger
	Lang     string // language a visit starts in: "zh-CN" or "en"
	// PIN checks the technician PIN (the hash set at provisioning,
	// provisioning/techpin). Without one, TechnicianPIN is compared; with
	// neither, technician mode stays closed ("technician.no_pin").
	PIN PINChecker
	// TamperLock persists the tamper lock (kiosk/tamper); nil: in memory
	// only.
	TamperLock     TamperLock
	TechnicianPIN  string
	ConsentVersion string        // version of the privacy notice text; default "1"
	OnView         func(View)    // called on the engine goroutine for every new View; must not block
	Nonce          func() []byte // liveness nonce per visit; nil: 32 bytes from crypto/rand
	Match          CardMatcher   // compares a capture with the decoded card photo; nil: no comparison
}

// Tuning that is not worth a configuration key.
const (
	unavailableRecheck = 15 * time.Second // how often Unavailable asks the Gate again
	pinLockAfter       = 5                // wrong PINs in a row before technician mode locks
	pinLockFor         = 5 * time.Minute
)

// Engine runs the state machine of one citizen's visit after another. All
// state is owned by the Run goroutine; Send and View are safe from any
// goroutine.
type Engine struct {
	o   Options
	log *slog.Logger

	qmu   sync.Mutex
	queue []Event
	wake  chan struct{}

	vmu  sync.Mutex
	view View

	// Owned by Run.
	state      State
	enterSeq   uint64 // counts state entries; a timeout carries the entry it was armed for
	gen        uint64 // counts visits; late results of an ended visit carry an old gen
	timer      clock.Timer
	visit      *visit
	faceCancel context.CancelFunc
	sealCancel context.CancelFunc
	fault      FaultKind
	notice     string
	face       FaceProgress
	attempt    int
	retry      bool
	receipt    *Receipt
	lang       string
	readerOK   bool
	cameraOK   bool
	present    bool
	tampered   bool
	visits     uint64
	seq        uint64
	badPINs    int
	pinLocked  time.Time
	ctx        context.Context
	deadline   time.Time
}

// visit is the personal data of the visit in progress.
type visit struct {
	enr     Enrollment
	view    *CardView
	photo   image.Image
	sealing bool // a Submit goroutine owns enr; it wipes it itself
	// mismatches counts captures that did not match the card photo.
	mismatches int
}

// New returns an engine; call Run to start it.
func New(o Options) *Engine {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Lang == "" {
		o.Lang = "zh-CN"
	}
	if o.ConsentVersion == "" {
		o.ConsentVersion = "1"
	}
	if o.Timeouts.FaceAttempts == 0 {
		o.Timeouts = config.Default().Timeouts
	}
	if o.Nonce == nil {
		o.Nonce = func() []byte {
			b := make([]byte, 32)
			rand.Read(b)
			return b
		}
	}
	e := &Engine{
		o:        o,
		log:      o.Logger.With("component", "session"),
		wake:     make(chan struct{}, 1),
		lang:     o.Lang,
		readerOK: false, // until the reader answers (ReaderBack)
		cameraOK: true,
		state:    Attract,
	}
	e.view = e.buildView()
	return e
}

// Send queues an event for the engine. It never blocks.
func (e *Engine) Send(ev Event) {
	e.qmu.Lock()
	e.queue = append(e.queue, ev)
	e.qmu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// View returns the latest published view.
func (e *Engine) View() View {
	e.vmu.Lock()
	defer e.vmu.Unlock()
	return e.view
}

// Run processes events until ctx is done; on return every personal byte of
// the visit in progress has been wiped.
func (e *Engine) Run(ctx context.Context) error {
	e.ctx = ctx
	e.restoreTamper()
	e.toAttract()
	e.publish()
	for {
		select {
		case <-ctx.Done():
			e.endVisitData()
			e.stopTimer()
			e.publish()
			return ctx.Err()
		case <-e.wake:
		}
		for {
			e.qmu.Lock()
			if len(e.queue) == 0 {
				e.qmu.Unlock()
				break
			}
			ev := e.queue[0]
			e.queue[0] = nil
			e.queue = e.queue[1:]
			e.qmu.Unlock()
			if e.handle(ev) {
				e.publish()
			}
		}
	}
}

// handle applies one event; it reports whether the view changed.
func (e *Engine) handle(ev Event) bool {
	switch ev := ev.(type) {
	case Tap:
		return e.tap(ev)
	case ReaderEvent:
		if ev := ev.asEngineEvent(); ev != nil {
			return e.handle(ev)
		}
		return false
	case CardPlaced:
		switch e.state {
		case Attract:
			if !e.admit() {
				return true
			}
			e.startVisit()
			e.enter(CardReading)
			return true
		case CardWait:
			e.enter(CardReading)
			return true
		}
		return false
	case CardRead:
		switch e.state {
		case Attract, CardWait, CardReading:
			if e.state == Attract {
				if !e.admit() {
					wipeCard(&ev.Card, ev.Photo)
					return true
				}
				e.startVisit()
			}
			e.cardRead(ev)
			return true
		}
		// A card read outside of the reading step is not kept.
		wipeCard(&ev.Card, ev.Photo)
		return false
	case CardReadFailed:
		if e.state == CardReading || e.state == CardWait {
			k := FaultCardUnread
			if ev.Invalid {
				k = FaultCardInvalid
			}
			e.log.Info("card read failed", "err", ev.Err)
			e.fail(k)
			return true
		}
		return false
	case CardRemoved:
		if e.state == CardReading {
			e.fail(FaultCardRemovedEarly)
			return true
		}
		return false
	case ReaderFault:
		changed := e.readerOK
		e.readerOK = false
		if e.state == CardWait || e.state == CardReading {
			e.fail(FaultReader)
			return true
		}
		return changed
	case ReaderBack:
		changed := !e.readerOK
		e.readerOK = true
		return changed
	case CameraFault:
		changed := e.cameraOK
		e.cameraOK = false
		return changed
	case CameraBack:
		changed := !e.cameraOK
		e.cameraOK = true
		return changed
	case Presence:
		changed := e.present != ev.Present
		e.present = ev.Present
		return changed
	case Tamper:
		if !ev.Open {
			return false // the lock stays until a technician clears it
		}
		first := !e.tampered
		e.tampered = true
		if first {
			e.log.Warn("enclosure opened: visit wiped, terminal locked")
			e.persistTamper()
		}
		if e.state != Technician {
			e.endVisitData()
			e.fault = FaultTamper
			e.enter(Unavailable)
		}
		return true
	case Recheck:
		if e.state == Attract || e.state == Unavailable {
			e.toAttract()
			return true
		}
		return false
	case timeout:
		if ev.seq != e.enterSeq || ev.state != e.state {
			return false
		}
		return e.timedOut()
	case faceProgress:
		if ev.gen != e.gen || e.state != FaceCapture {
			return false
		}
		e.face = ev.p
		return true
	case faceDone:
		if ev.gen != e.gen || e.state != FaceCapture {
			wipeFace(&ev.res)
			return false
		}
		return e.faceDone(ev)
	case sealDone:
		if ev.gen != e.gen || e.state != Sealing {
			return false
		}
		e.sealCancel = nil
		if ev.err != nil {
			e.log.Error("sealing failed; nothing was saved", "err", ev.err)
			e.fail(FaultSeal)
			return true
		}
		e.visits++
		r := ev.rec
		e.receipt = &r
		e.log.Info("enrollment saved", "enrollment", r.EnrollmentID, "sent", r.Sent)
		// The Submit goroutine wiped the enrollment; drop the rest.
		e.endVisitData()
		e.enter(ReceiptShown)
		if e.o.Print != nil {
			e.o.Print.PrintReceipt(r)
		}
		return true
	}
	return false
}

func (e *Engine) tap(t Tap) bool {
	switch t.Action {
	case ActLanguage:
		if t.Lang != "zh-CN" && t.Lang != "en" {
			return false
		}
		e.lang = t.Lang
		return true
	case ActCancel:
		switch e.state {
		case CardWait, CardReading, DataShown, Consent, FaceCapture, Review, ReceiptShown, Failed:
			e.log.Info("visit cancelled", "state", e.state)
			e.endVisit()
			return true
		}
		return false
	case ActStart:
		if e.state != Attract {
			return false
		}
		if !e.admit() {
			return true
		}
		e.startVisit()
		e.enter(CardWait)
		return true
	case ActConfirm:
		if e.state != DataShown {
			return false
		}
		e.enter(Consent)
		return true
	case ActNotMe:
		if e.state != DataShown {
			return false
		}
		e.fail(FaultNotMe)
		return true
	case ActAgree:
		if e.state != Consent {
			return false
		}
		e.visit.enr.Consent = ConsentRecord{TextVersion: e.o.ConsentVersion, Language: e.lang, At: e.o.Clock.Now()}
		e.attempt = 1
		e.retry = false
		e.startFace()
		return true
	case ActDecline:
		if e.state != Consent {
			return false
		}
		e.fail(FaultDeclined)
		return true
	case ActKeep:
		if e.state != Review {
			return false
		}
		e.startSeal()
		return true
	case ActRetake:
		if e.state != Review || e.attempt >= e.o.Timeouts.FaceAttempts {
			return false
		}
		wipeFace(&e.visit.enr.Face)
		e.attempt++
		e.retry = false
		e.startFace()
		return true
	case ActDone:
		switch e.state {
		case ReceiptShown, Failed:
			e.endVisit()
			return true
		case Technician:
			e.log.Info("technician mode left")
			e.toAttract()
			return true
		}
		return false
	case ActTechnician:
		return e.technicianPIN(t.PIN)
	case ActClearTamper:
		return e.clearTamper()
	}
	return false
}
