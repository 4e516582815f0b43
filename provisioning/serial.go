package provisioning

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"eidkiosk/internal/atomicfile"
	"eidkiosk/provisioning/devkey"
)

// SerialSources are the files a hardware serial number is read from, in
// order: SMBIOS (x86 boxes), then the device tree (ARM boards). Both come
// from the hardware, so boxes imaged from one disk still differ.
var SerialSources = []string{
	"/sys/class/dmi/id/product_serial",
	"/sys/class/dmi/id/board_serial",
	"/sys/firmware/devicetree/base/serial-number",
}

// MachineIDPath is the systemd machine ID: identical on every box imaged
// from one disk, so it is only ever mixed into a random serial, never used
// alone.
var MachineIDPath = "/etc/machine-id"

// SerialFile is where Provision records the serial it sent, in the state
// directory (for the technician and the self-test).
const SerialFile = "serial"

var placeholderSerials = map[string]bool{
	"": true, "0": true, "none": true, "default string": true, "to be filled by o.e.m.": true,
	"system serial number": true, "not specified": true, "0123456789": true,
}

// ErrNoHardwareSerial: neither SMBIOS nor the device tree has a usable serial.
var ErrNoHardwareSerial = errors.New("provisioning: no hardware serial number readable")

// ReadSerial returns the box's hardware serial number (SMBIOS or device
// tree), or ErrNoHardwareSerial.
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
		return s, nil
	}
	return "", fmt.Errorf("%w (tried %s)", ErrNoHardwareSerial, strings.Join(SerialSources, ", "))
}

// deviceSerial chooses the serial a provisioning sends: the hardware serial
// when the firmware has one; else "tpm-ek:" and the hash of the TPM's
// endorsement key; else "box:" and a random ID made now (the machine ID
// mixed in, never alone) and recorded in the state directory. The three
// differ between boxes cloned from one disk; only the first two survive a
// reinstall, so re-provisioning such a box needs city IT's --replace.
func deviceSerial(o ProvisionOptions) (serial, source string, err error) {
	if s, err := ReadSerial(); err == nil {
		return s, "hardware", nil
	}
	if t, err := o.openTPM(); err == nil {
		h, herr := devkey.EKHash(t)
		t.Close()
		if herr == nil {
			return "tpm-ek:" + h[:32], "TPM endorsement key", nil
		}
		o.Log.Warn("provisioning: the TPM's endorsement key is not readable; using a random serial", "err", herr)
	}
	mid, _ := os.ReadFile(MachineIDPath)
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return "", "", fmt.Errorf("provisioning: random serial: %w", err)
	}
	sum := sha256.Sum256(append(append([]byte("eidkiosk-serial:"), bytes.TrimSpace(mid)...), nonce...))
	return "box:" + hex.EncodeToString(sum[:16]), "random, made at this provisioning", nil
}

// recordSerial writes the serial sent to the authority into the state
// directory.
func recordSerial(stateDir, serial string) error {
	if err := atomicfile.Write(filepath.Join(stateDir, SerialFile), []byte(serial+"\n"), 0o644); err != nil {
		return fmt.Errorf("provisioning: record serial: %w", err)
	}
	return nil
}

// RecordedSerial returns the serial this terminal was provisioned with.
func RecordedSerial(stateDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, SerialFile))
	if err != nil {
		return "", fmt.Errorf("provisioning: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
