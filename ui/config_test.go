package ui

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"

	"eidkiosk/kiosk/config"
)

func TestUIConfigKeys(t *testing.T) {
	c, err := config.Parse("[ui]\nvoice_speed = 160\npreview_fps = 20\n")
	if err != nil || c.UI.VoiceSpeed != 160 || c.UI.PreviewFPS != 20 {
		t.Fatalf("%+v %v", c.UI, err)
	}
	for _, bad := range []string{"[ui]\nvoice_speed = 10\n", "[ui]\npreview_fps = 5\n", "[ui]\npreview_fps = 120\n"} {
		_, err := config.Parse(bad)
		var fe *config.FieldError
		if !errors.As(err, &fe) || !strings.HasPrefix(fe.Key, "ui.") {
			t.Errorf("%q: err = %v, want a FieldError naming the ui key", bad, err)
		}
	}
}

func TestThemeFromConfigMissingFont(t *testing.T) {
	c := config.Default().UI
	c.Font = filepath.Join(t.TempDir(), "none.otf")
	if _, err := ThemeFromConfig(c); err == nil || !strings.Contains(err.Error(), "ui.font") {
		t.Errorf("missing configured font: err = %v", err)
	}
	testFaces(t)
	c.Font = ""
	c.FontCache = t.TempDir()
	th, err := ThemeFromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if th.Font(fyne.TextStyle{Bold: true}).Name() != "ui-bold.otf" {
		t.Errorf("bold font %q", th.Font(fyne.TextStyle{Bold: true}).Name())
	}
}
