package ui

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	qrcode "github.com/skip2/go-qrcode"

	"eidkiosk/internal/pii"
	"eidkiosk/kiosk/session"
	"eidkiosk/ui/i18n"
)

// ---- Attract ----

type attractScreen struct {
	title, other, hint, privacy *widget.Label
	steps                       [3]*widget.Label
	start                       button
	notice                      *fyne.Container
	noticeText                  *widget.Label
}

func (s *attractScreen) build(u *UI) *screen {
	s.title = newLabel(sizeNameHuge, true, false)
	s.title.Alignment = fyne.TextAlignCenter
	s.other = newLabel(sizeNameSub, false, false)
	s.other.Alignment = fyne.TextAlignCenter
	icons := []fyne.Resource{iconCard, iconReader, iconFace}
	icons[1] = iconCheckList
	var tiles []fyne.CanvasObject
	for i := range s.steps {
		s.steps[i] = newLabel(sizeNameSub, true, false)
		s.steps[i].Alignment = fyne.TextAlignCenter
		tiles = append(tiles, tile(u, container.NewVBox(container.NewCenter(u.bigIcon(icons[i], 72)), s.steps[i])))
	}
	s.start = newButton(iconNext, widget.HighImportance, func() { u.send(session.Tap{Action: session.ActStart}) })
	s.start.IconPlacement = widget.ButtonIconTrailingText
	s.start.box = atLeast(s.start.Button, 420, 104)
	s.hint = newLabel("", false, false)
	s.hint.Alignment = fyne.TextAlignCenter
	s.privacy = newLabel("", false, false)
	s.notice, _, s.noticeText = iconLine(iconWarn, "", true)
	s.noticeText.Wrapping = fyne.TextWrapOff
	s.notice.Hide()
	priv := container.NewCenter(container.NewHBox(widget.NewIcon(iconShield), s.privacy))
	c := container.NewBorder(nil, priv, nil, nil, container.NewVBox(
		layout.NewSpacer(),
		s.title, s.other,
		container.NewGridWithColumns(3, tiles...),
		container.NewCenter(s.start.box),
		container.NewStack(s.hint, container.NewCenter(s.notice)), layout.NewSpacer(),
	))
	return &screen{content: c}
}

// tileTight is a bordered panel with a single padding.
func tileTight(u *UI, o fyne.CanvasObject) fyne.CanvasObject {
	r := canvas.NewRectangle(u.th.palette().bg)
	r.StrokeColor = u.th.palette().border
	r.StrokeWidth = 2
	r.CornerRadius = 12
	return container.NewStack(r, container.NewPadded(o))
}

// tile is a bordered panel.
func tile(u *UI, o fyne.CanvasObject) fyne.CanvasObject {
	r := canvas.NewRectangle(u.th.palette().bg)
	r.StrokeColor = u.th.palette().border
	r.StrokeWidth = 2
	r.CornerRadius = 12
	return container.NewStack(r, container.NewPadded(container.NewPadded(o)))
}

func (s *attractScreen) apply(u *UI, v session.View) {
	setLabel(s.title, u.t("attract.title"))
	setLabel(s.other, u.cat.T(i18n.Other(u.lang), "attract.title"))
	for i := range s.steps {
		setLabel(s.steps[i], u.t(fmt.Sprintf("attract.step%d", i+1)))
	}
	s.start.setText(u.t("attract.start"))
	setLabel(s.hint, u.t("attract.hint"))
	setLabel(s.privacy, u.t("attract.privacy"))
	setNotice(u, s.notice, s.noticeText, v.Notice)
	showIf(s.hint, v.Notice == "") // the notice takes the hint's place
}

func setNotice(u *UI, box *fyne.Container, l *widget.Label, key string) {
	if key == "" {
		showIf(box, false)
		return
	}
	setLabel(l, u.t(key))
	showIf(box, true)
}

// ---- Simple information screens: card wait, reading, sealing ----

type infoScreen struct {
	title, hint *widget.Label
}

func (s *infoScreen) build(u *UI, res fyne.Resource) *screen {
	s.title = newLabel(theme.SizeNameHeadingText, true, false)
	s.hint = newLabel(sizeNameSub, false, true)
	text := container.NewVBox(layout.NewSpacer(), s.title, s.hint, layout.NewSpacer())
	c := container.NewBorder(nil, nil, container.NewCenter(u.bigIcon(res, 280)), nil, container.NewPadded(text))
	return &screen{content: c}
}

