package ui

import (
	"embed"
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"eidkiosk/ui/font"
)

// Text sizes of the kiosk, in Fyne units (pixels at scale 1). The main flow
// never goes below SizeText (28).
const (
	sizeText     = 28
	sizeHeading  = 48
	sizeSub      = 34
	sizeHuge     = 56
	sizeCaption  = 20 // technician mode only
	minTouch     = 72 // every button is at least this high (≥ 64 required)
	minTouchWide = 220
)

// Theme size names the UI adds to Fyne's.
const (
	sizeNameHuge    fyne.ThemeSizeName = "eid.huge"
	sizeNameSub     fyne.ThemeSizeName = "eid.sub"
	sizeNameCaption fyne.ThemeSizeName = "eid.caption"
)

//go:embed icons/*.svg
var iconFS embed.FS

func icon(name string) fyne.Resource {
	b, err := iconFS.ReadFile("icons/" + name + ".svg")
	if err != nil {
		panic("ui: missing embedded icon " + name)
	}
	return theme.NewThemedResource(fyne.NewStaticResource(name+".svg", b))
}

var (
	iconCard       = icon("idcard")
	iconReader     = icon("reader")
	iconFace       = icon("face")
	iconShield     = icon("shield")
	iconSilhouette = fyne.NewStaticResource("silhouette.svg", mustIcon("silhouette"))
)

func mustIcon(name string) []byte {
	b, err := iconFS.ReadFile("icons/" + name + ".svg")
	if err != nil {
		panic("ui: missing embedded icon " + name)
	}
	return b
}

// palette is one colour scheme. Both schemes keep text contrast ≥ 7:1
// (WCAG AAA); state is never shown by colour alone (icons and words too).
type palette struct {
	bg, fg, primary, onPrimary, button, onButton, disabled, err, warn, ok, header, onHeader, border, hover color.NRGBA
}

var (
	paletteDefault = palette{
		bg: rgb(0xF5F7FA), fg: rgb(0x0B1220), primary: rgb(0x0A4A9E), onPrimary: rgb(0xFFFFFF),
		button: rgb(0xDCE3EE), onButton: rgb(0x0B1220), disabled: rgb(0x5A6372),
		err: rgb(0xA3001B), warn: rgb(0x7A4B00), ok: rgb(0x1A6B2A),
		header: rgb(0x0B2F63), onHeader: rgb(0xFFFFFF), border: rgb(0x8893A5), hover: rgb(0xC8D3E6),
	}
	paletteHigh = palette{
		bg: rgb(0x000000), fg: rgb(0xFFFFFF), primary: rgb(0xFFD400), onPrimary: rgb(0x000000),
		button: rgb(0x2A2A2A), onButton: rgb(0xFFFFFF), disabled: rgb(0xB0B0B0),
		err: rgb(0xFF6B6B), warn: rgb(0xFFD400), ok: rgb(0x7CFC9A),
		header: rgb(0x000000), onHeader: rgb(0xFFFFFF), border: rgb(0xFFFFFF), hover: rgb(0x444444),
	}
)

func rgb(v uint32) color.NRGBA {
	return color.NRGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xFF}
}

// Theme is the kiosk's Fyne theme: large text, high contrast, and the
// Simplified Chinese font for every style.
type Theme struct {
	p             palette
	regular, bold fyne.Resource
}

// NewTheme returns the theme with faces from font.Prepare. With
// highContrast the screen is white and yellow on black.
func NewTheme(f font.Faces, highContrast bool) *Theme {
	t := &Theme{p: paletteDefault}
	if highContrast {
		t.p = paletteHigh
	}
	if len(f.Regular.Bytes) > 0 {
		t.regular = fyne.NewStaticResource("ui-regular.otf", f.Regular.Bytes)
		t.bold = t.regular
		if len(f.Bold.Bytes) > 0 {
			t.bold = fyne.NewStaticResource("ui-bold.otf", f.Bold.Bytes)
		}
	}
	return t
}

// Color implements fyne.Theme. The variant is ignored: a kiosk has one look.
func (t *Theme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	p := t.p
	switch n {
	case theme.ColorNameBackground, theme.ColorNameMenuBackground, theme.ColorNameOverlayBackground:
		return p.bg
	case theme.ColorNameForeground, theme.ColorNameForegroundOnWarning:
		return p.fg
	case theme.ColorNamePrimary, theme.ColorNameFocus, theme.ColorNameHyperlink:
		return p.primary
	case theme.ColorNameForegroundOnPrimary, theme.ColorNameForegroundOnError, theme.ColorNameForegroundOnSuccess:
		return p.onPrimary
	case theme.ColorNameButton, theme.ColorNameInputBackground:
		return p.button
	case theme.ColorNameDisabledButton:
		return p.button
	case theme.ColorNameDisabled, theme.ColorNamePlaceHolder:
		return p.disabled
	case theme.ColorNameError:
		return p.err
	case theme.ColorNameWarning:
		return p.warn
	case theme.ColorNameSuccess:
		return p.ok
	case theme.ColorNameHeaderBackground:
		return p.header
	case theme.ColorNameHover, theme.ColorNamePressed, theme.ColorNameSelection:
		return p.hover
	case theme.ColorNameSeparator, theme.ColorNameInputBorder:
		return p.border
	case theme.ColorNameShadow:
		return color.NRGBA{A: 0x40}
	case theme.ColorNameScrollBar, theme.ColorNameScrollBarBackground:
		return color.Transparent
	}
	return theme.DefaultTheme().Color(n, theme.VariantLight)
}

// Font implements fyne.Theme: the SC face for every style (bold for bold).
func (t *Theme) Font(s fyne.TextStyle) fyne.Resource {
	if t.regular == nil {
		return theme.DefaultTheme().Font(s)
	}
	if s.Bold {
		return t.bold
	}
	return t.regular
}

// Icon implements fyne.Theme.
func (t *Theme) Icon(n fyne.ThemeIconName) fyne.Resource { return theme.DefaultTheme().Icon(n) }

// Size implements fyne.Theme.
func (t *Theme) Size(n fyne.ThemeSizeName) float32 {
	switch n {
	case theme.SizeNameText:
		return sizeText
	case theme.SizeNameHeadingText:
		return sizeHeading
	case theme.SizeNameSubHeadingText, sizeNameSub:
		return sizeSub
	case sizeNameHuge:
		return sizeHuge
	case theme.SizeNameCaptionText, sizeNameCaption:
		return sizeCaption
	case theme.SizeNameInlineIcon:
		return 36
	case theme.SizeNamePadding:
		return 8
	case theme.SizeNameInnerPadding:
		return 16
	case theme.SizeNameLineSpacing:
		return 8
	case theme.SizeNameInputRadius, theme.SizeNameSelectionRadius:
		return 12
	case theme.SizeNameSeparatorThickness:
		return 2
	case theme.SizeNameInputBorder:
		return 3
	case theme.SizeNameScrollBar, theme.SizeNameScrollBarSmall:
		return 0
	}
	return theme.DefaultTheme().Size(n)
}

// palette returns the theme's colours for the UI's own canvas objects.
func (t *Theme) palette() palette { return t.p }
