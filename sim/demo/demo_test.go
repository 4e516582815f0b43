package demo

import (
	"eidkiosk/internal/repotest"

	"bytes"
	"context"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eidkiosk/drivers/idcard/sim"
	"eidkiosk/kiosk/eidverify"
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
	f, err := os.Open(repotest.Faces(t, "frontal-kphotoalbum-jesper.jpg"))
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
	// Card 0 has no reference photo: flagged face_unchecked, so the phone
	// binds but waits for an officer.
	if res.EIDStatus != "pending" {
		t.Fatalf("phone e-ID %q, want pending (flags %v)", res.EIDStatus, res.Flags)
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

// TestProvisionEnrolRevoke is the provisioning life over loopback: a token,
// a provisioned terminal, an enrollment accepted with the new certificate,
// then city IT revokes the terminal: the next upload is refused and the
// kiosk refuses new visits ("terminal disabled, call IT"), keeping the
// sealed package.
func TestProvisionEnrolRevoke(t *testing.T) {
	ctx := context.Background()
	env, rctx, cancel, done := firstVisit(t) // audit_test.go
	if err := env.Stack.Authority.Registry.Revoke(ctx, env.System.Identity.DeviceID, "test: terminal stolen", "test"); err != nil {
		t.Fatal(err)
	}
	// A second visit: sealed and saved, but the authority refuses the upload.
	e := env.System.Engine
	// The next citizen: two poll intervals after the first card left (a card
	// swapped within one poll is not told apart; see drivers/idcard).
	time.Sleep(2 * env.System.Config.Reader.PollInterval.Duration)
	if err := env.Stack.Reader.Place(1); err != nil {
		t.Fatal(err)
	}
	if _, err := env.wait(rctx, session.DataShown); err != nil {
		t.Fatal(err)
	}
	e.Send(session.Tap{Action: session.ActConfirm})
	e.Send(session.Tap{Action: session.ActAgree})
	if _, err := env.wait(rctx, session.Review); err != nil {
		t.Fatal(err)
	}
	e.Send(session.Tap{Action: session.ActKeep})
	v, err := env.wait(rctx, session.ReceiptShown)
	if err != nil {
		t.Fatal(err)
	}
	second := v.Receipt.EnrollmentID
	env.Stack.Reader.Remove()
	e.Send(session.Tap{Action: session.ActDone})
	deadline := time.Now().Add(30 * time.Second)
	for {
		v := e.View()
		if v.State == session.Unavailable && v.Fault == session.FaultDisabled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kiosk still admits visits after revocation: %s/%s, uplink %+v", v.State, v.Fault, env.System.Uplink.Status())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st := env.System.Uplink.Status(); st.Disabled == "" {
		t.Fatalf("uplink status does not say why: %+v", st)
	}
	if _, err := env.Stack.Authority.Intake.Status(ctx, second); err == nil {
		t.Fatal("the authority accepted an enrollment from a revoked terminal")
	}
	if st := env.System.Outbox.Stats(); st.Pending+st.Refused != 1 {
		t.Fatalf("the refused enrollment is not kept in the outbox: %+v", st)
	}
	cancel()
	<-done
}

// TestDemo is `make demo` without the window: the real OpenCV pipeline on
// the webcam recording answers the liveness challenges, and the enrollment
// reaches the authority.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo")
	}
	ctx := context.Background()
	env, res, out := runDemo(t, sim.DemoCitizenCard)
	if res.Status != "verified" {
		t.Errorf("the demo citizen's enrollment is %q at the authority, want verified", res.Status)
	}
	if !res.AtAuthority {
		t.Fatal("not at the authority")
	}
	// The face was compared at the kiosk (with the card's test photo) and
	// at the authority (with the imported reference photo): both match.
	if !res.CardPhoto || !strings.Contains(out.String(), "the face matched the card photo") {
		t.Fatalf("no comparison with the card photo at the kiosk:\n%s", out.String())
	}
	for _, f := range res.Flags {
		if strings.HasPrefix(f, "face_") || strings.HasPrefix(f, "kiosk_face") {
			t.Fatalf("the authority flagged the demo citizen's face: %v", res.Flags)
		}
	}
	rec, err := env.Stack.Authority.Intake.Record(ctx, res.EnrollmentID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.FaceMatch == nil || rec.FaceMatch.Decision != "match" || rec.FaceMatch.Frames < 5 {
		t.Fatalf("the sealed record's kiosk comparison: %+v", rec.FaceMatch)
	}
	d, err := env.Stack.Authority.Intake.Show(ctx, res.EnrollmentID, false)
	if err != nil {
		t.Fatal(err)
	}
	if d.PortraitSz == 0 || d.PortraitSz > 60<<10 || d.Evidence == 0 {
		t.Fatalf("portrait %d bytes, %d evidence frames", d.PortraitSz, d.Evidence)
	}
	if !strings.Contains(out.String(), "challenge 2/2") {
		t.Fatalf("the liveness challenges were not narrated:\n%s", out.String())
	}
	// The phone e-ID: bound, issued, read through the camera path, valid.
	if res.EIDStatus != "valid" || !fileExists(res.EIDQR) {
		t.Fatalf("phone e-ID %q, QR %s", res.EIDStatus, res.EIDQR)
	}
}

// runDemo runs the whole demo with the camera pipeline for a citizen
// carrying deck card card; the environment closes with the test.
func runDemo(t *testing.T, card int) (*Env, Result, *bytes.Buffer) {
	t.Helper()
	out := &bytes.Buffer{}
	env, err := Setup(context.Background(), Options{Dir: t.TempDir(), Out: out, Timeout: 150 * time.Second, Card: card})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	res, err := env.Run(context.Background())
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	return env, res, out
}

// TestDemoFaceRefused is `kioskctl demo --card 8`: the card's photo is
// someone else than the camera shows; after one more capture the visit ends
// with "the face does not match the card" and nothing reaches the outbox.
func TestDemoFaceRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo")
	}
	ctx := context.Background()
	env, res, out := runDemo(t, sim.DemoStrangerCard)
	if !res.FaceRefused || res.EnrollmentID != "" || !strings.Contains(out.String(), "please see an officer") {
		t.Fatalf("result %+v", res)
	}
	if st, err := env.System.Outbox.Refresh(ctx); err != nil || st.Pending+st.Acked+st.Refused != 0 {
		t.Fatalf("outbox %+v (%v) after a refused face", st, err)
	}
	if strings.Contains(out.String(), "score") {
		t.Error("the narration of the citizen's side shows a score")
	}
}

