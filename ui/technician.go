package ui

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"eidkiosk/internal/health"
	"eidkiosk/kiosk/session"
	"eidkiosk/ui/techstatus"
)

// TechInfo is what technician mode shows; the kiosk adapts its parts to it.
// Both calls run on a UI goroutine (never the Fyne thread) and must return
// when ctx ends. Nothing returned may carry personal data.
type TechInfo interface {
	// TechStatus is polled every Options.TechPoll while technician mode is open.
	TechStatus(ctx context.Context) TechStatus
	// SelfTest runs the self-test now (reader, camera, GPIO, authority,
	// clock) and returns its checklist; the next TechStatus shows it too.
	SelfTest(ctx context.Context) []Check
}

// Check is one line of the checklist: the kiosk's health model. A Check
// without a time (Ran false) is shown as not tested yet. Name is "reader",
// "camera", "gpio", "authority", "clock" (translated), or any other name
// (shown as is).
type Check = health.Check

// TechStatus is one snapshot for technician mode, and OutboxStatus and
// UpdateStatus its parts: plain-Go types in ui/techstatus, so that the kiosk
// fills them without linking Fyne.
type (
	TechStatus   = techstatus.Status
	OutboxStatus = techstatus.Outbox
	UpdateStatus = techstatus.Update
)

// techScreen shows the checklist and states; values are short lines
// (no scrolling: the log tail shows a fixed number of lines).
type techScreen struct {
	title, tamper                *widget.Label
	visits                       *canvas.Text
	checksH, stateH, logH        *canvas.Text
	checks                       [6]checkRow
	outbox, uplink, version      *canvas.Text
	update, lease, reader        *canvas.Text
	camera, gpio, quality        *canvas.Text
	logLines                     [8]*canvas.Text
	selfTest, clearTamper, leave button
	running                      bool
	last                         TechStatus
}

type checkRow struct {
	box  *fyne.Container
	icon *widget.Icon
	text *canvas.Text
}

// line is one line of technician text.
func line(u *UI, bold bool) *canvas.Text {
	t := canvas.NewText("", u.th.palette().fg)
	t.TextSize = sizeCaption
	t.TextStyle.Bold = bold
	return t
}

// lines stacks texts with a fixed line pitch (no label padding).
func lines(objs ...fyne.CanvasObject) *fyne.Container {
	return container.New(&pitchLayout{pitch: sizeCaption * 1.6}, objs...)
}

type pitchLayout struct{ pitch float32 }

func (l *pitchLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	y := float32(0)
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		o.Move(fyne.NewPos(0, y))
		o.Resize(fyne.NewSize(size.Width, l.pitch))
		y += l.pitch
	}
}

func (l *pitchLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	n := 0
	for _, o := range objs {
		if o.Visible() {
			n++
		}
	}
	return fyne.NewSize(200, float32(n)*l.pitch)
}

func (s *techScreen) build(u *UI) *screen {
	s.title = newLabel(theme.SizeNameHeadingText, true, false)
	s.tamper = newLabel("", true, false)
	s.visits = line(u, false)
	s.checksH, s.stateH, s.logH = line(u, true), line(u, true), line(u, true)
	rows := []fyne.CanvasObject{s.checksH}
	for i := range s.checks {
		ic := widget.NewIcon(iconUnknown)
		ic.Resize(fyne.NewSize(24, 24))
		l := line(u, false)
		s.checks[i] = checkRow{container.NewBorder(nil, nil, atLeast(ic, 28, 28), nil, l), ic, l}
		rows = append(rows, s.checks[i].box)
	}
	for _, p := range []**canvas.Text{&s.outbox, &s.uplink, &s.version, &s.update, &s.lease, &s.reader, &s.camera, &s.gpio, &s.quality} {
		*p = line(u, false)
	}
	logs := []fyne.CanvasObject{s.logH}
	for i := range s.logLines {
		s.logLines[i] = line(u, false)
		logs = append(logs, s.logLines[i])
	}
	left := container.NewVBox(tile(u, lines(rows...)), tile(u, lines(logs...)))
	right := tile(u, lines(s.stateH, s.version, s.update, s.lease, s.outbox, s.uplink, s.reader, s.camera, s.gpio, s.quality, s.visits))
	c := container.NewBorder(container.NewHBox(u.bigIcon(iconTech, 56), s.title, layout.NewSpacer(), s.tamper), nil, nil, nil,
		container.NewGridWithColumns(2, left, container.NewVBox(right)))
	s.selfTest = newButton(iconRetake, widget.MediumImportance, func() { u.runSelfTest() })
	s.clearTamper = newButton(iconWarn, widget.MediumImportance, func() { u.send(session.Tap{Action: session.ActClearTamper}) })
	s.leave = newButton(iconCancel, widget.HighImportance, func() { u.send(session.Tap{Action: session.ActDone}) })
	return &screen{content: c, actions: container.NewHBox(s.selfTest.box, widgetSpacer(16), s.clearTamper.box, widgetSpacer(16), s.leave.box)}
}

