package printer

import (
	"errors"
	"fmt"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Document is an ESC/POS stream parsed back: what a printer would put on
// paper.
type Document struct {
	Items    []Item
	Status   []byte // DLE EOT requests, in order (n of each)
	Inits    int    // ESC @ seen
	Cuts     int
	Feeds    int // lines fed by ESC d
	QRConfig QRConfig
}

// Item is one printed thing: a line of text, a QR code or an image.
type Item struct {
	Text  string // a line (decoded from GB18030 in Chinese mode)
	Align byte
	Bold  bool
	Width byte // character size multipliers, 1..8
	High  byte

	QR    []byte   // printed QR payload (GS ( k 181), nil otherwise
	Image [][]bool // printed raster image (GS v 0), rows of dots, nil otherwise
}

// QRConfig is the QR state set by GS ( k functions 165, 167 and 169.
type QRConfig struct{ Model, Module, EC byte }

// ErrShort is returned by Decoder.Close when the stream ends inside a
// command.
var ErrShort = errors.New("printer: stream ends inside a command")

// Decoder parses an ESC/POS stream incrementally; Write accepts any split.
// It knows the commands this package sends and refuses others.
type Decoder struct {
	// OnStatus, when set, is called for each DLE EOT n as it arrives (a
	// simulator answers it).
	OnStatus func(n byte)

	doc     Document
	pending []byte
	line    []byte
	align   byte
	bold    bool
	w, h    byte
	chinese bool
	stored  []byte
	err     error
}

// NewDecoder returns a Decoder in the printer's power-on state.
func NewDecoder() *Decoder { return &Decoder{w: 1, h: 1} }

// Write feeds bytes; it fails at the first unknown command.
func (d *Decoder) Write(b []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	d.pending = append(d.pending, b...)
	for len(d.pending) > 0 {
		n, err := d.step(d.pending)
		if err != nil {
			d.err = err
			return len(b), err
		}
		if n == 0 { // need more bytes
			break
		}
		d.pending = d.pending[n:]
	}
	return len(b), nil
}

// Close reports a truncated command, and flushes a line without LF.
func (d *Decoder) Close() error {
	if d.err != nil {
		return d.err
	}
	if len(d.pending) > 0 {
		return fmt.Errorf("%w (%d bytes: % x)", ErrShort, len(d.pending), d.pending[:min(8, len(d.pending))])
	}
	if len(d.line) > 0 {
		d.flush()
	}
	return nil
}

// Document returns what was printed so far.
func (d *Decoder) Document() Document { return d.doc }

func (d *Decoder) flush() {
	text := string(d.line)
	if d.chinese || !isASCII(text) {
		if s, err := simplifiedchinese.GB18030.NewDecoder().String(text); err == nil {
			text = s
		}
	}
	d.doc.Items = append(d.doc.Items, Item{Text: text, Align: d.align, Bold: d.bold, Width: d.w, High: d.h})
	d.line = d.line[:0]
}

// step parses one command or byte at the start of b; 0 means incomplete.
func (d *Decoder) step(b []byte) (int, error) {
	need := func(n int) bool { return len(b) >= n }
	switch b[0] {
	case lf:
		d.flush()
		return 1, nil
	case dle:
		if !need(3) {
			return 0, nil
		}
		if b[1] != eot || b[2] < 1 || b[2] > 4 {
			return 0, fmt.Errorf("printer: unknown DLE command % x", b[:3])
		}
		d.doc.Status = append(d.doc.Status, b[2])
		if d.OnStatus != nil {
			d.OnStatus(b[2])
		}
		return 3, nil
	case esc:
		if !need(2) {
			return 0, nil
		}
		switch b[1] {
		case '@':
			d.line, d.align, d.bold, d.w, d.h, d.chinese, d.stored = d.line[:0], 0, false, 1, 1, false, nil
			d.doc.Inits++
			return 2, nil
		case 'a', 'E', 'd':
			if !need(3) {
				return 0, nil
			}
			switch b[1] {
			case 'a':
				if b[2] > 2 && (b[2] < '0' || b[2] > '2') {
					return 0, fmt.Errorf("printer: ESC a %d: bad alignment", b[2])
				}
				d.align = b[2] & 0x03
			case 'E':
				d.bold = b[2]&1 == 1
			case 'd':
				d.doc.Feeds += int(b[2])
			}
			return 3, nil
		}
		return 0, fmt.Errorf("printer: unknown command ESC %q (% x)", b[1], b[:2])
	case fs:
		if !need(2) {
			return 0, nil
		}
		switch b[1] {
		case '&':
			d.chinese = true
		case '.':
			d.chinese = false
		default:
			return 0, fmt.Errorf("printer: unknown command FS %q", b[1])
		}
		return 2, nil
	case gs:
		if !need(2) {
			return 0, nil
		}
		switch b[1] {
		case '!':
			if !need(3) {
				return 0, nil
			}
			d.w, d.h = b[2]>>4+1, b[2]&0x0f+1
			return 3, nil
		case 'V':
			if !need(3) {
				return 0, nil
			}
			n := 3
			if b[2] == 65 || b[2] == 66 {
				n = 4
			}
			if !need(n) {
				return 0, nil
			}
			if len(d.line) > 0 {
				d.flush()
			}
			d.doc.Cuts++
			return n, nil
		case '(':
			return d.qr(b)
		case 'v':
			return d.raster(b)
		}
		return 0, fmt.Errorf("printer: unknown command GS %q", b[1])
	}
	d.line = append(d.line, b[0])
	return 1, nil
}

// qr parses GS ( k pL pH cn fn [params].
func (d *Decoder) qr(b []byte) (int, error) {
	if len(b) < 7 {
		return 0, nil
	}
	if b[2] != 'k' {
		return 0, fmt.Errorf("printer: unknown command GS ( %q", b[2])
	}
	n := int(b[3]) | int(b[4])<<8
	if len(b) < 5+n {
		return 0, nil
	}
	if n < 2 || b[5] != 49 {
		return 0, fmt.Errorf("printer: GS ( k for symbol %d not supported (only QR, cn=49)", b[5])
	}
	p := b[7 : 5+n]
	switch b[6] {
	case 65: // 165 model
		if len(p) != 2 {
			return 0, errors.New("printer: GS ( k 165: bad length")
		}
		d.doc.QRConfig.Model = p[0] - 48
	case 67: // 167 module size
		if len(p) != 1 || p[0] < 1 || p[0] > 16 {
			return 0, errors.New("printer: GS ( k 167: module size must be 1-16")
		}
		d.doc.QRConfig.Module = p[0]
	case 69: // 169 error correction
		if len(p) != 1 || p[0] < 48 || p[0] > 51 {
			return 0, errors.New("printer: GS ( k 169: bad error-correction level")
		}
		d.doc.QRConfig.EC = p[0]
	case 80: // 180 store
		if len(p) < 1 || p[0] != 48 {
			return 0, errors.New("printer: GS ( k 180: m must be 48")
		}
		d.stored = append([]byte(nil), p[1:]...)
	case 81: // 181 print
		if d.stored == nil {
			return 0, errors.New("printer: GS ( k 181 with no stored QR data")
		}
		if len(d.line) > 0 {
			d.flush()
		}
		d.doc.Items = append(d.doc.Items, Item{QR: d.stored, Align: d.align})
	default:
		return 0, fmt.Errorf("printer: GS ( k function %d not supported", b[6])
	}
	return 5 + n, nil
}

// raster parses GS v 0 m xL xH yL yH d1...dk.
func (d *Decoder) raster(b []byte) (int, error) {
	if len(b) < 8 {
		return 0, nil
	}
	if b[2] != '0' || b[3] > 3 && (b[3] < 48 || b[3] > 51) {
		return 0, fmt.Errorf("printer: GS v: unsupported form % x", b[2:4])
	}
	bw, h := int(b[4])|int(b[5])<<8, int(b[6])|int(b[7])<<8
	if bw == 0 || h == 0 {
		return 0, errors.New("printer: GS v 0: empty image")
	}
	if len(b) < 8+bw*h {
		return 0, nil
	}
	img := make([][]bool, h)
	for y := range img {
		img[y] = make([]bool, bw*8)
		for x := range img[y] {
			img[y][x] = b[8+y*bw+x/8]&(0x80>>(x%8)) != 0
		}
	}
	if len(d.line) > 0 {
		d.flush()
	}
	d.doc.Items = append(d.doc.Items, Item{Image: img, Align: d.align})
	return 8 + bw*h, nil
}
