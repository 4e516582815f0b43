// Package eidverify is the kiosk's side of the phone e-ID: it reads a
// presentation QR code from a camera frame (pure Go, with
// github.com/makiuchi-d/gozxing: Debian's OpenCV has no QR decoder) and
// verifies it offline (eidcred.Verify) against the issuer keys and the
// revocation list kept in the kiosk's state directory:
//
//	STATE/eid-issuers.json     the issuer public keys (eidcred.KeySet JSON)
//	STATE/eid-revocation.cose  the newest signed revocation list
//
// Update fetches both from the authority over the terminal's mutual TLS
// (the same trust as provisioning: the pinned root CA); the running kiosk
// refreshes them at start and every few hours (kiosk/app), `kioskctl eid
// refresh` on demand; a list older than the policy's MaxListAge gives
// "stale_revocation", never "valid".
//
// It stores nothing: not the frame, not the payload, not the result. The
// masked name of a result is a pii.Text (it prints as [redacted]). It does
// not drive the camera (the caller hands it frames) and draws no screen.
package eidverify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeFile
	_ "image/png"  // DecodeFile
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"eidkiosk/eidcred"
	"eidkiosk/internal/atomicfile"
	"eidkiosk/provisioning"
)

// Files in the state directory.
const (
	IssuersFile    = "eid-issuers.json"
	RevocationFile = "eid-revocation.cose"
)

// Sentinel errors.
var (
	// ErrNoQR: no QR code could be read from the image.
	ErrNoQR = errors.New("eidverify: no QR code in the image")
	// ErrNoIssuers: the state directory holds no issuer keys.
	ErrNoIssuers = errors.New("eidverify: no issuer keys in the state directory (run `kioskctl eid refresh`)")
)

// Decode reads the text of the QR code in img.
func Decode(img image.Image) (string, error) {
	src, err := luminance(img)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoQR, err)
	}
	bmp, err := gozxing.NewBinaryBitmap(gozxing.NewHybridBinarizer(src))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoQR, err)
	}
	r, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err == nil {
		return r.GetText(), nil
	}
	// Slower looks before giving up: harder (small or tilted codes), then
	// as a pure code (an image holding nothing but the code, e.g. a
	// screenshot: the finder-pattern detector misreads the format bits of
	// about 1 in 80 cleanly rendered codes whose modules are not a whole
	// number of pixels; TestDecodeRenderedCodes), then with the global
	// binarizer (evenly lit frames where the local one breaks modules).
	hints := []map[gozxing.DecodeHintType]any{
		{gozxing.DecodeHintType_TRY_HARDER: true},
		{gozxing.DecodeHintType_PURE_BARCODE: true},
	}
	for _, h := range hints {
		if r, err2 := qrcode.NewQRCodeReader().Decode(bmp, h); err2 == nil {
			return r.GetText(), nil
		}
	}
	if gb, err2 := gozxing.NewBinaryBitmap(gozxing.NewGlobalHistgramBinarizer(src)); err2 == nil {
		if r, err2 := qrcode.NewQRCodeReader().Decode(gb, hints[0]); err2 == nil {
			return r.GetText(), nil
		}
	}
	return "", fmt.Errorf("%w: %v", ErrNoQR, err)
}

// luminance hands the decoder the image's brightness plane directly where
// the image has one (grey frames, JPEG's Y plane) or computes it in one
// pass over RGBA: gozxing's generic path calls At for every pixel, which is
// most of a 640×480 frame's decoding time.
func luminance(img image.Image) (gozxing.LuminanceSource, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.Gray:
		return gozxing.NewPlanarYUVLuminanceSource(m.Pix, m.Stride, h, 0, 0, w, h, false)
	case *image.YCbCr:
		return gozxing.NewPlanarYUVLuminanceSource(m.Y, m.YStride, h, 0, 0, w, h, false)
	case *image.RGBA:
		y := make([]byte, w*h)
		for r := 0; r < h; r++ {
			row := m.Pix[r*m.Stride : r*m.Stride+4*w]
			for c := 0; c < w; c++ {
				p := row[4*c : 4*c+3 : 4*c+3]
				y[r*w+c] = byte((306*uint32(p[0]) + 601*uint32(p[1]) + 117*uint32(p[2])) >> 10)
			}
		}
		return gozxing.NewPlanarYUVLuminanceSource(y, w, h, 0, 0, w, h, false)
	}
	return gozxing.NewLuminanceSourceFromImage(img), nil
}