func (s *infoScreen) apply(u *UI, section string) {
	setLabel(s.title, u.t(section+".title"))
	setLabel(s.hint, u.t(section+".hint"))
}

// ---- Data shown ----

type dataScreen struct {
	title, masked                            *widget.Label
	kindK, nameK, numK, genK, birthK, validK *canvas.Text
	kind, name, number, gender, birth, valid *canvas.Text
	photo                                    *canvas.Image
	photoCaption                             *widget.Label
	notMe, isMe                              button
	photoSrc                                 image.Image
}

func (s *dataScreen) build(u *UI) *screen {
	s.title = newLabel(theme.SizeNameHeadingText, true, false)
	s.masked = newLabel("", false, false)
	keys := []**canvas.Text{&s.kindK, &s.nameK, &s.numK, &s.genK, &s.birthK, &s.validK}
	vals := []**canvas.Text{&s.kind, &s.name, &s.number, &s.gender, &s.birth, &s.valid}
	var kcol, vcol []fyne.CanvasObject
	for i := range keys {
		*keys[i] = canvas.NewText("", u.th.palette().fg)
		(*keys[i]).TextSize = sizeText
		*vals[i] = canvas.NewText("", u.th.palette().fg)
		(*vals[i]).TextSize = sizeSub
		(*vals[i]).TextStyle.Bold = true
		kcol = append(kcol, *keys[i])
		vcol = append(vcol, *vals[i])
	}
	form := container.NewBorder(nil, nil, atLeast(container.New(&pitchLayout{pitch: 56}, kcol...), 220, 0), nil,
		container.New(&pitchLayout{pitch: 56}, vcol...))
	s.photo = canvas.NewImageFromImage(u.silhouette)
	s.photo.FillMode = canvas.ImageFillContain
	s.photo.SetMinSize(fyne.NewSize(255, 340))
	s.photoCaption = newLabel("", false, false)
	s.photoCaption.Alignment = fyne.TextAlignCenter
	left := container.NewVBox(tile(u, s.photo), s.photoCaption)
	right := container.NewVBox(s.title, container.NewPadded(form), s.masked)
	c := container.NewBorder(nil, nil, container.NewVBox(left), nil, container.NewPadded(container.NewPadded(right)))
	s.notMe = newButton(iconCancel, widget.MediumImportance, func() { u.send(session.Tap{Action: session.ActNotMe}) })
	s.isMe = newButton(iconOK, widget.HighImportance, func() { u.send(session.Tap{Action: session.ActConfirm}) })
	s.isMe.box = atLeast(s.isMe.Button, 320, minTouch)
	return &screen{content: c, actions: container.NewHBox(s.notMe.box, widgetSpacer(24), s.isMe.box)}
}

func (s *dataScreen) apply(u *UI, v session.View) {
	setLabel(s.title, u.t("data.title"))
	setLabel(s.masked, u.t("data.masked"))
	setText(s.kindK, u.t("data.kind"))
	setText(s.nameK, u.t("data.name"))
	setText(s.numK, u.t("data.number"))
	setText(s.genK, u.t("data.gender"))
	setText(s.birthK, u.t("data.birth_year"))
	setText(s.validK, u.t("data.valid_to"))
	setLabel(s.photoCaption, u.t("data.photo"))
	s.notMe.setText(u.t("data.not_me"))
	s.isMe.setText(u.t("data.this_is_me"))
	c := v.Card
	if c == nil {
		return
	}
	setText(s.kind, u.t("kind."+c.Kind.String()))
	name := c.Name
	if u.lang == i18n.EN && c.NameEN != "" || name == "" {
		name = c.NameEN
	}
	// The engine masks; mask again so that an unmasked value never shows.
	setText(s.name, name)
	setText(s.number, safeNumber(c.Number))
	if g := "gender." + c.Gender; u.cat.Has(u.lang, g) {
		setText(s.gender, u.t(g))
	} else {
		setText(s.gender, u.t("gender.0"))
	}
	if c.BirthYear > 0 {
		setText(s.birth, fmt.Sprint(c.BirthYear))
	} else {
		setText(s.birth, "—")
	}
	switch {
	case c.NoExpiry:
		setText(s.valid, u.t("data.no_expiry"))
	case c.ValidTo.IsZero():
		setText(s.valid, "—")
	default:
		setText(s.valid, c.ValidTo.Format("2006-01-02"))
	}
	if c.Photo != s.photoSrc {
		s.photoSrc = c.Photo
		if c.Photo != nil {
			s.photo.Image = c.Photo
		} else {
			s.photo.Image = u.silhouette
		}
		s.photo.Refresh()
	}
}

