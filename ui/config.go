package ui

import (
	"fmt"

	"eidkiosk/kiosk/config"
	"eidkiosk/ui/font"
)

// ThemeFromConfig finds the UI font (ui.font, or the SC face extracted from
// fonts-noto-cjk into ui.font_cache) and returns the theme. A missing font
// is an error naming the package to install.
func ThemeFromConfig(c config.UIConfig) (*Theme, error) {
	f, err := font.Prepare(font.Options{Configured: c.Font, CacheDir: c.FontCache})
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	return NewTheme(f, c.HighContrast), nil
}
