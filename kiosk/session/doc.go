// Package session is the state machine of one citizen's visit at the kiosk:
// attract → card placed → card read → data shown ("this is me") → consent →
// face capture with liveness → review → sealing → receipt → wipe → attract,
// with a failed screen, an unavailable state (outbox full or stale, terminal
// disabled, tampered, updating) and technician mode.
//
// Events come in (taps from the UI, reader and sensor events from the
// drivers, results of the face capture and of sealing); Views go out, and
// the UI only renders them. Every waiting state times out (kiosk/config
// timeouts), every state but sealing can be cancelled, and ending a visit
// wipes every personal byte the engine holds: card text, photo and
// fingerprint, portrait and evidence frames are zeroed, not just dropped.
// Personal data never reaches a View in clear: the card is shown masked.
//
// When the card photo was decoded and a CardMatcher is set, each capture is
// compared 1:1 with it (match.go): no_match gets one more capture and then
// ends the visit with FaultFaceMismatch ("please see an officer"); refer
// and match go on, the decision sealed for the authority. The citizen is
// never shown a score.
//
// The engine talks to hardware and the uplink through the small interfaces
// in types.go (FaceCapturer, Submitter, Gate, Signals, ReceiptPrinter),
// implemented in kiosk/face, enroll with kiosk/outbox, and kiosk/peripherals
// (over drivers/gpio and drivers/printer), and wired in kiosk/app. It does not touch hardware, the network or the disk itself, and
// it imports no cgo package (a test keeps it so), so it builds and tests in
// seconds.
package session
