package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// minLayout stacks its objects over the whole area and reports at least
// min as its minimum size: it makes touch targets big.
type minLayout struct{ min fyne.Size }

func (l *minLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

func (l *minLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	m := l.min
	for _, o := range objs {
		m = m.Max(o.MinSize())
	}
	return m
}

func atLeast(o fyne.CanvasObject, w, h float32) *fyne.Container {
	return container.New(&minLayout{fyne.NewSize(w, h)}, o)
}

// button is a touch button of at least minTouch height, with its wrapper
// (place the wrapper in layouts, keep the button to update it).
type button struct {
	*widget.Button
	box *fyne.Container
}

func newButton(icon fyne.Resource, imp widget.Importance, tap func()) button {
	b := widget.NewButtonWithIcon("", icon, tap)
	b.Importance = imp
	return button{b, atLeast(b, minTouchWide, minTouch)}
}

// setText changes a button's text only when it differs (no needless refresh).
func (b button) setText(s string) {
	if b.Text != s {
		b.SetText(s)
	}
}

func (b button) show(on bool) { showIf(b.box, on) }

// reveal shows o and repaints it: a fyne.Container's Show only clears its
// Hidden flag, so on a real screen (the GL driver redraws what changed) a
// container shown again stays undrawn until something else repaints; the
// test driver, which draws everything at each capture, hides that.
func reveal(o fyne.CanvasObject) {
	o.Show()
	o.Refresh()
}

func showIf(o fyne.CanvasObject, on bool) {
	if on && !o.Visible() {
		reveal(o)
	} else if !on && o.Visible() {
		o.Hide()
	}
}

// newLabel returns a label of the given theme size; body text wraps.
func newLabel(size fyne.ThemeSizeName, bold bool, wrap bool) *widget.Label {
	l := widget.NewLabel("")
	l.SizeName = size
	l.TextStyle = fyne.TextStyle{Bold: bold}
	if wrap {
		l.Wrapping = fyne.TextWrapWord
	}
	return l
}

func setLabel(l *widget.Label, s string) {
	if l.Text != s {
		l.SetText(s)
	}
}

func setText(t *canvas.Text, s string) {
	if t.Text != s {
		t.Text = s
		t.Refresh()
	}
}

// iconLine is an icon followed by a wrapping label.
func iconLine(res fyne.Resource, size fyne.ThemeSizeName, bold bool) (*fyne.Container, *widget.Icon, *widget.Label) {
	ic := widget.NewIcon(res)
	l := newLabel(size, bold, true)
	return container.NewBorder(nil, nil, container.NewCenter(ic), nil, l), ic, l
}

// The icons come from the default theme by name: theme.ConfirmIcon() and
// friends ask the running app for its theme, and at package initialisation
// there is none (Fyne logs an error for each).
var (
	iconOK        = builtinIcon(theme.IconNameConfirm)
	iconFail      = builtinIcon(theme.IconNameError)
	iconWarn      = builtinIcon(theme.IconNameWarning)
	iconInfo      = builtinIcon(theme.IconNameInfo)
	iconClock     = builtinIcon(theme.IconNameHistory)
	iconNext      = builtinIcon(theme.IconNameNavigateNext)
	iconCancel    = builtinIcon(theme.IconNameCancel)
	iconRetake    = builtinIcon(theme.IconNameViewRefresh)
	iconTech      = builtinIcon(theme.IconNameSettings)
	iconUnknown   = builtinIcon(theme.IconNameQuestion)
	iconCheckList = builtinIcon(theme.IconNameDocument)
)

func builtinIcon(n fyne.ThemeIconName) fyne.Resource { return theme.DefaultTheme().Icon(n) }
