package intake

import (
	"bytes"
	"context"
	"crypto/hpke"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"eidkiosk/idcard"
	"eidkiosk/internal/pii"
)

// The reference photo registry: the portrait the ministry holds from the
// card's issuance, one per ID number, which the face check compares the
// kiosk's live capture with. Rows are keyed by the number's HMAC (the
// duplicate index's key) and the photo is HPKE-sealed to the intake key, as
// enrollments are: the database holds no picture and no number in clear.

// photoInfo is the HPKE info of a sealed reference photo; the number's HMAC
// is appended, so a sealed photo moved to another row does not open.
const photoInfo = "eidkiosk reference photo v1"

// MaxPhotoSize bounds a reference photo.
const MaxPhotoSize = 512 << 10

// Sentinel errors of the registry.
var (
	// ErrNoPhoto: no reference photo is registered for the number.
	ErrNoPhoto = errors.New("intake: no reference photo")
	// ErrBadPhoto: the file is not a reference photo the registry takes.
	ErrBadPhoto = errors.New("intake: not a usable reference photo")
)

// photoTables are the registry's tables (created by Migrate).
func photoTables(blob string) []string {
	return []string{`CREATE TABLE IF NOT EXISTS intake_photos (
		number_hmac ` + blob + ` PRIMARY KEY,
		sealed ` + blob + ` NOT NULL,
		imported BIGINT NOT NULL)`}
}

// photoKind reports whether b is a picture the matcher decodes.
func photoKind(b []byte) string {
	switch {
	case isJPEG(b):
		return "jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(b, []byte("BM")):
		return "bmp"
	}
	return ""
}

// PutPhoto registers (or replaces) the reference photo of number.
func (in *Intake) PutPhoto(ctx context.Context, number string, photo []byte) error {
	if in.db == nil {
		return errors.New("intake: no database")
	}
	if photoKind(photo) == "" {
		return fmt.Errorf("%w: not a JPEG, PNG or BMP picture", ErrBadPhoto)
	}
	if len(photo) > MaxPhotoSize {
		return fmt.Errorf("%w: %d bytes, above %d", ErrBadPhoto, len(photo), MaxPhotoSize)
	}
	key := in.numberHMAC(number)
	sealed, err := hpke.Seal(in.keys.intake.PublicKey(), hpke.HKDFSHA256(), hpke.AES256GCM(), append([]byte(photoInfo), key...), photo)
	if err != nil {
		return fmt.Errorf("intake: seal reference photo: %w", err)
	}
	_, err = in.db.ExecContext(ctx, in.db.Rebind(`INSERT INTO intake_photos (number_hmac, sealed, imported) VALUES (?, ?, ?)
		ON CONFLICT (number_hmac) DO UPDATE SET sealed = excluded.sealed, imported = excluded.imported`),
		key, sealed, in.clock.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("intake: store reference photo: %w", err)
	}
	return nil
}

// Photo returns the reference photo of number, or ErrNoPhoto. The caller
// zeroes it when done (pii.Zero).
func (in *Intake) Photo(ctx context.Context, number string) ([]byte, error) {
	if in.db == nil {
		return nil, errors.New("intake: no database")
	}
	key := in.numberHMAC(number)
	var sealed []byte
	err := in.db.QueryRowContext(ctx, in.db.Rebind(`SELECT sealed FROM intake_photos WHERE number_hmac = ?`), key).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoPhoto
	}
	if err != nil {
		return nil, fmt.Errorf("intake: reference photo: %w", err)
	}
	b, err := hpke.Open(in.keys.intake, hpke.HKDFSHA256(), hpke.AES256GCM(), append([]byte(photoInfo), key...), sealed)
	if err != nil {
		return nil, fmt.Errorf("intake: open reference photo: %w", err)
	}
	return b, nil
}

// PhotoImportResult counts what ImportPhotos did. Refused lists refused
// files with the number masked (4401**********123X.jpg: reason).
type PhotoImportResult struct {
	Stored  int
	Refused []string
}

// photoExts are the picture files ImportPhotos reads.
var photoExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".bmp": true}

// ImportPhotos registers every picture in dir named by its holder's ID
// number (NUMBER.jpg, .jpeg, .png or .bmp), replacing an earlier photo of
// the same number. An 18-character resident number must carry a valid
// check digit. Files are read, never copied or moved; the directory is
// left as it was. progress, when not nil, is called after each file.
func (in *Intake) ImportPhotos(ctx context.Context, dir string, progress func(done, total int)) (PhotoImportResult, error) {
	var res PhotoImportResult
	ents, err := os.ReadDir(dir)
	if err != nil {
		return res, fmt.Errorf("intake: photos: %w", err)
	}
	var files []string
	for _, e := range ents {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && photoExts[strings.ToLower(filepath.Ext(e.Name()))] {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	for i, name := range files {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("intake: photos: %w", err)
		}
		ext := filepath.Ext(name)
		number := strings.ToUpper(strings.TrimSuffix(name, ext))
		refuse := func(reason string) {
			res.Refused = append(res.Refused, pii.MaskID(number)+ext+": "+reason)
		}
		switch {
		case len(number) == 18 && !idcard.ValidNumber18(number):
			refuse("the ID number's check digit is wrong")
		case len(number) < 9 || strings.ContainsAny(number, " \t"):
			refuse("the file name is not an ID number")
		default:
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return res, fmt.Errorf("intake: photos: %w", err)
			}
			err = in.PutPhoto(ctx, number, b)
			pii.Zero(b)
			if errors.Is(err, ErrBadPhoto) {
				refuse(strings.TrimPrefix(err.Error(), ErrBadPhoto.Error()+": "))
				break
			}
			if err != nil {
				return res, err
			}
			res.Stored++
		}
		if progress != nil {
			progress(i+1, len(files))
		}
	}
	return res, nil
}