// LoadPolicy reads the issuer keys and the revocation list from the state
// directory. A missing or unverifiable list leaves Policy.Revocation nil
// (the decision is then "stale_revocation" at best); missing keys are
// ErrNoIssuers.
func LoadPolicy(stateDir string) (eidcred.Policy, error) {
	var p eidcred.Policy
	b, err := os.ReadFile(filepath.Join(stateDir, IssuersFile))
	if errors.Is(err, fs.ErrNotExist) {
		return p, ErrNoIssuers
	}
	if err != nil {
		return p, fmt.Errorf("eidverify: %w", err)
	}
	if err := json.Unmarshal(b, &p.Keys); err != nil {
		return p, fmt.Errorf("eidverify: %s: %w", IssuersFile, err)
	}
	if lb, err := os.ReadFile(filepath.Join(stateDir, RevocationFile)); err == nil {
		if l, err := eidcred.ParseRevocation(lb, p.Keys); err == nil {
			p.Revocation = l
		}
	}
	return p, nil
}

// SaveIssuers writes the issuer keys into the state directory (what
// provisioning does with the keys of its bundle).
func SaveIssuers(stateDir string, keys eidcred.KeySet) error {
	b, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(stateDir, IssuersFile), b, 0o644); err != nil {
		return fmt.Errorf("eidverify: %w", err)
	}
	return nil
}

// SaveRevocation verifies a signed list against the stored issuer keys and
// keeps it unless the stored one is newer.
func SaveRevocation(stateDir string, signed []byte) (*eidcred.RevocationList, error) {
	p, err := LoadPolicy(stateDir)
	if err != nil {
		return nil, err
	}
	l, err := eidcred.ParseRevocation(signed, p.Keys)
	if err != nil {
		return nil, err
	}
	if p.Revocation != nil && p.Revocation.Issued > l.Issued {
		return p.Revocation, nil
	}
	if err := atomicfile.Write(filepath.Join(stateDir, RevocationFile), signed, 0o644); err != nil {
		return nil, fmt.Errorf("eidverify: %w", err)
	}
	return l, nil
}

// Update fetches the issuer keys and the revocation list from the
// authority (client carries the terminal's TLS configuration) and stores
// them.
func Update(ctx context.Context, client *http.Client, authorityURL, stateDir string) (*eidcred.RevocationList, error) {
	base := strings.TrimRight(authorityURL, "/")
	kb, err := get(ctx, client, base+eidcred.PathKeys)
	if err != nil {
		return nil, err
	}
	var keys eidcred.KeySet
	if err := json.Unmarshal(kb, &keys); err != nil {
		return nil, fmt.Errorf("eidverify: issuer keys: %w", err)
	}
	if err := SaveIssuers(stateDir, keys); err != nil {
		return nil, err
	}
	lb, err := get(ctx, client, base+eidcred.PathRevocation)
	if err != nil {
		return nil, err
	}
	return SaveRevocation(stateDir, lb)
}

// Refresh is Update for a provisioned terminal: the authority and the TLS
// configuration (client certificate, pinned root) come from the identity in
// the state directory.
func Refresh(ctx context.Context, stateDir string) (*eidcred.RevocationList, error) {
	id, err := provisioning.LoadIdentity(stateDir)
	if err != nil {
		return nil, err
	}
	defer id.Close()
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: id.TLSConfig()}}
	return Update(ctx, hc, id.AuthorityURL, stateDir)
}

func get(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("eidverify: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("eidverify: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("eidverify: %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("eidverify: %s: %s", url, resp.Status)
	}
	return b, nil
}

// Frames is the camera as the verifier uses it: the next frame.
type Frames interface {
	Frame(ctx context.Context) (image.Image, error)
}

// Scan reads frames until one holds a QR code, and verifies it at the time
// now returns when the code was read. It gives up with ErrNoQR after
// maxFrames frames (0: until ctx ends).
func Scan(ctx context.Context, frames Frames, maxFrames int, p eidcred.Policy, now func() time.Time) (eidcred.Result, error) {
	for i := 0; maxFrames == 0 || i < maxFrames; i++ {
		if err := ctx.Err(); err != nil {
			return eidcred.Result{}, fmt.Errorf("eidverify: scan: %w", err)
		}
		img, err := frames.Frame(ctx)
		if err != nil {
			return eidcred.Result{}, fmt.Errorf("eidverify: scan: %w", err)
		}
		text, err := Decode(img)
		if errors.Is(err, ErrNoQR) {
			continue
		}
		return eidcred.Verify(text, now(), p), nil
	}
	return eidcred.Result{}, ErrNoQR
}

// VerifyImage decodes one image and verifies it at time at.
func VerifyImage(img image.Image, at time.Time, p eidcred.Policy) (eidcred.Result, error) {
	text, err := Decode(img)
	if err != nil {
		return eidcred.Result{}, err
	}
	return eidcred.Verify(text, at, p), nil
}

// DecodeFile decodes an image file's bytes (PNG, JPEG or GIF).
func DecodeFile(b []byte) (image.Image, error) {
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: not an image: %v", ErrNoQR, err)
	}
	return img, nil
}
