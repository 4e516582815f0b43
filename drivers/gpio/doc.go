// Package gpio drives the kiosk's simple peripherals on GPIO pins through
// periph.io (https://periph.io, host.Init and gpioreg): three status LEDs
// (green, amber, red), a buzzer, an infrared illuminator, and two inputs, a
// presence sensor and an enclosure tamper switch.
//
// Peripherals shows one of four LED modes (idle, busy, attention, fault),
// red blink codes for faulty devices, plays short buzzer patterns (card
// read, success, error, tamper alarm) and switches the IR light. Watch
// debounces the inputs (edge interrupts where the board has them, polling
// otherwise) and reports them as Readings; a tamper hook lets the caller
// tell the authority.
// The LED and beep meanings are documented in docs/operations.md.
//
// Every peripheral is optional: an empty pin name leaves it out, and a board
// without GPIO runs with all of them off, logged once by Open. A pin name the
// board does not have is an error (*PinError) naming the peripheral.
//
// It speaks only of pins, patterns, modes and readings: it does not know the
// visit's states or the kiosk's configuration (kiosk/peripherals maps those
// onto it), does not decide what a tamper means for the visit (the session
// engine wipes and locks), does not talk to the authority itself, and does
// not drive PWM tones: the buzzer is expected to be an active buzzer (on/off).
package gpio
