package printer

import (
	"bytes"
	"fmt"

	"github.com/skip2/go-qrcode"
)

// ESC/POS control bytes.
const (
	esc = 0x1b
	gs  = 0x1d
	fs  = 0x1c
	dle = 0x10
	eot = 0x04
	lf  = 0x0a
)

// Alignment for ESC a.
const (
	AlignLeft   = 0
	AlignCenter = 1
	AlignRight  = 2
)

// QR error-correction levels for GS ( k function 169.
const (
	ecL = 48
	ecM = 49
	ecQ = 50
	ecH = 51
)

// builder accumulates an ESC/POS byte stream.
type builder struct{ bytes.Buffer }

func (b *builder) init()            { b.Write([]byte{esc, '@'}) }
func (b *builder) align(a byte)     { b.Write([]byte{esc, 'a', a}) }
func (b *builder) bold(on bool)     { b.Write([]byte{esc, 'E', bool2(on)}) }
func (b *builder) size(w, h byte)   { b.Write([]byte{gs, '!', (w-1)<<4 | (h - 1)}) }
func (b *builder) feed(n byte)      { b.Write([]byte{esc, 'd', n}) }
func (b *builder) cut()             { b.Write([]byte{gs, 'V', 66, 0}) } // feed to the cutter, partial cut
func (b *builder) chinese(on bool)  { b.Write([]byte{fs, map[bool]byte{true: '&', false: '.'}[on]}) }
func (b *builder) line(text []byte) { b.Write(text); b.WriteByte(lf) }
func statusQuery(n byte) []byte     { return []byte{dle, eot, n} }
func bool2(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// qrNative writes the GS ( k sequence: model 2, module size, error
// correction M, store the data, print it.
func (b *builder) qrNative(data []byte, module byte) error {
	if len(data) == 0 || len(data) > 7089 {
		return fmt.Errorf("printer: QR payload of %d bytes does not fit a QR code", len(data))
	}
	b.Write([]byte{gs, '(', 'k', 4, 0, 49, 65, 50, 0})  // 165: model 2
	b.Write([]byte{gs, '(', 'k', 3, 0, 49, 67, module}) // 167: module size in dots
	b.Write([]byte{gs, '(', 'k', 3, 0, 49, 69, ecM})    // 169: error correction M
	n := len(data) + 3                                  // 180: store
	b.Write([]byte{gs, '(', 'k', byte(n), byte(n >> 8), 49, 80, 48})
	b.Write(data)
	b.Write([]byte{gs, '(', 'k', 3, 0, 49, 81, 48}) // 181: print
	return nil
}

// qrRaster draws the QR code with go-qrcode and writes it as a GS v 0
// raster image, scale dots per module.
func (b *builder) qrRaster(data string, scale int) error {
	q, err := qrcode.New(data, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("printer: QR code: %w", err)
	}
	bm := q.Bitmap() // includes the quiet zone
	w, h := len(bm[0])*scale, len(bm)*scale
	bw := (w + 7) / 8
	b.Write([]byte{gs, 'v', '0', 0, byte(bw), byte(bw >> 8), byte(h), byte(h >> 8)})
	row := make([]byte, bw)
	for y := 0; y < h; y++ {
		clear(row)
		for x := 0; x < w; x++ {
			if bm[y/scale][x/scale] {
				row[x/8] |= 0x80 >> (x % 8)
			}
		}
		b.Write(row)
	}
	return nil
}
