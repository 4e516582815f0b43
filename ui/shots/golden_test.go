package shots

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"eidkiosk/kiosk/session"
	"eidkiosk/ui"
	"eidkiosk/ui/font"
	"eidkiosk/ui/i18n"
	"eidkiosk/ui/uitest"
)

// Golden images live in ui/testdata/golden as 640×400 grey PNGs (small,
// and insensitive to colour-only changes of anti-aliasing). Regenerate with
//
//	EIDKIOSK_UPDATE_GOLDEN=1 go test ./ui/shots -run TestGolden
const goldenDir = "../testdata/golden"

var (
	rOnce sync.Once
	rend  *Renderer
	rErr  error
)

// sample is the catalogue to check: all of it, or under the race detector
// (and unless EIDKIOSK_LONG is set) the first screen of each state.
func sample() []Shot {
	all := Catalogue()
	if !raceOn || os.Getenv("EIDKIOSK_LONG") != "" {
		return all
	}
	var out []Shot
	seen := map[session.State]bool{}
	for _, s := range all {
		if !seen[s.View.State] {
			seen[s.View.State] = true
			out = append(out, s)
		}
	}
	return out
}

// langs is both languages, or under the race detector only zh-CN.
func langs() []string {
	if raceOn && os.Getenv("EIDKIOSK_LONG") == "" {
		return []string{i18n.ZH}
	}
	return i18n.Langs
}

func renderer(t *testing.T) *Renderer {
	t.Helper()
	rOnce.Do(func() {
		var f font.Faces
		f, rErr = font.Prepare(font.Options{})
		if rErr == nil {
			rend = NewRenderer(f, false)
			rend.Scale = 0.5
		}
	})
	if rErr != nil {
		t.Skipf("no SC font: %v", rErr)
	}
	return rend
}

// grey converts an image to 8-bit grey.
func grey(img image.Image) *image.Gray {
	b := img.Bounds()
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			g.Set(x, y, color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)))
		}
	}
	return g
}

// diff compares two grey images: the mean absolute difference and the share
// of pixels differing by more than 64 (a glyph or an icon changed).
func diff(a, b *image.Gray) (mean float64, far float64, err error) {
	if a.Rect.Size() != b.Rect.Size() {
		return 0, 0, fmt.Errorf("size %v, golden %v", a.Rect.Size(), b.Rect.Size())
	}
	var sum, n int
	for i := range a.Pix {
		d := int(a.Pix[i]) - int(b.Pix[i])
		if d < 0 {
			d = -d
		}
		sum += d
		if d > 64 {
			n++
		}
	}
	return float64(sum) / float64(len(a.Pix)), float64(n) / float64(len(a.Pix)), nil
}

func TestGolden(t *testing.T) {
	r := renderer(t)
	update := os.Getenv("EIDKIOSK_UPDATE_GOLDEN") != ""
	want := map[string]bool{}
	for _, s := range Catalogue() {
		for _, l := range i18n.Langs {
			want[s.Name+"."+l+".png"] = true
		}
	}
	for _, s := range sample() {
		for _, l := range langs() {
			name := s.Name + "." + l + ".png"
			t.Run(s.Name+"/"+l, func(t *testing.T) {
				img, err := r.Render(s, l)
				if err != nil {
					t.Fatal(err)
				}
				got := grey(img)
				path := filepath.Join(goldenDir, name)
				if update {
					if err := os.MkdirAll(goldenDir, 0o755); err != nil {
						t.Fatal(err)
					}
					f, err := os.Create(path)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(f, got); err != nil {
						t.Fatal(err)
					}
					return
				}
				f, err := os.Open(path)
				if err != nil {
					t.Fatalf("%v (regenerate with EIDKIOSK_UPDATE_GOLDEN=1)", err)
				}
				defer f.Close()
				gi, err := png.Decode(f)
				if err != nil {
					t.Fatal(err)
				}
				mean, far, err := diff(got, grey(gi))
				if err != nil {
					t.Fatal(err)
				}
				if mean > 1.5 || far > 0.003 {
					out := filepath.Join(t.TempDir(), name)
					if fo, err := os.Create(out); err == nil {
						png.Encode(fo, got)
						fo.Close()
					}
					t.Errorf("differs from %s: mean %.2f, %.2f%% of pixels far off; rendering in %s", path, mean, far*100, out)
				}
			})
		}
	}
	if !update {
		// No stale golden files for screens that no longer exist.
		ents, _ := os.ReadDir(goldenDir)
		for _, e := range ents {
			if !want[e.Name()] {
				t.Errorf("stale golden file %s", e.Name())
			}
		}
	}
}

// TestGoldenCatchesChanges: the comparison fails for a changed text.
func TestGoldenCatchesChanges(t *testing.T) {
	r := renderer(t)
	s := Catalogue()[0]
	a, err := r.Render(s, "zh-CN")
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Render(s, "en")
	if err != nil {
		t.Fatal(err)
	}
	mean, far, _ := diff(grey(a), grey(b))
	if mean <= 1.5 && far <= 0.003 {
		t.Errorf("zh-CN and en attract screens compare equal (mean %.2f far %.4f): the tolerance is too loose", mean, far)
	}
}

