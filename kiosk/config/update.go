package config

import (
	"path/filepath"
	"strings"
	"time"
)

// UpdateConfig is the update agent (kiosk/update).
type UpdateConfig struct {
	Enabled      bool     `toml:"enabled"`       // the update agent polls the TUF repository and installs releases
	RepoURL      string   `toml:"repo_url"`      // TUF repository; empty: <authority.url>/tuf/
	Channel      string   `toml:"channel"`       // "stable" or "pilot"
	PollInterval Duration `toml:"poll_interval"` // how often the repository is asked for a new release: at least 1m, default 1h; `kioskctl update now` or `fleet poke` check at once
	HealthWindow Duration `toml:"health_window"` // a new slot must pass its health check within this
	OfflineGrace Duration `toml:"offline_grace"` // visits go on without fresh metadata this long
	MaxSize      int64    `toml:"max_size"`      // largest release accepted, bytes
}

func defaultUpdate() UpdateConfig {
	return UpdateConfig{Enabled: true, Channel: "stable", PollInterval: D(time.Hour),
		HealthWindow: D(5 * time.Minute), OfflineGrace: D(30 * 24 * time.Hour), MaxSize: 1 << 30}
}

func (c *UpdateConfig) validate() error {
	if err := oneOf("update.channel", c.Channel, "stable", "pilot"); err != nil {
		return err
	}
	if c.PollInterval.Duration < time.Minute {
		return bad("update.poll_interval", "%s is shorter than the minimum of 1m, e.g. \"1h\" (for a check at once: kioskctl update now)", c.PollInterval.Duration)
	}
	if err := positive("update.health_window", c.HealthWindow); err != nil {
		return err
	}
	if c.RepoURL != "" && !strings.HasPrefix(c.RepoURL, "https://") && !filepath.IsAbs(c.RepoURL) {
		return bad("update.repo_url", "%q must be an https:// URL or an absolute directory (a USB stick's copy)", c.RepoURL)
	}
	if c.MaxSize < 1<<20 {
		return bad("update.max_size", "%d is below 1 MiB", c.MaxSize)
	}
	return positive("update.offline_grace", c.OfflineGrace)
}
