package config

import "time"

// UpdateConfig is the update agent (kiosk/update).
type UpdateConfig struct {
	Enabled      bool     `toml:"enabled"`
	RepoURL      string   `toml:"repo_url"` // TUF repository; empty: <authority.url>/tuf/
	Channel      string   `toml:"channel"`  // "stable" or "pilot"
	PollInterval Duration `toml:"poll_interval"`
	HealthWindow Duration `toml:"health_window"` // a new slot must pass its health check within this
	OfflineGrace Duration `toml:"offline_grace"` // visits go on without fresh metadata this long
}

func defaultUpdate() UpdateConfig {
	return UpdateConfig{Enabled: true, Channel: "stable", PollInterval: D(time.Hour),
		HealthWindow: D(5 * time.Minute), OfflineGrace: D(30 * 24 * time.Hour)}
}

func (c *UpdateConfig) validate() error {
	if err := oneOf("update.channel", c.Channel, "stable", "pilot"); err != nil {
		return err
	}
	if c.PollInterval.Duration < time.Minute {
		return bad("update.poll_interval", "%s is shorter than a minute", c.PollInterval.Duration)
	}
	if err := positive("update.health_window", c.HealthWindow); err != nil {
		return err
	}
	return positive("update.offline_grace", c.OfflineGrace)
}
