package demo

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eidkiosk/kiosk/session"
)

// stillFace stands in for the camera pipeline in the chain test: it reports
// one challenge and returns a real face JPEG.
type stillFace struct{ jpeg []byte }

func (f stillFace) Capture(ctx context.Context, nonce []byte, report func(session.FaceProgress)) (session.FaceResult, error) {
	report(session.FaceProgress{Challenge: "challenge.blink", Step: 1, Steps: 1, Box: image.Rect(100, 80, 220, 200), Frame: image.Pt(400, 300)})
	select {
	case <-ctx.Done():
		return session.FaceResult{}, ctx.Err()
	case <-time.After(50 * time.Millisecond):
	}
	return session.FaceResult{
		Portrait: bytes.Clone(f.jpeg),
		Quality:  []session.Measure{{Name: "sharpness", Value: 140, Threshold: 60, Pass: true}},
		Liveness: session.Liveness{Live: true, Challenges: []string{"challenge.blink"}, Passed: []bool{true},
			Scores: map[string]float64{"blink": 0.9}, Evidence: [][]byte{bytes.Clone(f.jpeg)}, Nonce: nonce,
			Timings: []time.Duration{800 * time.Millisecond}},
	}, nil
}

func sharedFace(t testing.TB) []byte {
	t.Helper()
	dir, _ := os.Getwd()
	for !fileExists(filepath.Join(dir, "go.mod")) {
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("repository root not found")
		}
		dir = parent
	}
	f, err := os.Open(filepath.Join(dir, "..", "shared", "testdata", "faces", "frontal-kphotoalbum-jesper.jpg"))
	if err != nil {
		t.Fatalf("shared face images: %v", err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
	return buf.Bytes()
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestChainWithoutCamera runs the whole chain — authority, provisioning,
// pty reader, engine, sealing, outbox, mTLS uplink, intake — with a still
// image in place of the camera pipeline.
func TestChainWithoutCamera(t *testing.T) {
	var out bytes.Buffer
	dir := t.TempDir()
	ctx := context.Background()
	env, err := Setup(ctx, Options{Dir: dir, Out: &out, Face: stillFace{sharedFace(t)}, Timeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.Run(ctx)
	t.Log(out.String())
	if err != nil {
		env.Close()
		t.Fatal(err)
	}
	if !res.AtAuthority || res.EnrollmentID == "" {
		t.Fatalf("result %+v", res)
	}
	n, err := env.Stack.Authority.Intake.Count(ctx)
	if err != nil || n != 1 {
		t.Fatalf("authority holds %d enrollments (%v), want 1", n, err)
	}
	rec, err := env.Stack.Authority.Intake.Record(ctx, res.EnrollmentID)
	if err != nil {
		t.Fatal(err)
	}
	deck := env.Stack.Reader.Deck()
	if rec.Card.Number != deck[0].Number.Reveal() {
		t.Fatal("the authority's record does not carry the card's number")
	}
	if err := env.Close(); err != nil {
		t.Fatal(err)
	}
	// Nothing personal in clear under the kiosk's state directory.
	secrets := []string{deck[0].Number.Reveal(), deck[0].Name.Reveal()}
	filepath.Walk(filepath.Join(dir, "kiosk"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, s := range secrets {
			if s != "" && (bytes.Contains(b, []byte(s)) || bytes.Contains(b, utf16le(s))) {
				t.Errorf("%s contains a citizen's data in clear", p)
			}
		}
		return nil
	})
	if strings.Contains(out.String(), deck[0].Number.Reveal()) {
		t.Error("the narration shows the full ID number")
	}
}

func utf16le(s string) []byte {
	var b []byte
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}
