package config

import (
	"regexp"
	"time"
)

// GPIOConfig names the pins of the peripherals (drivers/gpio). An empty name
// means the peripheral is absent. Pin names are those of periph.io's gpioreg
// ("GPIO17", or a number "17"); docs/operations.md has the pinout.
type GPIOConfig struct {
	LEDGreen string `toml:"led_green"` // idle: ready for a visit
	LEDAmber string `toml:"led_amber"` // busy / attention
	LEDRed   string `toml:"led_red"`   // fault, tamper, device fault codes
	Buzzer   string `toml:"buzzer"`    // active buzzer (on/off)
	// Presence is the input of a sensor that sees someone in front of the
	// kiosk; off ("") unless configured (wired on GPIO23 in the pinout).
	Presence string `toml:"presence"`
	// Tamper is the input of the enclosure switch (pulled up: open or a
	// cut wire reads "open" and locks the terminal); off ("") unless
	// configured, so a board without a switch fitted does not lock at
	// every start (wired on GPIO24 in the pinout).
	Tamper  string `toml:"tamper"`
	IRLight string `toml:"ir_light"` // infrared illuminator, on during face capture
	// ActiveLow lists the peripherals whose active level is low, by key
	// ("led_green", "buzzer", "presence", "tamper", ...). Default: all
	// active high (tamper: high = open).
	ActiveLow []string `toml:"active_low"`
	// Debounce is how long an input must stay at a level to count.
	Debounce Duration `toml:"debounce"`
	// PollInterval is how often inputs are sampled when the board has no
	// edge interrupts (and as a safety net when it does).
	PollInterval Duration `toml:"poll_interval"`
}

// GPIOKeys are the peripheral keys of GPIOConfig, outputs then inputs.
var GPIOKeys = []string{"led_green", "led_amber", "led_red", "buzzer", "ir_light", "presence", "tamper"}

// Pin returns the configured pin name for a key of GPIOKeys.
func (c *GPIOConfig) Pin(key string) string {
	switch key {
	case "led_green":
		return c.LEDGreen
	case "led_amber":
		return c.LEDAmber
	case "led_red":
		return c.LEDRed
	case "buzzer":
		return c.Buzzer
	case "ir_light":
		return c.IRLight
	case "presence":
		return c.Presence
	case "tamper":
		return c.Tamper
	}
	return ""
}

// IsActiveLow reports whether key is listed in ActiveLow.
func (c *GPIOConfig) IsActiveLow(key string) bool {
	for _, k := range c.ActiveLow {
		if k == key {
			return true
		}
	}
	return false
}

func defaultGPIO() GPIOConfig {
	return GPIOConfig{LEDGreen: "GPIO17", LEDAmber: "GPIO27", LEDRed: "GPIO22", Buzzer: "GPIO18",
		IRLight: "GPIO25", ActiveLow: []string{},
		Debounce: D(50 * time.Millisecond), PollInterval: D(100 * time.Millisecond)}
}

var pinNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)

func (c *GPIOConfig) validate() error {
	seen := map[string]string{}
	for _, k := range GPIOKeys {
		name := c.Pin(k)
		if name == "" {
			continue
		}
		if !pinNameRE.MatchString(name) {
			return bad("gpio."+k, "%q is not a pin name; use e.g. \"GPIO17\", or \"\" when the peripheral is absent", name)
		}
		if other, ok := seen[name]; ok {
			return bad("gpio."+k, "pin %q is already used by gpio.%s", name, other)
		}
		seen[name] = k
	}
	for _, k := range c.ActiveLow {
		if oneOf("gpio.active_low", k, GPIOKeys...) != nil {
			return bad("gpio.active_low", "%q is not a peripheral; use some of led_green, led_amber, led_red, buzzer, ir_light, presence, tamper", k)
		}
	}
	if c.Debounce.Duration < time.Millisecond || c.Debounce.Duration > 2*time.Second {
		return bad("gpio.debounce", "%s must be between 1ms and 2s, e.g. \"50ms\"", c.Debounce.Duration)
	}
	if c.PollInterval.Duration < 10*time.Millisecond || c.PollInterval.Duration > 5*time.Second {
		return bad("gpio.poll_interval", "%s must be between 10ms and 5s, e.g. \"100ms\"", c.PollInterval.Duration)
	}
	return nil
}

// PrinterConfig is the optional ESC/POS receipt printer (drivers/printer).
type PrinterConfig struct {
	Port string `toml:"port"` // serial device, e.g. "/dev/receipt-printer"; empty: no printer
	Baud int    `toml:"baud"` // the printer's serial speed (115200 for raster QR codes)
	// QR is how the QR code is printed: "native" (the printer's own QR
	// command, GS ( k) or "raster" (an image, for printers without it).
	QR string `toml:"qr"`
	// Charset is how the station name is sent: "gb18030" (Chinese mode,
	// FS &) or "ascii" (non-ASCII characters become '?').
	Charset string `toml:"charset"`
	// StatusCheck asks the printer for paper before each receipt (DLE EOT);
	// turn off for printers that never answer.
	StatusCheck bool `toml:"status_check"`
}

func defaultPrinter() PrinterConfig {
	return PrinterConfig{Baud: 9600, QR: "native", Charset: "gb18030", StatusCheck: true}
}

func (c *PrinterConfig) validate() error {
	if c.Port != "" && c.Baud <= 0 {
		return bad("printer.baud", "must be positive")
	}
	switch c.Baud {
	case 9600, 19200, 38400, 57600, 115200:
	default:
		return bad("printer.baud", "%d is not a printer rate; use 9600, 19200, 38400, 57600 or 115200", c.Baud)
	}
	if err := oneOf("printer.qr", c.QR, "native", "raster"); err != nil {
		return err
	}
	return oneOf("printer.charset", c.Charset, "gb18030", "ascii")
}
