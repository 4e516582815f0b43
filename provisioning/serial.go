package provisioning

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// SerialSources are the files a hardware serial number is read from, in
// order: SMBIOS (x86 boxes), the device tree (ARM boards), then the systemd
// machine ID as a last resort (it changes on reinstall).
var SerialSources = []string{
	"/sys/class/dmi/id/product_serial",
	"/sys/class/dmi/id/board_serial",
	"/sys/firmware/devicetree/base/serial-number",
	"/etc/machine-id",
}

var placeholderSerials = map[string]bool{
	"": true, "0": true, "none": true, "default string": true, "to be filled by o.e.m.": true,
	"system serial number": true, "not specified": true, "0123456789": true,
}

// ReadSerial returns the box's hardware serial number, prefixed with its
// source when it is only the machine ID ("machine-id:…").
func ReadSerial() (string, error) {
	for _, p := range SerialSources {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(bytes.TrimRight(b, "\x00")))
		if placeholderSerials[strings.ToLower(s)] {
			continue
		}
		if strings.HasSuffix(p, "machine-id") {
			s = "machine-id:" + s
		}
		return s, nil
	}
	return "", fmt.Errorf("provisioning: no hardware serial number readable (tried %s; run as root or pass --serial from the box's label)", strings.Join(SerialSources, ", "))
}
