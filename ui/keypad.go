package ui

import (
	"fmt"
	"image/color"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"eidkiosk/kiosk/session"
)

// Technician access: tapPattern taps within tapWindow on the top-left corner
// of Attract or Unavailable open the PIN keypad. The engine checks the PIN
// (and locks after repeated wrong ones); the UI never knows it.
const (
	tapPattern = 5
	tapWindow  = 3 * time.Second
	maxPIN     = 12
)

// tapZone is an invisible tappable area.
type tapZone struct {
	widget.BaseWidget
	min   fyne.Size
	onTap func()
}

func newTapZone(min fyne.Size, onTap func()) *tapZone {
	z := &tapZone{min: min, onTap: onTap}
	z.ExtendBaseWidget(z)
	return z
}

func (z *tapZone) Tapped(*fyne.PointEvent) { z.onTap() }
func (z *tapZone) MinSize() fyne.Size      { return z.min }
func (z *tapZone) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(canvas.NewRectangle(color.Transparent))
}

// cornerTapped counts taps on the corner. Fyne thread.
func (u *UI) cornerTapped() {
	if u.cur.State != session.Attract && u.cur.State != session.Unavailable {
		u.keypad.taps = nil
		return
	}
	now := u.o.Clock.Now()
	k := &u.keypad
	keep := k.taps[:0]
	for _, t := range k.taps {
		if now.Sub(t) < tapWindow {
			keep = append(keep, t)
		}
	}
	k.taps = append(keep, now)
	if len(k.taps) >= tapPattern {
		k.taps = nil
		k.open(u)
	}
}

// keypad is the PIN entry built from buttons (no on-screen keyboard exists
// on the kiosk, and no text field may appear).
type keypad struct {
	root    *fyne.Container
	title   *widget.Label
	dots    *canvas.Text
	digits  [10]button
	clear   button
	back    button
	close   button
	enter   button
	pin     []byte
	taps    []time.Time
	visible bool
}

func (k *keypad) build(u *UI) fyne.CanvasObject {
	pal := u.th.palette()
	shade := canvas.NewRectangle(pal.bg)
	shade.FillColor = withAlpha(pal.fg, 0xB0)
	panel := canvas.NewRectangle(pal.bg)
	panel.StrokeColor = pal.border
	panel.StrokeWidth = 3
	panel.CornerRadius = 16
	k.title = newLabel(sizeNameSub, true, false)
	k.title.Alignment = fyne.TextAlignCenter
	k.dots = canvas.NewText("", pal.fg)
	k.dots.TextSize = sizeHuge
	k.dots.Alignment = fyne.TextAlignCenter
	var keys []fyne.CanvasObject
	for _, d := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9} {
		keys = append(keys, k.digit(u, d))
	}
	k.clear = newButton(nil, widget.MediumImportance, func() { k.pin = wipePIN(k.pin); k.show(u) })
	k.back = newButton(nil, widget.MediumImportance, func() {
		if len(k.pin) > 0 {
			k.pin[len(k.pin)-1] = 0
			k.pin = k.pin[:len(k.pin)-1]
		}
		k.show(u)
	})
	for _, b := range []*button{&k.clear, &k.back} {
		b.box = atLeast(b.Button, 120, 88)
	}
	keys = append(keys, k.clear.box, k.digit(u, 0), k.back.box)
	k.close = newButton(iconCancel, widget.MediumImportance, func() { k.hide() })
	k.enter = newButton(iconOK, widget.HighImportance, func() {
		pin := string(k.pin)
		k.pin = wipePIN(k.pin)
		k.hide()
		u.send(session.Tap{Action: session.ActTechnician, PIN: pin})
	})
	grid := container.NewGridWithColumns(3, keys...)
	body := container.NewVBox(k.title, k.dots, grid, widgetSpacer(1),
		container.NewGridWithColumns(2, k.close.box, k.enter.box))
	box := container.NewStack(panel, container.NewPadded(container.NewPadded(body)))
	k.root = container.NewStack(shade, container.NewCenter(atLeast(box, 480, 0)))
	k.root.Hide()
	return k.root
}

func (k *keypad) digit(u *UI, d int) fyne.CanvasObject {
	b := newButton(nil, widget.MediumImportance, func() {
		if len(k.pin) < maxPIN {
			k.pin = append(k.pin, byte('0'+d))
		}
		k.show(u)
	})
	b.Button.Text = fmt.Sprint(d)
	b.box = atLeast(b.Button, 120, 88)
	k.digits[d] = b
	return b.box
}

func withAlpha(c interface{ RGBA() (r, g, b, a uint32) }, a uint8) color.NRGBA {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: a}
}

func (k *keypad) open(u *UI) {
	k.pin = wipePIN(k.pin)
	k.visible = true
	k.show(u)
	k.root.Show()
	// Hidden, the keypad was never laid out (layouts skip hidden objects):
	// lay the whole UI out again, or a real screen draws it at size zero.
	u.root.Refresh()
}

func (k *keypad) hide() {
	k.pin = wipePIN(k.pin)
	if k.visible {
		k.visible = false
		k.root.Hide()
	}
}

// show updates the keypad's texts. Fyne thread.
func (k *keypad) show(u *UI) {
	if !k.visible {
		return
	}
	if len(k.pin) == 0 {
		setLabel(k.title, u.t("technician.pin_hint"))
	} else {
		setLabel(k.title, u.t("technician.pin_title"))
	}
	setText(k.dots, strings.TrimSpace(strings.Repeat("● ", len(k.pin))))
	if len(k.pin) == 0 {
		setText(k.dots, " ")
	}
	k.clear.setText(u.t("technician.clear"))
	k.back.setText(u.t("technician.back"))
	k.close.setText(u.t("technician.close"))
	k.enter.setText(u.t("technician.enter"))
	if len(k.pin) >= 4 {
		k.enter.Enable()
	} else {
		k.enter.Disable()
	}
}

func (k *keypad) apply(u *UI) { k.show(u) }

func wipePIN(b []byte) []byte {
	for i := range b {
		b[i] = 0
	}
	return b[:0]
}
