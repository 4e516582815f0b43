// Package idcard drives the security module (SAM) of a Chinese
// second-generation ID-card reader over a serial line, following the GA 467
// frame protocol (frames start AA AA AA 96 69; see
// ../shared/reference/idcard-reader-protocol.md, which cites the public
// protocol texts, SDK re-implementations and captures it is built from).
//
// Layers, each usable alone:
//
//   - Frames: EncodeFrame and a streaming Decoder (preamble search,
//     big-endian LEN, XOR check, resynchronisation after garbage, split and
//     short reads; *FrameError for a bad checksum or length). FuzzDecoder
//     proves it never panics and never returns a corrupt frame.
//   - Commands: Reader runs one exchange at a time over a Port (an
//     io.ReadWriteCloser such as OpenSerial's go.bug.st/serial port or a
//     pty): reset SAM, status, SAM ID, find, select, read base message (with
//     fingerprint), newest address, set baud rate, set max RF bytes, rate
//     probing. Every SW3 code maps to a *StatusError with its meaning,
//     matching ErrNoCard, ErrCardRead or ErrSAM.
//   - Cards: ReadBase hands the text block to the card model (eidkiosk/idcard:
//     Card, DecodeText, the check character, *InvalidError) and keeps the
//     raw text, WLT photo and fingerprint bytes untouched.
//   - Polling: Poller reports the model's events (idcard.CardPlaced,
//     CardRead, CardReadFailed, CardRemoved, ReaderFault, ReaderBack) with
//     the exchange's Timing, SAM ID and rate, reading each placed
//     card once, retrying a missed find, resetting the SAM after card errors,
//     confirming removals, and re-opening a vanished tty with backoff.
//   - Photo: PhotoDecoder and ExecDecoder, which runs a licensed vendor
//     decoder as a sidecar program (WLT on stdin, BMP/PNG on stdout).
//
// The simulator (drivers/idcard/sim) answers the same protocol on a pty; the
// tests drive this real driver against it. Record and ParseTranscript
// (Playback) capture and replay an exchange, so that recordings of real
// readers (vendor test cards only) can join testdata/recordings/.
//
// It does not decode the WLT photo itself (only licensed vendor libraries
// can), does not match fingerprints, does not speak the native-USB SAM
// (vendor bulk pipes) or combo readers' MCU framings, and does not decide
// what a card means for a visit (expiry, duplicates): that is kiosk/session.
// Personal fields are pii.Text; no error, log line or panic carries them.
package idcard
