package session

import (
	"context"
	"crypto/rand"
	"errors"
	"image"
	"log/slog"
	"sync"
	"time"

	"eidkiosk/drivers/idcard"
	"eidkiosk/internal/clock"
	"eidkiosk/internal/pii"
	"eidkiosk/kiosk/config"
)

// Options configures an Engine. Face and Submit are required.
type Options struct {
	Timeouts config.TimeoutsConfig
	Face     FaceCapturer
	Submit   Submitter
	Gate     Gate    // nil: always admit
	Signals  Signals // nil: none
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
		if e.state != Attract && e.state != Unavailable {
			return false
		}
		now := e.o.Clock.Now()
		if now.Before(e.pinLocked) {
			e.notice = "technician.locked"
			return true
		}
		if e.o.PIN == nil && e.o.TechnicianPIN == "" {
			e.notice = "technician.no_pin"
			e.log.Warn("technician mode refused: no technician PIN was set at provisioning")
			return true
		}
		if !e.pinOK(t.PIN) {
			e.badPINs++
			e.notice = "technician.pin_wrong"
			if e.badPINs >= pinLockAfter {
				e.pinLocked = now.Add(pinLockFor)
				e.badPINs = 0
				e.notice = "technician.locked"
				e.log.Warn("technician PIN entered wrong too often; locked", "for", pinLockFor)
			}
			return true
		}
		e.badPINs = 0
		e.log.Info("technician mode entered")
		e.enter(Technician)
		return true
	case ActClearTamper:
		if e.state != Technician || !e.tampered || !e.clearPersistedTamper() {
			return false
		}
		e.tampered = false
		e.log.Warn("tamper lock cleared by technician")
		return true
	}
	return false
}

// admit asks the Gate whether a visit may start; when not, it moves to
// Unavailable with the reason.
func (e *Engine) admit() bool {
	if e.tampered {
		e.fault = FaultTamper
		e.enter(Unavailable)
		return false
	}
	if e.o.Gate == nil {
		return true
	}
	err := e.o.Gate.Admit()
	if err == nil {
		return true
	}
	switch {
	case errors.Is(err, ErrOutboxFull):
		e.fault = FaultOutboxFull
	case errors.Is(err, ErrOutboxStale):
		e.fault = FaultOutboxStale
	case errors.Is(err, ErrTampered):
		e.fault = FaultTamper
	case errors.Is(err, ErrUpdating):
		e.fault = FaultUpdating
	default:
		e.fault = FaultDisabled
	}
	if e.state != Unavailable {
		e.log.Warn("new visits refused", "reason", e.fault, "err", err)
	}
	e.enter(Unavailable)
	return false
}

// toAttract goes to Attract, or to Unavailable if no visit may start.
func (e *Engine) toAttract() {
	if !e.admit() {
		return
	}
	e.fault = FaultNone
	e.enter(Attract)
}

func (e *Engine) startVisit() {
	e.gen++
	e.visit = &visit{enr: Enrollment{Started: e.o.Clock.Now()}}
	e.lang = e.o.Lang
	e.fault = FaultNone
	e.receipt = nil
	e.face = FaceProgress{}
	e.attempt, e.retry = 0, false
	e.log.Info("visit started")
}

func (e *Engine) cardRead(ev CardRead) {
	now := e.o.Clock.Now()
	if ev.Card.Expired(now) {
		wipeCard(&ev.Card, ev.Photo)
		e.fail(FaultCardExpired)
		return
	}
	c := ev.Card
	e.visit.enr.Card = c
	e.visit.photo = ev.Photo
	e.visit.view = &CardView{
		Kind:      c.Kind,
		Name:      pii.Mask(c.Name.Reveal(), 0),
		NameEN:    pii.Mask(c.NameEN.Reveal(), 0),
		Number:    pii.MaskID(c.Number.Reveal()),
		Gender:    c.Gender,
		BirthYear: c.BirthDate.Year(),
		ValidTo:   c.ValidTo,
		NoExpiry:  c.NoExpiry,
		Photo:     ev.Photo,
	}
	if c.BirthDate.IsZero() {
		e.visit.view.BirthYear = 0
	}
	e.log.Info("card read", "kind", c.Kind.String())
	e.enter(DataShown)
}

