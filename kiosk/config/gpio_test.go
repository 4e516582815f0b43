package config

import (
	"strings"
	"testing"
)

func TestGPIOAndPrinterRefused(t *testing.T) {
	cases := map[string]string{
		"[gpio]\ntamper = \"GPIO17\"\n":            "gpio.tamper", // already led_green
		"[gpio]\nbuzzer = \"GPIO 18\"\n":           "gpio.buzzer",
		"[gpio]\nactive_low = [\"siren\"]\n":       "gpio.active_low",
		"[gpio]\ndebounce = \"0s\"\n":              "gpio.debounce",
		"[gpio]\npoll_interval = \"1ms\"\n":        "gpio.poll_interval",
		"[printer]\nqr = \"bitmap\"\n":             "printer.qr",
		"[printer]\ncharset = \"latin1\"\n":        "printer.charset",
		"[printer]\nport = \"/dev/x\"\nbaud = 7\n": "printer.baud",
	}
	for text, key := range cases {
		_, err := Parse(text)
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%q: err %v, want one naming %s", text, err, key)
		}
	}
	c, err := Parse("[gpio]\nled_amber = \"\"\nactive_low = [\"tamper\", \"led_red\"]\n[printer]\nport = \"/dev/ttyS1\"\nqr = \"raster\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.GPIO.Pin("led_amber") != "" || !c.GPIO.IsActiveLow("tamper") || c.GPIO.IsActiveLow("buzzer") || c.Printer.QR != "raster" {
		t.Fatalf("parsed %+v %+v", c.GPIO, c.Printer)
	}
}
