// Package printer prints the citizen's receipt on an optional ESC/POS
// thermal printer on a serial port (go.bug.st/serial): the station, the
// enrollment number (Receipt.Number) in large type, the time, whether it was
// already sent, and the QR code the phone scans to bind the eID, either with
// the printer's own QR command (GS ( k, functions 165-181) or as a raster
// image (GS v 0) drawn with github.com/skip2/go-qrcode.
//
// Before each receipt it asks the printer for its paper and cover state
// (DLE EOT 2 and 4) and refuses with ErrPaperOut, ErrCoverOpen or
// ErrNoAnswer, so the kiosk can say "no paper" instead of printing into the
// void. Decoder parses an ESC/POS stream back into a Document; the
// simulator in printer/sim uses it, and so do the tests.
//
// References: Epson "ESC/POS Command Reference for TM printers" (GS ( k
// <Function 165/167/169/180/181>, GS v 0, DLE EOT, FS &). It prints no
// personal data: a Receipt carries none, and the QR payload is the binding
// token. It knows neither the visit nor the kiosk's configuration
// (kiosk/peripherals turns those into a Receipt and Options). It does not
// drive USB printer-class devices (use a USB-serial printer or the kernel's
// usblp node with a serial adapter).
package printer