func (e *Engine) startFace() {
	ctx, cancel := context.WithCancel(e.ctx)
	e.faceCancel = cancel
	e.face = FaceProgress{}
	nonce := e.o.Nonce()
	gen := e.gen
	e.enter(FaceCapture)
	go func() {
		res, err := e.o.Face.Capture(ctx, nonce, func(p FaceProgress) { e.Send(faceProgress{gen: gen, p: p}) })
		e.Send(faceDone{gen: gen, res: res, err: err})
	}()
}

func (e *Engine) faceDone(ev faceDone) bool {
	e.cancelFace()
	switch {
	case ev.err == nil:
		e.visit.enr.Face = ev.res
		e.retry = false
		e.enter(Review)
	case errors.Is(ev.err, ErrLivenessFailed), errors.Is(ev.err, ErrNoPortrait):
		wipeFace(&ev.res)
		e.log.Info("face capture attempt failed", "attempt", e.attempt, "err", ev.err)
		if e.attempt < e.o.Timeouts.FaceAttempts {
			e.attempt++
			e.retry = true
			e.startFace()
			return true
		}
		if errors.Is(ev.err, ErrLivenessFailed) {
			e.fail(FaultLiveness)
		} else {
			e.fail(FaultQuality)
		}
	case errors.Is(ev.err, context.Canceled):
		wipeFace(&ev.res)
		return false
	default:
		wipeFace(&ev.res)
		e.log.Error("camera failed during capture", "err", ev.err)
		e.cameraOK = !errors.Is(ev.err, ErrCameraFault)
		e.fail(FaultCamera)
	}
	return true
}

func (e *Engine) startSeal() {
	ctx, cancel := context.WithTimeout(e.ctx, e.o.Timeouts.Sealing.Duration)
	e.sealCancel = cancel
	v := e.visit
	v.sealing = true
	gen := e.gen
	enr := &v.enr
	enr.Finished = e.o.Clock.Now()
	e.enter(Sealing)
	go func() {
		defer cancel()
		rec, err := e.o.Submit.Submit(ctx, enr)
		// The Submitter keeps no reference; the enrollment is wiped here,
		// whatever happened to the visit meanwhile.
		wipeEnrollment(enr)
		e.Send(sealDone{gen: gen, rec: rec, err: err})
	}()
}

func (e *Engine) timedOut() bool {
	e.log.Info("screen timed out", "state", e.state)
	switch e.state {
	case CardReading:
		e.fail(FaultCardUnread)
	case Sealing:
		// The Submit context expires at the same time; its result decides.
		return false
	case Technician:
		e.toAttract()
	case Unavailable:
		e.toAttract()
	case Attract:
		return false
	default:
		e.endVisit()
	}
	return true
}

// fail ends the visit's data and shows an error screen.
func (e *Engine) fail(k FaultKind) {
	e.endVisitData()
	e.fault = k
	e.log.Info("visit failed", "fault", k)
	e.enter(Failed)
}

// endVisit wipes the visit and returns to Attract.
func (e *Engine) endVisit() {
	e.endVisitData()
	e.receipt = nil
	e.lang = e.o.Lang
	e.attempt = 0
	e.toAttract()
}

// endVisitData cancels work in flight and wipes every personal byte the
// engine holds. A sealing goroutine wipes its own enrollment.
func (e *Engine) endVisitData() {
	e.cancelFace()
	if e.visit != nil {
		if !e.visit.sealing {
			wipeEnrollment(&e.visit.enr)
		}
		wipeImage(e.visit.photo)
		e.visit = nil
		e.gen++ // late results of this visit are dropped (and wiped)
	}
	if e.sealCancel != nil {
		e.sealCancel()
		e.sealCancel = nil
	}
	e.face = FaceProgress{}
	e.retry = false
}

