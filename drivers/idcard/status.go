package idcard

import (
	"errors"
	"fmt"
)

// Command is a GA 467 request's CMD and PARA bytes (reference §3).
type Command uint16

// The commands this package sends.
const (
	CmdResetSAM     Command = 0x10FF // reset the SAM (≈ power cycle, drops the RF field)
	CmdSAMStatus    Command = 0x11FF // self-test; 90 ok, 60 failed
	CmdSAMID        Command = 0x12FF // 16-byte SAM ID
	CmdFindCard     Command = 0x2001 // 9F + 4 bytes: card found; 80: none
	CmdSelectCard   Command = 0x2002 // 90 + 8 bytes
	CmdReadBase     Command = 0x3001 // text 256 + photo 1024
	CmdReadNewAddr  Command = 0x3003 // N × 70-byte appended addresses
	CmdReadBaseFP   Command = 0x3010 // text + photo + 0/512/1024 fingerprint
	CmdSetBaud      Command = 0x6000 // low byte: rate code 00..04
	CmdSetMaxRFByte Command = 0x61FF // + 1 byte, 24..255
)

func (c Command) String() string {
	switch c {
	case CmdResetSAM:
		return "reset SAM"
	case CmdSAMStatus:
		return "SAM status"
	case CmdSAMID:
		return "read SAM ID"
	case CmdFindCard:
		return "find card"
	case CmdSelectCard:
		return "select card"
	case CmdReadBase:
		return "read base message"
	case CmdReadNewAddr:
		return "read newest address"
	case CmdReadBaseFP:
		return "read base message with fingerprint"
	case CmdSetMaxRFByte:
		return "set max RF frame bytes"
	}
	if c&0xFF00 == CmdSetBaud {
		return "set baud rate"
	}
	return fmt.Sprintf("command %04X", uint16(c))
}

// Status is the SAM result byte SW3 (reference §4). SW1 SW2 relay the card's
// APDU status and are not interpreted.
type Status byte

// Status codes (reference §4).
const (
	StatusOK           Status = 0x90
	StatusNoContent    Status = 0x91
	StatusFound        Status = 0x9F
	StatusChecksum     Status = 0x10
	StatusLength       Status = 0x11
	StatusCommand      Status = 0x21
	StatusNotPermitted Status = 0x23
	StatusUnrecognised Status = 0x24
	StatusCardAuth     Status = 0x31
	StatusSAMAuth      Status = 0x32
	StatusVerify       Status = 0x33
	StatusCardType     Status = 0x40
	StatusReadFailed   Status = 0x41
	StatusRandom       Status = 0x47
	StatusSelfTest     Status = 0x60
	StatusUnauthorised Status = 0x66
	StatusNoCard       Status = 0x80
	StatusSelectFailed Status = 0x81
)

var statusText = map[Status]string{
	StatusOK:           "success",
	StatusNoContent:    "the requested item has no content on the card",
	StatusFound:        "card found",
	StatusChecksum:     "the SAM saw a checksum error in the host frame",
	StatusLength:       "the SAM saw a length error in the host frame",
	StatusCommand:      "command error (bad value or illegal combination)",
	StatusNotPermitted: "operation not permitted",
	StatusUnrecognised: "unrecognised error",
	StatusCardAuth:     "the card failed to authenticate the SAM",
	StatusSAMAuth:      "the SAM failed to authenticate the card",
	StatusVerify:       "information verification error",
	StatusCardType:     "unrecognised or wrong card type",
	StatusReadFailed:   "reading the card failed",
	StatusRandom:       "getting a random number from the card failed",
	StatusSelfTest:     "SAM self-test failed; it accepts no commands",
	StatusUnauthorised: "SAM not authorised",
	StatusNoCard:       "no card found",
	StatusSelectFailed: "selecting the card failed",
}

func (s Status) String() string {
	if t, ok := statusText[s]; ok {
		return fmt.Sprintf("%02X %s", byte(s), t)
	}
	return fmt.Sprintf("%02X unknown status", byte(s))
}

// Sentinel errors callers act on. A *StatusError matches the first three
// with errors.Is according to its code.
var (
	// ErrNoCard: find or select reported no card (SW3 80 or 81).
	ErrNoCard = errors.New("idcard: no card on the reader")
	// ErrCardRead: the card was there but reading it failed (SW3 31..47);
	// remove and place it again, or reset the SAM.
	ErrCardRead = errors.New("idcard: reading the card failed")
	// ErrSAM: the security module itself failed or refused (SW3 60, 66, 10,
	// 11, 21, 23, 24, unknown codes).
	ErrSAM = errors.New("idcard: security module error")
	// ErrTimeout: the reader did not answer in time.
	ErrTimeout = errors.New("idcard: the reader did not answer in time")
	// ErrDisconnected: the serial port failed or went away (USB unplug).
	ErrDisconnected = errors.New("idcard: the reader's serial port is gone")
)

// StatusError is a response whose SW3 is not the success code for the
// command. It carries the codes; its message is the human meaning.
type StatusError struct {
	Cmd           Command
	SW1, SW2, SW3 byte
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("idcard: %s: SW3 %s", e.Cmd, Status(e.SW3))
}

// Is matches ErrNoCard, ErrCardRead or ErrSAM by the code.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrNoCard:
		return e.SW3 == byte(StatusNoCard) || e.SW3 == byte(StatusSelectFailed)
	case ErrCardRead:
		switch Status(e.SW3) {
		case StatusCardAuth, StatusSAMAuth, StatusVerify, StatusCardType, StatusReadFailed, StatusRandom:
			return true
		}
	case ErrSAM:
		return !e.Is(ErrNoCard) && !e.Is(ErrCardRead) && e.SW3 != byte(StatusNoContent)
	}
	return false
}

// Meaning returns the human meaning of the status code.
func (e *StatusError) Meaning() string {
	if t, ok := statusText[Status(e.SW3)]; ok {
		return t
	}
	return "unknown status"
}