// safeNumber shows an ID number as the engine masked it; a number that
// arrives unmasked (more than 8 digits visible) is masked here.
func safeNumber(n string) string {
	digits := 0
	for _, r := range n {
		if r >= '0' && r <= '9' || r == 'X' || r == 'x' {
			digits++
		}
	}
	if digits > 8 {
		return pii.MaskID(n)
	}
	return n
}

// clear drops the card photo and the masked data from the widgets.
func (s *dataScreen) clear(u *UI) {
	if s.photoSrc == nil && s.name.Text == "" {
		return
	}
	s.photoSrc = nil
	s.photo.Image = u.silhouette
	s.photo.Refresh()
	for _, l := range []*canvas.Text{s.kind, s.name, s.number, s.gender, s.birth, s.valid} {
		setText(l, "")
	}
}

// ---- Consent ----

type consentScreen struct {
	title          *widget.Label
	heads, bodies  [4]*widget.Label
	decline, agree button
}

var consentParts = [4]string{"what", "to", "why", "keep"}

func (s *consentScreen) build(u *UI) *screen {
	s.title = newLabel(theme.SizeNameHeadingText, true, false)
	var blocks []fyne.CanvasObject
	for i := range consentParts {
		s.heads[i] = newLabel(sizeNameSub, true, false)
		s.bodies[i] = newLabel("", false, true)
		blocks = append(blocks, tileTight(u, container.NewBorder(nil, nil, atLeast(s.heads[i], 250, 0), nil, s.bodies[i])))
	}
	c := container.NewBorder(container.NewHBox(u.bigIcon(iconShield, 64), s.title), nil, nil, nil,
		container.NewGridWithColumns(1, blocks...))
	s.decline = newButton(iconCancel, widget.MediumImportance, func() { u.send(session.Tap{Action: session.ActDecline}) })
	s.agree = newButton(iconOK, widget.HighImportance, func() { u.send(session.Tap{Action: session.ActAgree}) })
	s.agree.box = atLeast(s.agree.Button, 360, minTouch)
	return &screen{content: c, actions: container.NewHBox(s.decline.box, widgetSpacer(24), s.agree.box)}
}

func (s *consentScreen) apply(u *UI) {
	setLabel(s.title, u.t("consent.title"))
	for i, p := range consentParts {
		setLabel(s.heads[i], u.t("consent."+p+"_h"))
		setLabel(s.bodies[i], u.t("consent."+p))
	}
	s.decline.setText(u.t("consent.decline"))
	s.agree.setText(u.t("consent.agree"))
}

// ---- Face capture ----

type faceScreen struct {
	instruction, stepL, challengeLeft, attempt *widget.Label
	status                                     *widget.Label
	statusIcon                                 *widget.Icon
	retry                                      *fyne.Container
	retryText                                  *widget.Label
	guidance                                   *widget.Label
}

func (s *faceScreen) build(u *UI) *screen {
	u.prev = newPreviewView(u)
	s.instruction = newLabel(sizeNameHuge, true, true)
	s.instruction.Wrapping = fyne.TextWrapWord
	s.stepL = newLabel(sizeNameSub, false, false)
	s.challengeLeft = newLabel(sizeNameSub, true, false)
	s.guidance = newLabel(sizeNameSub, false, true)
	s.attempt = newLabel("", false, false)
	var st *fyne.Container
	st, s.statusIcon, s.status = iconLine(iconUnknown, "", true)
	s.retry, _, s.retryText = iconLine(iconInfo, "", true)
	right := container.NewBorder(s.retry, container.NewVBox(st, s.attempt), nil, nil,
		container.NewVBox(s.instruction, container.NewHBox(s.stepL, widgetSpacer(24), s.challengeLeft), s.guidance))
	c := container.NewBorder(nil, nil, u.prev.root, nil, container.NewPadded(container.NewPadded(right)))
	return &screen{content: c}
}

