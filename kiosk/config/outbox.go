package config

import "time"

// OutboxConfig is the durable queue of sealed enrollments (kiosk/outbox).
type OutboxConfig struct {
	MaxBytes      int64    `toml:"max_bytes"`       // refuse new visits above this size
	MaxItems      int      `toml:"max_items"`       // refuse new visits above this many queued
	MaxBacklogAge Duration `toml:"max_backlog_age"` // refuse new visits when nothing was acknowledged for this long
}

func defaultOutbox() OutboxConfig {
	return OutboxConfig{MaxBytes: 2 << 30, MaxItems: 20000, MaxBacklogAge: D(7 * 24 * time.Hour)}
}

func (c *OutboxConfig) validate() error {
	if c.MaxBytes < 1<<20 {
		return bad("outbox.max_bytes", "%d is below 1 MiB", c.MaxBytes)
	}
	if c.MaxItems < 1 {
		return bad("outbox.max_items", "must be at least 1")
	}
	return positive("outbox.max_backlog_age", c.MaxBacklogAge)
}

// UplinkConfig is the upload to the authority (kiosk/uplink).
type UplinkConfig struct {
	MinBackoff Duration `toml:"min_backoff"` // first wait before retrying a failed upload
	MaxBackoff Duration `toml:"max_backoff"` // the wait doubles up to this
	Timeout    Duration `toml:"timeout"`     // per request
}

func defaultUplink() UplinkConfig {
	return UplinkConfig{MinBackoff: D(time.Second), MaxBackoff: D(5 * time.Minute), Timeout: D(30 * time.Second)}
}

func (c *UplinkConfig) validate() error {
	if err := positive("uplink.min_backoff", c.MinBackoff); err != nil {
		return err
	}
	if c.MaxBackoff.Duration < c.MinBackoff.Duration {
		return bad("uplink.max_backoff", "must not be shorter than uplink.min_backoff")
	}
	return positive("uplink.timeout", c.Timeout)
}
