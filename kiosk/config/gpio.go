package config

// GPIOConfig names the pins of the peripherals (drivers/gpio). An empty name
// means the peripheral is absent.
type GPIOConfig struct {
	LEDGreen string `toml:"led_green"`
	LEDAmber string `toml:"led_amber"`
	LEDRed   string `toml:"led_red"`
	Buzzer   string `toml:"buzzer"`
	Presence string `toml:"presence"`
	Tamper   string `toml:"tamper"`
	IRLight  string `toml:"ir_light"`
}

func defaultGPIO() GPIOConfig {
	return GPIOConfig{LEDGreen: "GPIO17", LEDAmber: "GPIO27", LEDRed: "GPIO22", Buzzer: "GPIO18",
		Presence: "GPIO23", Tamper: "GPIO24", IRLight: "GPIO25"}
}

func (c *GPIOConfig) validate() error { return nil }

// PrinterConfig is the optional ESC/POS receipt printer.
type PrinterConfig struct {
	Port string `toml:"port"` // serial device; empty: no printer
	Baud int    `toml:"baud"`
}

func defaultPrinter() PrinterConfig { return PrinterConfig{Baud: 9600} }

func (c *PrinterConfig) validate() error {
	if c.Port != "" && c.Baud <= 0 {
		return bad("printer.baud", "must be positive")
	}
	return nil
}