func (s *faceScreen) apply(u *UI, v session.View) {
	f := v.Face
	switch {
	case f.Challenge != "":
		setLabel(s.instruction, u.cat.Guidance(u.lang, f.Challenge))
	case len(f.Guidance) > 0:
		setLabel(s.instruction, u.cat.Guidance(u.lang, f.Guidance[0]))
	default:
		setLabel(s.instruction, u.t("face.title"))
	}
	if f.Challenge != "" && len(f.Guidance) > 0 {
		setLabel(s.guidance, u.cat.Guidance(u.lang, f.Guidance[0]))
	} else if f.Challenge == "" && len(f.Guidance) == 0 && !v.Retry {
		setLabel(s.guidance, u.t("face.hint"))
	} else {
		setLabel(s.guidance, "")
	}
	if f.Steps > 0 && f.Challenge != "" {
		setLabel(s.stepL, u.t("challenge.step", f.Step, f.Steps))
	} else {
		setLabel(s.stepL, "")
	}
	if f.Box.Empty() {
		setLabel(s.status, u.t("face.no_face"))
		if s.statusIcon.Resource != iconUnknown {
			s.statusIcon.SetResource(iconUnknown)
		}
	} else {
		setLabel(s.status, u.t("face.found"))
		if s.statusIcon.Resource != iconOK {
			s.statusIcon.SetResource(iconOK)
		}
	}
	if v.Attempts > 0 {
		setLabel(s.attempt, u.t("face.attempt", max(v.Attempt, 1), v.Attempts))
	} else {
		setLabel(s.attempt, "")
	}
	if v.Retry {
		setLabel(s.retryText, u.t("face.retry"))
	}
	showIf(s.retry, v.Retry)
	u.prev.setBox(f.Box, f.Frame)
	u.prev.setLabels(u)
}

// ---- Review ----

type reviewScreen struct {
	title, hint, left *widget.Label
	portrait          *canvas.Image
	decoded           *image.YCbCr
	src               []byte
	retake, keep      button
}

func (s *reviewScreen) build(u *UI) *screen {
	s.title = newLabel(theme.SizeNameHeadingText, true, false)
	s.hint = newLabel(sizeNameSub, false, true)
	s.left = newLabel("", false, false)
	s.portrait = canvas.NewImageFromImage(u.silhouette)
	s.portrait.FillMode = canvas.ImageFillContain
	s.portrait.SetMinSize(fyne.NewSize(360, 480))
	right := container.NewVBox(layout.NewSpacer(), s.title, s.hint, s.left, layout.NewSpacer())
	c := container.NewBorder(nil, nil, tile(u, s.portrait), nil, container.NewPadded(container.NewPadded(right)))
	s.retake = newButton(iconRetake, widget.MediumImportance, func() { u.send(session.Tap{Action: session.ActRetake}) })
	s.keep = newButton(iconOK, widget.HighImportance, func() { u.send(session.Tap{Action: session.ActKeep}) })
	s.keep.box = atLeast(s.keep.Button, 360, minTouch)
	return &screen{content: c, actions: container.NewHBox(s.retake.box, widgetSpacer(24), s.keep.box)}
}

func (s *reviewScreen) apply(u *UI, v session.View) {
	setLabel(s.title, u.t("review.title"))
	setLabel(s.hint, u.t("review.hint"))
	s.retake.setText(u.t("review.retake"))
	s.keep.setText(u.t("review.keep"))
	left := v.Attempts - v.Attempt
	if left > 0 {
		setLabel(s.left, u.t("review.retakes_left", left))
		s.retake.Enable()
	} else {
		setLabel(s.left, u.t("review.no_retakes"))
		s.retake.Disable()
	}
	if len(v.Portrait) > 0 && (len(s.src) != len(v.Portrait) || &s.src[0] != &v.Portrait[0]) {
		s.clear(u)
		s.src = v.Portrait
		img, err := jpeg.Decode(bytes.NewReader(v.Portrait))
		if err != nil {
			u.log.Warn("portrait not shown: cannot decode", "err", err)
			return
		}
		if y, ok := img.(*image.YCbCr); ok {
			s.decoded = y
		}
		s.portrait.Image = img
		s.portrait.Refresh()
	}
}

// clear removes the portrait and zeroes the decoded copy.
func (s *reviewScreen) clear(u *UI) {
	if s.src == nil && s.decoded == nil {
		return
	}
	if s.decoded != nil {
		pii.Zero(s.decoded.Y)
		pii.Zero(s.decoded.Cb)
		pii.Zero(s.decoded.Cr)
		s.decoded = nil
	}
	s.src = nil
	s.portrait.Image = u.silhouette
	s.portrait.Refresh()
}

// ---- Receipt ----

type receiptScreen struct {
	title, numberK, number, scan, status, take *widget.Label
	statusIcon                                 *widget.Icon
	qr                                         *canvas.Image
	done                                       button
}

