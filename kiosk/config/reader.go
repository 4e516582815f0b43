package config

import (
	"path/filepath"
	"time"
)

// ReaderConfig is the ID-card reader (drivers/idcard). Owned by the reader driver.
type ReaderConfig struct {
	Port         string   `toml:"port"`          // serial device, e.g. "/dev/idcard" (udev name) or "/dev/ttyUSB0"
	Baud         int      `toml:"baud"`          // 115200, 57600, 38400, 19200 or 9600
	PollInterval Duration `toml:"poll_interval"` // find-card poll, ≥ 300ms
	// PhotoDecoder is the vendor WLT decoder: an executable that reads the
	// 1,024 WLT bytes on stdin and writes a BMP or PNG on stdout (a vendor
	// shared library is wrapped in such a program, which also keeps a vendor
	// crash out of the kiosk process); empty: none, the raw WLT is kept.
	PhotoDecoder string `toml:"photo_decoder"`
	// ProbeBaud tries the other GA 467 rates when the reader does not
	// answer at Baud (a reader left at another rate).
	ProbeBaud bool `toml:"probe_baud"`
	// Fingerprint reads the fingerprint templates too (command 30 10); they
	// are kept raw and sealed, never matched on the kiosk.
	Fingerprint bool `toml:"fingerprint"`
	// PhotoDecoderTimeout bounds one run of the photo decoder.
	PhotoDecoderTimeout Duration `toml:"photo_decoder_timeout"`
}

func defaultReader() ReaderConfig {
	return ReaderConfig{Port: "/dev/idcard", Baud: 115200, PollInterval: D(300 * time.Millisecond),
		ProbeBaud: true, PhotoDecoderTimeout: D(5 * time.Second)}
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
	if c.PollInterval.Duration > 5*time.Second {
		return bad("reader.poll_interval", "%s would leave a citizen waiting; use at most 5s", c.PollInterval.Duration)
	}
	if c.Port == "" {
		return bad("reader.port", "must name the reader's serial device, e.g. \"/dev/ttyUSB0\"")
	}
	if c.PhotoDecoder != "" && !filepath.IsAbs(c.PhotoDecoder) {
		return bad("reader.photo_decoder", "%q must be an absolute path to the decoder executable", c.PhotoDecoder)
	}
	if err := positive("reader.photo_decoder_timeout", c.PhotoDecoderTimeout); err != nil {
		return err
	}
	return nil
}
