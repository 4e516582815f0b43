package idcard

import (
	"errors"
	"fmt"
	"os"

	"go.bug.st/serial"
)

// Errors opening a port that is there but cannot be used.
var (
	ErrBusy       = errors.New("idcard: the reader's port is in use by another program (is the kiosk service running?)")
	ErrPermission = errors.New("idcard: no permission to open the reader's port (add the user to the dialout group)")
)

// SerialPort is a real serial line opened with go.bug.st/serial, 8N1, no
// flow control (reference §1). It implements Port and BaudSetter.
type SerialPort struct {
	serial.Port
	path string
}

// OpenSerial opens the reader's tty at baud and discards anything already
// waiting in its input buffer. A path that does not exist (reader
// unplugged) gives an error matching ErrDisconnected and os.ErrNotExist.
func OpenSerial(path string, baud int) (*SerialPort, error) {
	if _, ok := rateCode(baud); !ok {
		return nil, fmt.Errorf("idcard: open %s: %d is not a GA 467 rate", path, baud)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("idcard: open %s: %w", path, gonePort(err))
	}
	p, err := serial.Open(path, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		var pe *serial.PortError
		if errors.As(err, &pe) {
			switch pe.Code() {
			case serial.PortBusy:
				return nil, fmt.Errorf("idcard: open %s: %w", path, ErrBusy)
			case serial.PermissionDenied:
				return nil, fmt.Errorf("idcard: open %s: %w", path, ErrPermission)
			}
		}
		return nil, fmt.Errorf("idcard: open %s: %w", path, gonePort(err))
	}
	if err := p.ResetInputBuffer(); err != nil {
		p.Close()
		return nil, fmt.Errorf("idcard: open %s: flush: %w", path, gonePort(err))
	}
	return &SerialPort{Port: p, path: path}, nil
}

// SetBaud changes the line rate.
func (s *SerialPort) SetBaud(baud int) error {
	return s.Port.SetMode(&serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
}

// Path is the device the port was opened from.
func (s *SerialPort) Path() string { return s.path }
