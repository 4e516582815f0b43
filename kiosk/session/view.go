package session

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