// TestAccessibility checks every screen in both languages: buttons are big
// touch targets, the citizen's text is at least 28 px, nothing lies outside
// the window, and there are no text fields or scroll containers.
func TestAccessibility(t *testing.T) {
	r := renderer(t)
	rs := *r
	rs.Scale = 1
	for _, s := range sample() {
		for _, l := range i18n.Langs {
			t.Run(s.Name+"/"+l, func(t *testing.T) {
				sc, err := rs.Build(s, l)
				if err != nil {
					t.Fatal(err)
				}
				defer sc.Close()
				sc.Window.Content().Refresh()
				tech := s.View.State == session.Technician
				win := sc.Window.Canvas().Size()
				drv := fyne.CurrentApp().Driver()
				var problems []string
				type box struct {
					what string
					r    fyne.Position
					s    fyne.Size
				}
				var boxes []box
				walkVisible(sc.Window.Content(), func(o fyne.CanvasObject) {
					pos := drv.AbsolutePositionForObject(o)
					size := o.Size()
					switch x := o.(type) {
					case *widget.Button:
						boxes = append(boxes, box{"button " + x.Text, pos, size})
					case *widget.Label:
						if x.Text != "" {
							// The text sits inside the label's padding.
							const in = 12
							boxes = append(boxes, box{"label " + x.Text, pos.AddXY(in, in), size.SubtractWidthHeight(2*in, 2*in)})
						}
					case *canvas.Text:
						if strings.TrimSpace(x.Text) != "" {
							boxes = append(boxes, box{"text " + x.Text, pos, x.MinSize()})
						}
					}
					inside := pos.X >= -0.5 && pos.Y >= -0.5 && pos.X+size.Width <= win.Width+0.5 && pos.Y+size.Height <= win.Height+0.5
					switch x := o.(type) {
					case *widget.Button:
						if size.Height < 64 || size.Width < 64 {
							problems = append(problems, fmt.Sprintf("button %q is %v (< 64 px)", x.Text, size))
						}
						if !inside {
							problems = append(problems, fmt.Sprintf("button %q at %v+%v outside the window", x.Text, pos, size))
						}
					case *widget.Label:
						if x.Text == "" {
							return
						}
						ts := sc.UI.ThemeSize(x.SizeName)
						if !tech && ts < 28 {
							problems = append(problems, fmt.Sprintf("label %q at %v px", x.Text, ts))
						}
						if !inside {
							problems = append(problems, fmt.Sprintf("label %q at %v+%v outside the window", x.Text, pos, size))
						}
						if min := x.MinSize(); x.Wrapping == fyne.TextWrapOff && min.Width > size.Width+1 {
							problems = append(problems, fmt.Sprintf("label %q cut: needs %v, has %v", x.Text, min.Width, size.Width))
						}
					case *canvas.Text:
						if x.Text == "" || x.Text == " " {
							return
						}
						if !tech && x.TextSize < 28 {
							problems = append(problems, fmt.Sprintf("text %q at %v px", x.Text, x.TextSize))
						}
						if !inside {
							problems = append(problems, fmt.Sprintf("text %q at %v+%v outside the window", x.Text, pos, size))
						}
					case *widget.Entry, *widget.SelectEntry, *container.Scroll, *widget.List, *widget.Table, *widget.Tree:
						problems = append(problems, fmt.Sprintf("%T on screen", o))
					}
				})
				// Nothing with text overlaps anything else with text (the
				// keypad is an overlay on purpose).
				if !s.Keypad {
					for i := range boxes {
						for j := i + 1; j < len(boxes); j++ {
							a, b := boxes[i], boxes[j]
							w := min(a.r.X+a.s.Width, b.r.X+b.s.Width) - max(a.r.X, b.r.X)
							h := min(a.r.Y+a.s.Height, b.r.Y+b.s.Height) - max(a.r.Y, b.r.Y)
							if w > 2 && h > 2 {
								problems = append(problems, fmt.Sprintf("%q overlaps %q", a.what, b.what))
							}
						}
					}
				}
				sort.Strings(problems)
				if len(problems) > 0 {
					t.Errorf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
				}
			})
		}
	}
}

func walkVisible(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	if o == nil || !o.Visible() {
		return
	}
	f(o)
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			walkVisible(c, f)
		}
	case fyne.Widget:
		switch x.(type) {
		case *widget.Label, *widget.Button:
			return // their insides are theirs
		}
		for _, c := range test.WidgetRenderer(x).Objects() {
			walkVisible(c, f)
		}
	}
}

// TestIsAttract: the smoke tests' screen matcher accepts the attract screen
// and nothing else.
func TestIsAttract(t *testing.T) {
	r := renderer(t)
	rs := *r
	rs.Scale = 1
	isAttract := uitest.Attract(ui.NewTheme(font.Faces{}, false))
	for i, s := range sample() {
		if raceOn && i%3 != 0 && s.View.State != session.Attract {
			continue
		}
		img, err := rs.Render(s, "zh-CN")
		if err != nil {
			t.Fatal(err)
		}
		want := s.View.State == session.Attract && !s.Keypad
		if got := isAttract(img); got != want {
			t.Errorf("%s: IsAttract = %v, want %v", s.Name, got, want)
		}
	}
}
