package eidverify_test

import (
	"bytes"
	"image"
	"image/draw"
	"image/png"
	"math/rand/v2"
	"testing"

	goqr "github.com/skip2/go-qrcode"

	"eidkiosk/kiosk/eidverify"
)

// Presentation-sized payloads (410 characters of the Base45 alphabet, as
// the wallet's) rendered at 480 px, where a module is not a whole number of
// pixels: each decodes, as the PNG itself and pasted into a 640×480 grey
// frame. Before the pure-code fallback about 1 in 80 failed.
func TestDecodeRenderedCodes(t *testing.T) {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
	rnd := rand.New(rand.NewPCG(1, 2))
	n := 200
	if testing.Short() {
		n = 40
	}
	for i := 0; i < n; i++ {
		b := []byte("EID1:")
		for len(b) < 410 {
			b = append(b, alphabet[rnd.IntN(len(alphabet))])
		}
		q, err := goqr.New(string(b), goqr.Medium)
		if err != nil {
			t.Fatal(err)
		}
		p, err := q.PNG(480)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := eidverify.Decode(img); err != nil || got != string(b) {
			t.Errorf("code %d as rendered: %q, %v", i, got, err)
		}
		frame := image.NewGray(image.Rect(0, 0, 640, 480))
		for j := range frame.Pix {
			frame.Pix[j] = 128
		}
		draw.Draw(frame, image.Rect(80, 0, 560, 480), img, img.Bounds().Min, draw.Src)
		if got, err := eidverify.Decode(frame); err != nil || got != string(b) {
			t.Errorf("code %d in a 640×480 frame: %q, %v", i, got, err)
		}
	}
}
