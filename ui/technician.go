package ui

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"eidkiosk/kiosk/session"
	"eidkiosk/ui/techstatus"
)

// TechInfo is what technician mode shows; the kiosk adapts its parts to it.
// Both calls run on a UI goroutine (never the Fyne thread) and must return
// when ctx ends. Nothing returned may carry personal data.
type TechInfo interface {
	// TechStatus is polled every Options.TechPoll while technician mode is open.
	TechStatus(ctx context.Context) TechStatus
	// SelfTest runs the whole self-test now (what `kioskctl selftest` runs)
	// and returns its checklist; the next TechStatus shows it too.
	SelfTest(ctx context.Context) []Check
}

// Check is one line of the checklist. Its name is translated when the
// catalogue has technician.check.<name> (spaces and brackets as "_"),
// else shown as is.
type Check = techstatus.Check

// TechStatus is one snapshot for technician mode, and OutboxStatus,
// UpdateStatus and LogLine its parts: plain-Go types in ui/techstatus, so
// that the kiosk fills them without linking Fyne.
type (
	TechStatus   = techstatus.Status
	OutboxStatus = techstatus.Outbox
	UpdateStatus = techstatus.Update
	LogLine      = techstatus.LogLine
)

// Rows of technician mode: the self-test has eight checks on a provisioned
// kiosk; the log shows the newest lines that fit below them on a 1280×800
// screen (a sixth was drawn half off the bottom edge).
const (
	techCheckRows = 8
	techLogRows   = 5
)

// techScreen shows the checklist and states; values are short lines
// (no scrolling: the log tail shows a fixed number of lines).
type techScreen struct {
	title, tamper                *widget.Label
	visits                       *canvas.Text
	checksH, stateH, logH        *canvas.Text
	checks                       [techCheckRows]checkRow
	checkList                    *fyne.Container
	content                      *fyne.Container
	outbox, uplink, version      *canvas.Text
	update, lease, reader        *canvas.Text
	camera, gpio, quality        *canvas.Text
	logLines                     [techLogRows]*canvas.Text
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
	s.checkList = lines(rows...)
	left := container.NewVBox(tile(u, s.checkList), tile(u, lines(logs...)))
	right := tile(u, lines(s.stateH, s.version, s.update, s.lease, s.outbox, s.uplink, s.reader, s.camera, s.gpio, s.quality, s.visits))
	s.selfTest = newButton(iconRetake, widget.MediumImportance, func() { u.runSelfTest() })
	s.clearTamper = newButton(iconWarn, widget.MediumImportance, func() { u.send(session.Tap{Action: session.ActClearTamper}) })
	s.leave = newButton(iconCancel, widget.HighImportance, func() { u.send(session.Tap{Action: session.ActDone}) })
	// The tamper lock's button sits under the states, where the right
	// column has room: in the bottom row it would cover the log's lines.
	c := container.NewBorder(container.NewHBox(u.bigIcon(iconTech, 56), s.title, layout.NewSpacer(), s.tamper), nil, nil, nil,
		container.NewGridWithColumns(2, left, container.NewVBox(right, container.NewHBox(layout.NewSpacer(), s.clearTamper.box))))
	s.content = c
	return &screen{content: c, actions: container.NewHBox(s.selfTest.box, widgetSpacer(16), s.leave.box)}
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

// Widths of technician lines in pixels at sizeCaption: a check row (after
// its icon), a log line, a state line (each column is half the screen).
const (
	techCheckWidth = 536
	techLineWidth  = 564
)

// clip shortens a technician line with "…" until it is at most w pixels
// wide in the kiosk font (CJK glyphs are twice as wide as Latin ones, so
// a count of runes does not fit a column).
func clip(s string, w float32) string {
	width := func(s string) float32 { return fyne.MeasureText(s, sizeCaption, fyne.TextStyle{}).Width }
	if width(s) <= w {
		return s
	}
	r := []rune(s)
	lo, hi := 0, len(r) // the longest prefix that fits with the ellipsis
	for lo < hi {
		m := (lo + hi + 1) / 2
		if width(string(r[:m])+"…") <= w {
			lo = m
		} else {
			hi = m - 1
		}
	}
	return string(r[:lo]) + "…"
}

// show fills the status widgets. Fyne thread.
func (s *techScreen) show(u *UI, v session.View, st TechStatus) {
	s.last = st
	checks := st.Checks
	if len(checks) == 0 {
		// No status yet: what the engine knows.
		now := u.o.Clock.Now()
		checks = []Check{{Name: "reader", Status: passIf(v.ReaderOK), At: now}, {Name: "camera", Status: passIf(v.CameraOK), At: now}}
	}
	relayout := false
	for i := range s.checks {
		r := s.checks[i]
		if i >= len(checks) {
			relayout = relayout || r.box.Visible()
			showIf(r.box, false)
			continue
		}
		c := checks[i]
		verdict, res := u.t("technician.unknown"), iconUnknown
		switch c.Status {
		case techstatus.Pass:
			verdict, res = u.t("technician.pass"), iconOK
		case techstatus.Skip:
			verdict, res = u.t("technician.skip"), iconOK
		case techstatus.Fail:
			verdict, res = u.t("technician.fail"), iconFail
		}
		l := u.tOr("technician.check."+nameKey(c.Name), c.Name) + ": " + verdict
		if c.Detail != "" {
			l += " — " + scrub(c.Detail)
		}
		if c.Status == techstatus.Fail && c.Fix != "" {
			l += " — " + scrub(c.Fix)
		}
		setText(r.text, clip(l, techCheckWidth))
		if r.icon.Resource != res {
			r.icon.SetResource(res)
		}
		relayout = relayout || !r.box.Visible()
		showIf(r.box, true)
	}
	if relayout {
		// Layouts place visible rows only, and the tiles grow with them:
		// lay the screen out again.
		s.content.Refresh()
	}
	kv := func(t *canvas.Text, key, val string) {
		if val == "" {
			val = "—"
		}
		setText(t, clip(u.t(key)+": "+scrub(val), techLineWidth))
	}
	ver := st.Version
	if st.Slot != "" {
		ver += " (" + u.t("technician.slot", st.Slot) + ")"
	}
	kv(s.version, "technician.version", ver)
	upd := u.t("technician.updates_off")
	if st.Update.Phase != "" {
		upd = u.tOr("technician.phase."+st.Update.Phase, st.Update.Phase)
	}
	if st.Update.Available != "" {
		upd += ", " + u.t("technician.available", st.Update.Available)
	}
	kv(s.update, "technician.update", upd)
	lease := ""
	if st.Update.LeaseHolder != "" {
		lease = u.t("technician.until", st.Update.LeaseHolder, st.Update.LeaseUntil.Format("15:04:05"))
	}
	kv(s.lease, "technician.lease", lease)
	ob := u.t("technician.outbox_depth", st.Outbox.Depth)
	if st.Outbox.Depth > 0 && st.Outbox.Oldest > 0 {
		ob += ", " + u.t("technician.oldest", u.duration(st.Outbox.Oldest))
	}
	kv(s.outbox, "technician.outbox", ob)
	up := u.tOr("technician.uplink_state."+string(st.Outbox.Uplink), string(st.Outbox.Uplink))
	if st.Outbox.Sent > 0 {
		up += ", " + u.t("technician.sent", st.Outbox.Sent)
	}
	if st.Outbox.Reason != "" {
		up += ": " + st.Outbox.Reason
	}
	if !st.Outbox.LastAck.IsZero() {
		up += " (" + u.t("technician.ack", st.Outbox.LastAck.Format("01-02 15:04")) + ")"
	}
	kv(s.uplink, "technician.uplink", up)
	if st.Reader.OK {
		kv(s.reader, "technician.reader", u.t("technician.reader_ok", st.Reader.Port))
	} else {
		kv(s.reader, "technician.reader", u.t("technician.reader_down", st.Reader.Port))
	}
	cam := u.t("technician.camera_none")
	if c := st.Camera; c.Present {
		key := "technician.camera_ok"
		if !c.OK {
			key = "technician.camera_down"
		}
		cam = u.t(key, c.Width, c.Height, c.Frames, c.Faults)
	}
	kv(s.camera, "technician.camera", cam)
	gp := u.t("technician.gpio_none")
	if g := st.GPIO; g.Present {
		tamper := u.t("technician.tamper_closed")
		if g.TamperOpen {
			tamper = u.t("technician.tamper_open")
		}
		gp = u.t("technician.gpio_state", u.tOr("technician.mode."+g.Mode, g.Mode), tamper)
	}
	kv(s.gpio, "technician.gpio", gp)
	q := ""
	for i, m := range st.Quality {
		if i > 0 {
			q += ", "
		}
		mark := u.t("technician.measure_ok")
		if !m.Pass {
			mark = u.t("technician.measure_low")
		}
		q += fmt.Sprintf("%s %.2f/%.2f %s", u.tOr("technician.measure."+m.Name, m.Name), m.Value, m.Threshold, mark)
	}
	kv(s.quality, "technician.quality", q)
	tail := st.Log
	if len(tail) > len(s.logLines) {
		tail = tail[len(tail)-len(s.logLines):]
	}
	for i, l := range s.logLines {
		if i < len(tail) {
			setText(l, clip(u.logLine(tail[i]), techLineWidth))
		} else {
			setText(l, "")
		}
	}
}

func passIf(ok bool) techstatus.CheckStatus {
	if ok {
		return techstatus.Pass
	}
	return techstatus.Fail
}

// nameKey is a check name as a catalogue key: "authority (mTLS)" →
// "authority_mtls".
func nameKey(name string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if sep && b.Len() > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			sep = false
		} else {
			sep = true
		}
	}
	return b.String()
}

