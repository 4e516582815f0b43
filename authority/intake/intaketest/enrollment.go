package intaketest

import (
	"eidkiosk/internal/repotest"

	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unicode/utf16"

	"eidkiosk/enroll"
	"eidkiosk/idcard"
	"eidkiosk/internal/pii"
	"eidkiosk/kiosk/session"
	"eidkiosk/kiosk/submit"
)

// The fictional citizen of the protocol reference (§10).
const (
	CitizenName    = "张三"
	CitizenNumber  = "990101199003071237"
	CitizenAddress = "北京市东城区示例路1号"
)

// SharedDir finds the shared material: the directory holding go.mod, walking
// up from the working directory, then ../shared.
func SharedDir() (string, error) {
	root, err := repotest.FindRoot()
	if err != nil {
		return "", fmt.Errorf("intaketest: %w", err)
	}
	return filepath.Join(root, "..", "shared"), nil
}

var (
	faceOnce sync.Once
	portrait []byte
	evidence [][]byte
	faceErr  error
)

// Portrait returns a typical live portrait: a 3:4 crop of a real face
// (testdata/faces/frontal-kphotoalbum-jesper.jpg), 480×640, JPEG, about
// 40-60 KB; and three down-scaled evidence frames.
func Portrait() ([]byte, [][]byte, error) {
	faceOnce.Do(func() {
		shared, err := SharedDir()
		if err != nil {
			faceErr = err
			return
		}
		f, err := os.Open(filepath.Join(shared, "testdata", "faces", "frontal-kphotoalbum-jesper.jpg"))
		if err != nil {
			faceErr = err
			return
		}
		defer f.Close()
		img, err := jpeg.Decode(f)
		if err != nil {
			faceErr = err
			return
		}
		// Face box 219,89,317,317: a 3:4 crop around it.
		crop := image.Rect(180, 6, 180+396, 6+526).Intersect(img.Bounds())
		big := scale(img, crop, 480, 640)
		portrait = encodeNear(big, 52<<10)
		for i, w := range []int{160, 150, 140} {
			small := scale(img, crop.Inset(i*4), w, w*4/3)
			var b bytes.Buffer
			jpeg.Encode(&b, small, &jpeg.Options{Quality: 70})
			evidence = append(evidence, b.Bytes())
		}
	})
	return portrait, evidence, faceErr
}

// encodeNear encodes img at the highest JPEG quality (at most 85) whose
// size stays at or below target.
func encodeNear(img image.Image, target int) []byte {
	var best []byte
	for q := 85; q >= 30; q -= 5 {
		var b bytes.Buffer
		jpeg.Encode(&b, img, &jpeg.Options{Quality: q})
		best = b.Bytes()
		if b.Len() <= target {
			break
		}
	}
	return best
}

// scale resizes the crop r of src to w×h by bilinear interpolation.
func scale(src image.Image, r image.Rectangle, w, h int) *image.RGBA {
	rgba := image.NewRGBA(src.Bounds())
	draw.Draw(rgba, rgba.Bounds(), src, src.Bounds().Min, draw.Src)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	fx := float64(r.Dx()-1) / float64(w)
	fy := float64(r.Dy()-1) / float64(h)
	for y := 0; y < h; y++ {
		sy := float64(r.Min.Y) + float64(y)*fy
		y0 := int(sy)
		ty := sy - float64(y0)
		for x := 0; x < w; x++ {
			sx := float64(r.Min.X) + float64(x)*fx
			x0 := int(sx)
			tx := sx - float64(x0)
			i00, i10 := rgba.PixOffset(x0, y0), rgba.PixOffset(x0+1, y0)
			i01, i11 := rgba.PixOffset(x0, y0+1), rgba.PixOffset(x0+1, y0+1)
			o := dst.PixOffset(x, y)
			for c := 0; c < 3; c++ {
				v := (float64(rgba.Pix[i00+c])*(1-tx)+float64(rgba.Pix[i10+c])*tx)*(1-ty) +
					(float64(rgba.Pix[i01+c])*(1-tx)+float64(rgba.Pix[i11+c])*tx)*ty
				dst.Pix[o+c] = uint8(v + 0.5)
			}
			dst.Pix[o+3] = 255
		}
	}
	return dst
}

// ucs2 writes s as UCS-2LE padded with spaces to n characters.
func ucs2(w io.Writer, s string, n int) {
	u := utf16.Encode([]rune(s))
	for len(u) < n {
		u = append(u, ' ')
	}
	binary.Write(w, binary.LittleEndian, u[:n])
}

// UCS2 is s in UCS-2LE, for greps of raw blocks.
func UCS2(s string) []byte {
	var b bytes.Buffer
	ucs2(&b, s, len([]rune(s)))
	return b.Bytes()
}

