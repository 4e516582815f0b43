package idcard

import (
	"errors"
	"fmt"
	"os"
	"syscall"

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
	lock *os.File // holds the advisory lock on the device
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
	// The exclusive open (TIOCEXCL) that go.bug.st/serial sets does not stop
	// root; an advisory lock on the device does, so a technician's
	// `kioskctl card read` cannot steal the kiosk's answers.
	lock, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOCTTY|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, syscall.EBUSY): // TIOCEXCL of another opener
		return nil, fmt.Errorf("idcard: open %s: %w", path, ErrBusy)
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("idcard: open %s: %w", path, ErrPermission)
	case err != nil:
		return nil, fmt.Errorf("idcard: open %s: %w", path, gonePort(err))
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("idcard: open %s: %w", path, ErrBusy)
		}
		return nil, fmt.Errorf("idcard: open %s: lock: %w", path, gonePort(err))
	}
	p, err := serial.Open(path, &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		lock.Close()
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
		lock.Close()
		return nil, fmt.Errorf("idcard: open %s: flush: %w", path, gonePort(err))
	}
	return &SerialPort{Port: p, path: path, lock: lock}, nil
}

// Close closes the port and releases its lock.
func (s *SerialPort) Close() error {
	err := s.Port.Close()
	s.lock.Close()
	return err
}

// SetBaud changes the line rate.
func (s *SerialPort) SetBaud(baud int) error {
	return s.Port.SetMode(&serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
}

// Path is the device the port was opened from.
func (s *SerialPort) Path() string { return s.path }