func (e *Engine) cancelFace() {
	if e.faceCancel != nil {
		e.faceCancel()
		e.faceCancel = nil
	}
}

// enter moves to state s and arms its timeout.
func (e *Engine) enter(s State) {
	from := e.state
	e.stopTimer()
	e.state = s
	e.enterSeq++
	e.notice = noticeFor(s, e.notice)
	if d := e.timeoutOf(s); d > 0 {
		seq := e.enterSeq
		e.timer = e.o.Clock.AfterFunc(d, func() { e.Send(timeout{seq: seq, state: s}) })
		e.deadline = e.o.Clock.Now().Add(d)
	} else {
		e.deadline = time.Time{}
	}
	if from != s {
		e.log.Debug("state", "from", from, "to", s)
		if e.o.Signals != nil {
			e.o.Signals.StateChanged(from, s)
		}
	}
}

// noticeFor keeps a technician notice only on the screens that show it.
func noticeFor(s State, n string) string {
	if s == Attract || s == Unavailable {
		return n
	}
	return ""
}

func (e *Engine) timeoutOf(s State) time.Duration {
	t := e.o.Timeouts
	switch s {
	case CardWait:
		return t.CardWait.Duration
	case CardReading:
		return t.CardRead.Duration
	case DataShown:
		return t.DataShown.Duration
	case Consent:
		return t.Consent.Duration
	case FaceCapture:
		return t.FaceCapture.Duration
	case Review:
		return t.Review.Duration
	case Sealing:
		return t.Sealing.Duration
	case ReceiptShown:
		return t.Receipt.Duration
	case Failed:
		return t.Failed.Duration
	case Technician:
		return t.Technician.Duration
	case Unavailable:
		return unavailableRecheck
	}
	return 0
}

func (e *Engine) stopTimer() {
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
}

func (e *Engine) buildView() View {
	v := View{
		Seq:      e.seq,
		State:    e.state,
		Lang:     e.lang,
		Fault:    e.fault,
		Face:     e.face,
		Attempt:  e.attempt,
		Attempts: e.o.Timeouts.FaceAttempts,
		Retry:    e.retry,
		ReaderOK: e.readerOK,
		CameraOK: e.cameraOK,
		Present:  e.present,
		Tampered: e.tampered,
		Visits:   e.visits,
		Notice:   e.notice,
		Receipt:  e.receipt,
	}
	if e.state != Unavailable { // Unavailable's timer is a recheck, not a countdown
		v.Deadline = e.deadline
	}
	if e.visit != nil && e.visit.view != nil {
		cv := *e.visit.view
		v.Card = &cv
	}
	if e.state == Review && e.visit != nil {
		v.Portrait = e.visit.enr.Face.Portrait
	}
	return v
}

func (e *Engine) publish() {
	e.seq++
	v := e.buildView()
	e.vmu.Lock()
	e.view = v
	e.vmu.Unlock()
	if e.o.OnView != nil {
		e.o.OnView(v)
	}
}

// ---- wiping ----

func wipeCard(c *idcard.Card, photo image.Image) {
	c.Wipe()
	wipeImage(photo)
}

func wipeFace(f *FaceResult) {
	pii.Zero(f.Portrait)
	for _, b := range f.Liveness.Evidence {
		pii.Zero(b)
	}
	*f = FaceResult{}
}

func wipeEnrollment(e *Enrollment) {
	e.Card.Wipe()
	wipeFace(&e.Face)
	*e = Enrollment{}
}

// wipeImage zeroes the pixels of the image types the kiosk produces.
func wipeImage(img image.Image) {
	switch m := img.(type) {
	case *image.RGBA:
		clear(m.Pix)
	case *image.NRGBA:
		clear(m.Pix)
	case *image.Gray:
		clear(m.Pix)
	case *image.YCbCr:
		clear(m.Y)
		clear(m.Cb)
		clear(m.Cr)
	}
}