func (s *receiptScreen) build(u *UI) *screen {
	s.title = newLabel(theme.SizeNameHeadingText, true, false)
	s.numberK = newLabel("", false, false)
	s.number = newLabel(theme.SizeNameHeadingText, true, false)
	s.scan = newLabel("", false, true)
	s.take = newLabel("", true, false)
	var st *fyne.Container
	st, s.statusIcon, s.status = iconLine(iconOK, "", false)
	s.qr = canvas.NewImageFromImage(nil)
	s.qr.FillMode = canvas.ImageFillContain
	s.qr.ScaleMode = canvas.ImageScalePixels
	s.qr.SetMinSize(fyne.NewSize(400, 400))
	white := canvas.NewRectangle(rgb(0xFFFFFF))
	qr := container.NewStack(white, s.qr)
	right := container.NewVBox(container.NewHBox(u.bigIcon(iconOK, 64), s.title), s.numberK, s.number, s.scan, st)
	c := container.NewBorder(nil, nil, container.NewCenter(qr), nil, container.NewPadded(container.NewPadded(right)))
	s.done = newButton(iconOK, widget.HighImportance, func() { u.send(session.Tap{Action: session.ActDone}) })
	s.done.box = atLeast(s.done.Button, 320, minTouch)
	// "Take your card" sits beside the button, where the eye ends.
	return &screen{content: c, actions: container.NewHBox(container.NewCenter(s.take), widgetSpacer(24), s.done.box)}
}

func (s *receiptScreen) apply(u *UI, v session.View) {
	setLabel(s.title, u.t("receipt.title"))
	setLabel(s.numberK, u.t("receipt.number"))
	setLabel(s.scan, u.t("receipt.scan"))
	setLabel(s.take, u.t("receipt.take_card"))
	s.done.setText(u.t("receipt.done"))
	r := v.Receipt
	if r == nil {
		return
	}
	setLabel(s.number, r.Short)
	if r.Sent {
		setLabel(s.status, u.t("receipt.sent"))
		if s.statusIcon.Resource != iconOK {
			s.statusIcon.SetResource(iconOK)
		}
	} else {
		setLabel(s.status, u.t("receipt.queued"))
		if s.statusIcon.Resource != iconClock {
			s.statusIcon.SetResource(iconClock)
		}
	}
	if r.QR != u.lastQRKey {
		u.lastQRKey = r.QR
		q, err := qrcode.New(r.QR, qrcode.Medium)
		if err != nil {
			u.log.Warn("receipt QR code not drawn", "err", err)
			s.qr.Image = nil
		} else {
			s.qr.Image = q.Image(400)
		}
		s.qr.Refresh()
	}
}

func (s *receiptScreen) clear(u *UI) {
	if u.lastQRKey == "" {
		return
	}
	u.lastQRKey = ""
	s.qr.Image = nil
	s.qr.Refresh()
	setLabel(s.number, "")
}

// ---- Failed and Unavailable ----

type faultScreen struct {
	title, what *widget.Label
	ok          button
	icon        *canvas.Image
	notice      *fyne.Container
	noticeText  *widget.Label
}

func (s *faultScreen) build(u *UI, withOK bool) *screen {
	s.title = newLabel(sizeNameHuge, true, true)
	s.title.Alignment = fyne.TextAlignCenter
	s.what = newLabel(sizeNameSub, false, true)
	s.what.Alignment = fyne.TextAlignCenter
	s.icon = u.bigIcon(iconWarn, 200)
	s.notice, _, s.noticeText = iconLine(iconWarn, "", true)
	s.notice.Hide()
	c := container.NewVBox(layout.NewSpacer(), container.NewCenter(s.icon), s.title, s.what, s.notice, layout.NewSpacer())
	sc := &screen{content: c}
	if withOK {
		s.ok = newButton(iconOK, widget.HighImportance, func() { u.send(session.Tap{Action: session.ActDone}) })
		s.ok.box = atLeast(s.ok.Button, 320, minTouch)
		sc.actions = s.ok.box
	}
	return sc
}

func (s *faultScreen) apply(u *UI, v session.View) {
	key := "fault." + v.Fault.String()
	if !u.cat.Has(u.lang, key+".title") {
		key = "fault.unknown"
	}
	setLabel(s.title, u.t(key+".title"))
	setLabel(s.what, u.t(key+".what"))
	if s.ok.Button != nil {
		s.ok.setText(u.t("common.ok"))
	}
	setNotice(u, s.notice, s.noticeText, v.Notice)
}
