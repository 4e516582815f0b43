//go:build matprofile

package camera

import (
	"bytes"
	"context"
	"image"
	"testing"

	"gocv.io/x/gocv"
)

// TestMatProfileNoLeaks: hundreds of frames through the camera, its
// preview and a restart, then Close; every Mat closed.
// Run: go test -tags matprofile -run MatProfile ./drivers/camera/
func TestMatProfileNoLeaks(t *testing.T) {
	if n := gocv.MatProfile.Count(); n != 0 {
		t.Fatalf("%d Mats open before the test", n)
	}
	path := sharedVideo(t, webcam)
	cam, err := New(Options{Open: func() (Source, error) { return OpenFile(path, true) }, Pace: PaceLockstep})
	if err != nil {
		t.Fatal(err)
	}
	m := gocv.NewMat()
	dst := image.NewRGBA(image.Rect(0, 0, 200, 150))
	var seq uint64
	for i := 0; i < 400; i++ {
		in, err := cam.Next(context.Background(), seq, &m)
		if err != nil {
			t.Fatal(err)
		}
		seq = in.Seq
		cam.Preview(dst)
		if i == 200 {
			cam.Restart()
		}
	}
	m.Close()
	cam.Close()
	if n := gocv.MatProfile.Count(); n != 0 {
		var b bytes.Buffer
		gocv.MatProfile.WriteTo(&b, 1)
		t.Fatalf("%d Mats not closed:\n%s", n, b.String())
	}
}