// TestSelfTestOnSimStack runs the technician's self-test on the running
// kiosk: the reader answers (SAM ID over the pty), the camera delivers and
// finds a face at a usable exposure (the webcam recording), the GPIO lines
// read the enclosure closed, and disk, certificate, authority and clock pass.
func TestSelfTestOnSimStack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole kiosk")
	}
	ctx := context.Background()
	env, err := Setup(ctx, Options{Dir: t.TempDir(), Timeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- env.System.Run(rctx) }()
	if err := env.waitReader(rctx); err != nil {
		t.Fatal(err)
	}
	// The running kiosk fetches the phone e-ID issuer keys and revocation
	// list by itself (kiosk/app's eid-keys loop), without kioskctl.
	for _, f := range []string{eidverify.IssuersFile, eidverify.RevocationFile} {
		p := filepath.Join(env.System.Config.State.Dir, f)
		for {
			if _, err := os.Stat(p); err == nil {
				break
			}
			if rctx.Err() != nil {
				t.Fatalf("the kiosk did not fetch %s", f)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	rep := env.System.SelfTest(rctx, nil)
	var buf bytes.Buffer
	rep.WriteChecklist(&buf, "self-test")
	t.Log(buf.String())
	names := map[string]bool{}
	for _, e := range rep.Entries {
		names[e.Name] = true
	}
	for _, n := range []string{"reader", "camera", "gpio", "enclosure"} {
		if !names[n] {
			t.Errorf("no %s check in the report", n)
		}
	}
	if !rep.Passed() {
		t.Fatalf("self-test failed on the simulated stack:\n%s", buf.String())
	}
	cancel()
	<-done
}
