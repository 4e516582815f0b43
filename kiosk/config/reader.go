package config

import "time"

// ReaderConfig is the ID-card reader (drivers/idcard). Owned by the reader driver.
type ReaderConfig struct {
	Port         string   `toml:"port"`          // serial device, e.g. "/dev/idcard" (udev name) or "/dev/ttyUSB0"
	Baud         int      `toml:"baud"`          // 115200, 57600, 38400, 19200 or 9600
	PollInterval Duration `toml:"poll_interval"` // find-card poll, ≥ 300ms
	PhotoDecoder string   `toml:"photo_decoder"` // vendor WLT decoder (shared library or executable); empty: none
}

func defaultReader() ReaderConfig {
	return ReaderConfig{Port: "/dev/idcard", Baud: 115200, PollInterval: D(300 * time.Millisecond)}
}

func (c *ReaderConfig) validate() error {
	switch c.Baud {
	case 115200, 57600, 38400, 19200, 9600:
	default:
		return bad("reader.baud", "%d is not a GA 467 rate; use 115200, 57600, 38400, 19200 or 9600", c.Baud)
	}
	if c.PollInterval.Duration < 300*time.Millisecond {
		return bad("reader.poll_interval", "%s is faster than the 300ms the reader allows", c.PollInterval.Duration)
	}
	if c.Port == "" {
		return bad("reader.port", "must name the reader's serial device, e.g. \"/dev/ttyUSB0\"")
	}
	return nil
}