func (s *techScreen) apply(u *UI, v session.View) {
	setLabel(s.title, u.t("technician.title"))
	setText(s.checksH, u.t("technician.self_test"))
	setText(s.stateH, u.t("technician.version")+" · "+u.t("technician.update")+" · "+u.t("technician.outbox"))
	setText(s.logH, u.t("technician.log"))
	setText(s.visits, u.t("technician.visits", v.Visits))
	s.selfTest.setText(u.t("technician.run_self_test"))
	s.clearTamper.setText(u.t("technician.clear_tamper"))
	s.leave.setText(u.t("technician.leave"))
	s.clearTamper.show(v.Tampered)
	if v.Tampered {
		setLabel(s.tamper, u.t("technician.tampered"))
	} else {
		setLabel(s.tamper, "")
	}
	if s.running {
		s.selfTest.Disable()
	} else {
		s.selfTest.Enable()
	}
	s.show(u, v, s.last)
}

// clip shortens a technician line to n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// show fills the status widgets. Fyne thread.
func (s *techScreen) show(u *UI, v session.View, st TechStatus) {
	s.last = st
	checks := st.Checks
	if len(checks) == 0 {
		// Before any self-test, show what the engine knows.
		now := u.o.Clock.Now()
		checks = []Check{{Name: "reader", OK: v.ReaderOK, At: now}, {Name: "camera", OK: v.CameraOK, At: now}}
	}
	for i := range s.checks {
		r := s.checks[i]
		if i >= len(checks) {
			showIf(r.box, false)
			continue
		}
		c := checks[i]
		name := c.Name
		if u.cat.Has(u.lang, "technician."+c.Name) {
			name = u.t("technician." + c.Name)
		}
		verdict, res := u.t("technician.unknown"), iconUnknown
		if c.Ran() && c.OK {
			verdict, res = u.t("technician.pass"), iconOK
		} else if c.Ran() {
			verdict, res = u.t("technician.fail"), iconFail
		}
		l := fmt.Sprintf("%s: %s", name, verdict)
		if c.Detail != "" {
			l += " — " + scrub(c.Detail)
		}
		if !c.OK && c.Fix != "" {
			l += " — " + scrub(c.Fix)
		}
		setText(r.text, clip(l, 52))
		if r.icon.Resource != res {
			r.icon.SetResource(res)
		}
		showIf(r.box, true)
	}
	kv := func(t *canvas.Text, key, val string) {
		if val == "" {
			val = "—"
		}
		setText(t, clip(u.t(key)+": "+scrub(val), 56))
	}
	kv(s.version, "technician.version", st.Version)
	upd := st.Update.State
	if st.Update.Available != "" {
		upd += " → " + st.Update.Available
	}
	kv(s.update, "technician.update", upd)
	kv(s.lease, "technician.lease", st.Update.Lease)
	ob := u.t("technician.outbox_depth", st.Outbox.Depth)
	if st.Outbox.Depth > 0 && st.Outbox.Oldest > 0 {
		ob += ", " + u.t("technician.oldest", st.Outbox.Oldest.Round(time.Second).String())
	}
	kv(s.outbox, "technician.outbox", ob)
	up := st.Outbox.Uplink
	if !st.Outbox.LastAck.IsZero() {
		up += " (ack " + st.Outbox.LastAck.Format("01-02 15:04") + ")"
	}
	kv(s.uplink, "technician.uplink", up)
	kv(s.reader, "technician.reader", st.Reader)
	kv(s.camera, "technician.camera", st.Camera)
	kv(s.gpio, "technician.gpio", st.GPIO)
	q := ""
	for i, m := range st.Quality {
		if i > 0 {
			q += ", "
		}
		mark := "ok"
		if !m.Pass {
			mark = "LOW"
		}
		q += fmt.Sprintf("%s %.2f/%.2f %s", m.Name, m.Value, m.Threshold, mark)
	}
	kv(s.quality, "technician.quality", q)
	tail := st.LogTail
	if len(tail) > len(s.logLines) {
		tail = tail[len(tail)-len(s.logLines):]
	}
	for i, l := range s.logLines {
		if i < len(tail) {
			setText(l, clip(scrub(tail[i]), 54))
		} else {
			setText(l, "")
		}
	}
}

// idLike matches runs that look like ID or phone numbers; technician mode
// masks them even though its sources promise to be free of personal data.
var idLike = regexp.MustCompile(`\d{6,}[\dXx]*`)

func scrub(s string) string { return idLike.ReplaceAllString(s, "[redacted]") }

// startTechPoll polls TechInfo while technician mode is open. Fyne thread.
func (u *UI) startTechPoll() {
	ctx, cancel := context.WithCancel(u.ctx)
	u.techStop = cancel
	if u.o.Tech == nil {
		return
	}
	go func() {
		t := time.NewTicker(u.o.TechPoll)
		defer t.Stop()
		for {
			cctx, ccancel := context.WithTimeout(ctx, u.o.TechPoll)
			st := u.o.Tech.TechStatus(cctx)
			ccancel()
			if ctx.Err() != nil {
				return
			}
			u.do(func() {
				if u.cur.State == session.Technician {
					u.tech.show(u, u.cur, st)
				}
			})
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// runSelfTest runs TechInfo.SelfTest on a goroutine. Fyne thread.
func (u *UI) runSelfTest() {
	if u.o.Tech == nil || u.tech.running {
		return
	}
	u.tech.running = true
	u.tech.selfTest.Disable()
	ctx, cancel := context.WithTimeout(u.ctx, time.Minute)
	go func() {
		defer cancel()
		checks := u.o.Tech.SelfTest(ctx)
		u.do(func() {
			u.tech.running = false
			u.tech.selfTest.Enable()
			st := u.tech.last
			st.Checks = checks
			if u.cur.State == session.Technician {
				u.tech.show(u, u.cur, st)
			}
		})
	}()
}
