package idcard

import (
	"image"
	"time"
)

// EventKind says what happened at a card reader.
type EventKind int

const (
	CardPlaced     EventKind = iota + 1 // a card appeared on the antenna
	CardRead                            // the card was read and decoded: Card (and Photo)
	CardReadFailed                      // the card could not be read: Err, Invalid
	CardRemoved                         // the card left the antenna
	ReaderFault                         // the reader stopped answering or vanished: Err
	ReaderBack                          // the reader answers (also at first contact)
)

func (k EventKind) String() string {
	switch k {
	case CardPlaced:
		return "card-placed"
	case CardRead:
		return "card-read"
	case CardReadFailed:
		return "card-read-failed"
	case CardRemoved:
		return "card-removed"
	case ReaderFault:
		return "reader-fault"
	case ReaderBack:
		return "reader-back"
	}
	return "unknown"
}

// Event is what a card reader reports, in the terms of the card: the
// driver (drivers/idcard) sends it, the visit (kiosk/session) consumes it.
// A Card prints redacted; Err never holds personal data.
type Event struct {
	Kind EventKind
	At   time.Time
	Card Card // CardRead; the receiver owns it and should Wipe it when done
	// Photo is the decoded card photo (CardRead, when the reader has a
	// photo decoder and it succeeded); nil otherwise: Card.Photo keeps the
	// raw WLT.
	Photo    image.Image
	PhotoErr error // CardRead: why the photo decoder failed
	Err      error // CardReadFailed, ReaderFault
	// Invalid (CardReadFailed): the data was read whole but fails
	// validation (errors.Is(Err, ErrInvalid)), e.g. a bad check digit.
	Invalid bool
}
