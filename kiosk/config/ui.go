package config

// UIConfig is the touch UI (ui/).
type UIConfig struct {
	Language     string `toml:"language"`      // "zh-CN" or "en": the language a visit starts in
	Voice        bool   `toml:"voice"`         // spoken prompts through espeak-ng
	Fullscreen   bool   `toml:"fullscreen"`    // false only for development
	HighContrast bool   `toml:"high_contrast"` // high-contrast theme
	Font         string `toml:"font"`          // a single-face TTF/OTF with Simplified Chinese; empty: find one at start
	// TechnicianPIN is refused: the PIN is set at provisioning and kept as a
	// hash in the state directory (provisioning/techpin), never here.
	TechnicianPIN string `toml:"technician_pin,omitempty"`
	VoiceSpeed    int    `toml:"voice_speed"` // spoken prompts, words per minute (espeak-ng -s)
	PreviewFPS    int    `toml:"preview_fps"` // camera preview refresh on screen
	FontCache     string `toml:"font_cache"`  // where the face extracted from fonts-noto-cjk is kept; empty: the user cache directory
}

func defaultUI() UIConfig {
	return UIConfig{Language: "zh-CN", Voice: true, Fullscreen: true,
		VoiceSpeed: 140, PreviewFPS: 30}
}

func (c *UIConfig) validate() error {
	if err := oneOf("ui.language", c.Language, "zh-CN", "en"); err != nil {
		return err
	}
	if c.TechnicianPIN != "" {
		return bad("ui.technician_pin", "the technician PIN is no longer kept in the configuration: delete this line and set the PIN with `kioskctl provision pin`")
	}
	if c.VoiceSpeed < 80 || c.VoiceSpeed > 300 {
		return bad("ui.voice_speed", "%d must be between 80 and 300 words per minute", c.VoiceSpeed)
	}
	if c.PreviewFPS < 15 || c.PreviewFPS > 60 {
		return bad("ui.preview_fps", "%d must be between 15 and 60", c.PreviewFPS)
	}
	return nil
}
