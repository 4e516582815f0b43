package session

import (
	"context"
	"errors"
	"time"

	"eidkiosk/internal/pii"
)

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
	card := e.cardPhotoForMatch()
	e.enter(FaceCapture)
	go func() {
		res, err := e.o.Face.Capture(ctx, nonce, func(p FaceProgress) { e.Send(faceProgress{gen: gen, p: p}) })
		res, err = e.matchCard(ctx, card, res, err)
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
	case errors.Is(ev.err, ErrFaceMismatch):
		e.faceMismatch(ev.res)
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