// card is the fictional resident card with the given name and number (the
// number's birth date is the card's), its text block laid out by the card
// model and its chip dates kept as strings.
func card(name, number string, photo []byte) (idcard.Card, error) {
	birth, err := idcard.ParseDate(number[6:14])
	if err != nil {
		return idcard.Card{}, fmt.Errorf("intaketest: the number has no birth date: %w", err)
	}
	c := idcard.Card{
		Kind: idcard.KindResident, Name: pii.Text(name), Gender: "1", Ethnic: "01",
		BirthDate: birth, Address: pii.Text(CitizenAddress), Number: pii.Text(number),
		Authority: "北京市公安局东城分局",
		ValidFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, idcard.CST), ValidTo: time.Date(2040, 1, 1, 0, 0, 0, 0, idcard.CST),
		Photo: photo,
	}.WithChipDates()
	if c.Text, err = idcard.EncodeText(c); err != nil {
		return idcard.Card{}, fmt.Errorf("intaketest: %w", err)
	}
	return c, nil
}

// TextBlock builds the 256-byte UCS-2LE text block of a fictional resident
// card (idcard.EncodeText); nil when the name or number does not fit.
func TextBlock(name, number, address string) []byte {
	c, err := card(name, number, nil)
	if err != nil {
		return nil
	}
	c.Address = pii.Text(address)
	b, _ := idcard.EncodeText(c)
	return b
}

// Enrollment returns a complete synthetic visit of a fictional resident with
// the given name and number, a real JPEG portrait, liveness with evidence
// frames and a random 1024-byte WLT block.
func Enrollment(name, number string, rnd *rand.Rand) (*session.Enrollment, error) {
	p, ev, err := Portrait()
	if err != nil {
		return nil, err
	}
	return EnrollmentWith(name, number, p, ev, rnd)
}

// EnrollmentWith is Enrollment with a given portrait and evidence frames
// (copied).
func EnrollmentWith(name, number string, p []byte, ev [][]byte, rnd *rand.Rand) (*session.Enrollment, error) {
	photo := make([]byte, idcard.PhotoLen)
	for i := range photo {
		photo[i] = byte(rnd.UintN(256))
	}
	c, err := card(name, number, photo)
	if err != nil {
		return nil, err
	}
	started := time.Now().Add(-2 * time.Minute)
	e := &session.Enrollment{
		Card: c,
		Face: session.FaceResult{
			Portrait: bytes.Clone(p),
			Quality: []session.Measure{
				{Name: "sharpness", Value: 182.5, Threshold: 80, Pass: true},
				{Name: "brightness", Value: 121, Threshold: 60, Pass: true},
				{Name: "face_width", Value: 221, Threshold: 120, Pass: true},
			},
			Liveness: session.Liveness{
				Live: true, Challenges: []string{"challenge.blink", "challenge.turn_left", "challenge.smile"},
				Passed:  []bool{true, true, true},
				Scores:  map[string]float64{"passive": 0.93, "blink": 0.88, "turn": 0.91, "smile": 0.8},
				Timings: []time.Duration{1200 * time.Millisecond, 900 * time.Millisecond, 1500 * time.Millisecond},
				Nonce:   []byte{1, 2, 3, 4, 5, 6, 7, 8},
			},
		},
		Consent: session.ConsentRecord{TextVersion: "privacy-2026-01", Language: "zh-CN", At: started.Add(30 * time.Second)},
		Started: started, Finished: started.Add(90 * time.Second),
	}
	for _, f := range ev {
		e.Face.Liveness.Evidence = append(e.Face.Liveness.Evidence, bytes.Clone(f))
	}
	return e, nil
}

// RandomNumber returns a valid 18-digit resident ID number (fictional region
// 99xxxx, right check digit).
func RandomNumber(rnd *rand.Rand) string {
	d := time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rnd.IntN(25000))
	body := fmt.Sprintf("99%04d%s%03d", rnd.IntN(10000), d.Format("20060102"), rnd.IntN(1000))
	ch, _ := idcard.CheckChar(body)
	return body + string(ch)
}

// Record returns the enrollment record of Enrollment(name, number, rnd) as
// the kiosk builds it (submit.Record), for device and station, sealed now.
func Record(name, number, deviceID, stationID string, rnd *rand.Rand) (*enroll.Record, error) {
	e, err := Enrollment(name, number, rnd)
	if err != nil {
		return nil, err
	}
	return submit.Record(e, "0190a0a0-0000-7000-8000-000000000000", deviceID, stationID, "v1", time.Now(), "ABCDEFGHJKMNPQRSTVWX"), nil
}