// tOr translates key, or returns fallback when the catalogue lacks it.
func (u *UI) tOr(key, fallback string) string {
	if fallback == "" || !u.cat.Has(u.lang, key) {
		if fallback == "" {
			return "—"
		}
		return fallback
	}
	return u.t(key)
}

// duration says d in whole seconds, minutes or hours and minutes.
func (u *UI) duration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return u.t("technician.dur_s", int(d/time.Second))
	case d < time.Hour:
		return u.t("technician.dur_m", int(d/time.Minute))
	}
	return u.t("technician.dur_h", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// logLine is one log line as a technician reads it: the kiosk's time to the
// second, the level in the screen's language, the message and the other
// fields (already scrubbed by the logger; scrubbed again here, but never
// the time, whose digits are no personal data).
func (u *UI) logLine(l LogLine) string {
	var b strings.Builder
	if !l.At.IsZero() {
		b.WriteString(l.At.In(u.o.Clock.Now().Location()).Format("15:04:05")) // the kiosk clock's zone
		b.WriteByte(' ')
	}
	if l.Level != "" {
		b.WriteString(u.tOr("technician.level."+l.Level, l.Level))
		b.WriteByte(' ')
	}
	b.WriteString(scrub(l.Msg))
	for _, f := range l.Fields {
		b.WriteString(" " + f.Key + "=" + scrub(f.Value))
	}
	return b.String()
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
	u.bg.Add(1)
	go func() {
		defer u.bg.Done()
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
	u.bg.Add(1)
	go func() {
		defer u.bg.Done()
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
