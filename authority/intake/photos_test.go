package intake_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"eidkiosk/authority/intake"
	"eidkiosk/authority/intake/intaketest"
)

// The registry keeps photos sealed: the database file holds neither the
// picture nor the number, and a sealed photo moved to another number's row
// does not open.
func TestPhotosSealedAtRest(t *testing.T) {
	f := newFixture(t, intake.Options{})
	ctx := context.Background()
	in := f.auth.Intake
	photo, _, err := intaketest.Portrait()
	if err != nil {
		t.Fatal(err)
	}
	other := "990102195602140028"
	if _, err := in.Photo(ctx, intaketest.CitizenNumber); !errors.Is(err, intake.ErrNoPhoto) {
		t.Fatalf("empty registry: %v", err)
	}
	if err := in.PutPhoto(ctx, intaketest.CitizenNumber, photo); err != nil {
		t.Fatal(err)
	}
	if err := in.PutPhoto(ctx, other, []byte("\x89PNG\r\n\x1a\n another person")); err != nil {
		t.Fatal(err)
	}
	got, err := in.Photo(ctx, intaketest.CitizenNumber)
	if err != nil || !bytes.Equal(got, photo) {
		t.Fatalf("photo back: %d bytes, %v", len(got), err)
	}
	// Every byte the store wrote: database, WAL.
	var disk []byte
	for _, p := range []string{"authority.db", "authority.db-wal"} {
		b, _ := os.ReadFile(filepath.Join(f.auth.Dir, p))
		disk = append(disk, b...)
	}
	if len(disk) == 0 {
		t.Fatal("no database file found")
	}
	if bytes.Contains(disk, photo[200:264]) || bytes.Contains(disk, []byte(intaketest.CitizenNumber)) || bytes.Contains(disk, []byte("another person")) {
		t.Fatal("the database holds a photo or an ID number in clear")
	}
	// Swap the two sealed photos between rows: neither opens.
	db := f.auth.DB
	var a, b []byte
	rows, err := db.Query(`SELECT sealed FROM intake_photos ORDER BY imported, number_hmac`)
	if err != nil {
		t.Fatal(err)
	}
	var sealed [][]byte
	for rows.Next() {
		var s []byte
		rows.Scan(&s)
		sealed = append(sealed, s)
	}
	rows.Close()
	if len(sealed) != 2 {
		t.Fatalf("%d rows", len(sealed))
	}
	a, b = sealed[0], sealed[1]
	if _, err := db.Exec(`UPDATE intake_photos SET sealed = CASE WHEN sealed = ? THEN ? ELSE ? END`, a, b, a); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Photo(ctx, intaketest.CitizenNumber); err == nil || errors.Is(err, intake.ErrNoPhoto) {
		t.Fatalf("a photo moved to another number's row opened: %v", err)
	}
	// Replacing a photo keeps one row.
	if err := in.PutPhoto(ctx, intaketest.CitizenNumber, photo); err != nil {
		t.Fatal(err)
	}
	var n int
	db.QueryRow(`SELECT count(*) FROM intake_photos`).Scan(&n)
	if n != 2 {
		t.Fatalf("%d rows after a replacement", n)
	}
}

func TestImportPhotos(t *testing.T) {
	f := newFixture(t, intake.Options{})
	ctx := context.Background()
	photo, _, err := intaketest.Portrait()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{
		intaketest.CitizenNumber + ".jpg": photo,
		"990102195602140028.JPEG":         photo,
		"990102195602140027.jpg":          photo,                   // wrong check digit
		"810000199208150027.png":          []byte("not a picture"), // not a picture
		"notes.txt":                       []byte("ignored"),
		"holiday.jpg":                     photo, // not an ID number
	}
	for name, b := range files {
		os.WriteFile(filepath.Join(dir, name), b, 0o600)
	}
	calls := 0
	res, err := f.auth.Intake.ImportPhotos(ctx, dir, func(done, total int) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 2 || len(res.Refused) != 3 || calls != 5 {
		t.Fatalf("stored %d, refused %v, %d progress calls", res.Stored, res.Refused, calls)
	}
	all := strings.Join(res.Refused, "\n")
	for _, want := range []string{"9901**********0027.jpg: the ID number's check digit is wrong", "8100**********0027.png: not a JPEG, PNG or BMP picture", "not an ID number"} {
		if !strings.Contains(all, want) {
			t.Errorf("refusals %q lack %q", all, want)
		}
	}
	if strings.Contains(all, "990102195602140027") || strings.Contains(all, "810000199208150027") {
		t.Errorf("refusals print an ID number: %q", all)
	}
	for _, n := range []string{intaketest.CitizenNumber, "990102195602140028"} {
		if b, err := f.auth.Intake.Photo(ctx, n); err != nil || !bytes.Equal(b, photo) {
			t.Errorf("photo of an imported number: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, intaketest.CitizenNumber+".jpg")); err != nil {
		t.Errorf("import moved or removed its source: %v", err)
	}
}
