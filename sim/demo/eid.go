package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"eidkiosk/drivers/camera"
	"eidkiosk/eidcred"
	"eidkiosk/kiosk/eidverify"
	"eidkiosk/kiosk/eidverify/camframes"
	"eidkiosk/wallet"
)

// phoneEID continues after the receipt: the reference wallet binds with the
// receipt's QR text, the authority accepts the enrollment (its intake
// flagged nothing), the wallet fetches its credential and shows its QR code
// (saved as a PNG in the demo directory), and the kiosk reads it through
// its camera path (a folder frame source holding a 640×480 frame of that
// QR code) and verifies it offline.
func (e *Env) phoneEID(ctx context.Context, res *Result, receiptQR string) error {
	out, st := e.opts.Out, e.Stack
	w, err := wallet.Open(filepath.Join(e.opts.Dir, "wallet"))
	if err != nil {
		return err
	}
	bs, err := w.Bind(ctx, st.AuthorityURL, st.Authority.PKI.RootFingerprint(), receiptQR)
	if err != nil {
		return fmt.Errorf("demo: wallet bind: %w", err)
	}
	say(out, "10. the phone scans the receipt QR; the wallet binds its P-256 key at the authority (TLS pinned to the CA fingerprint): binding %s, %s", bs.BindingID, bs.State)
	c, err := w.Refresh(ctx)
	if errors.Is(err, wallet.ErrPending) {
		say(out, "    the enrollment waits for an officer's review (flags %v): the phone's e-ID comes when it is approved", res.Flags)
		res.EIDStatus = eidcred.StatePending
		return nil
	}
	if err != nil {
		return fmt.Errorf("demo: wallet refresh: %w", err)
	}
	say(out, "11. the authority accepted the enrollment (its checks flagged nothing) and issued a credential: e-ID %s…, valid until %s",
		c.EID[:5], time.Unix(c.NotAfter, 0).UTC().Format(time.RFC3339))
	q, payload, err := w.Show(time.Now())
	if err != nil {
		return err
	}
	pngBytes, err := q.PNG(480)
	if err != nil {
		return err
	}
	res.EIDQR = filepath.Join(e.opts.Dir, "eid-qr.png")
	if err := os.WriteFile(res.EIDQR, pngBytes, 0o644); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	say(out, "12. the wallet shows its QR code (%d characters, QR version %d; it changes with every rendering): %s", len(payload), q.Version(), res.EIDQR)
	if e.tmp != "" && !e.opts.Keep {
		say(out, "    (in the demo directory: `kioskctl demo --keep` keeps it)")
	}

	// The kiosk: issuer keys and revocation list over its mTLS, then the
	// camera path.
	kioskState := filepath.Join(st.Dir, "kiosk")
	if _, err := eidverify.Refresh(ctx, kioskState); err != nil {
		return err
	}
	say(out, "13. the kiosk fetched the issuer keys and the signed revocation list (%s, %s)", eidverify.IssuersFile, eidverify.RevocationFile)
	r, err := e.verifyThroughCamera(ctx, pngBytes, kioskState)
	if err != nil {
		return err
	}
	res.EIDStatus = string(r.Status)
	line := fmt.Sprintf("14. the citizen holds the phone up to the kiosk's camera; read and verified offline: %s", r.Status)
	if r.Status == eidcred.Valid {
		line += fmt.Sprintf(" (%s, credential until %s)", r.Name.Reveal(), r.NotAfter.Format(time.RFC3339))
	} else {
		line += fmt.Sprintf(" (%s)", r.Reason)
	}
	say(out, "%s", line)
	if r.Status != eidcred.Valid {
		return fmt.Errorf("demo: the kiosk judged the phone's QR code %s (%s)", r.Status, r.Reason)
	}
	return nil
}

// verifyThroughCamera writes a 640×480 camera frame of the QR code into a
// folder and reads it back through drivers/camera (OpenCV) into the
// verifier.
func (e *Env) verifyThroughCamera(ctx context.Context, qrPNG []byte, kioskState string) (eidcred.Result, error) {
	qr, err := png.Decode(bytes.NewReader(qrPNG))
	if err != nil {
		return eidcred.Result{}, fmt.Errorf("demo: %w", err)
	}
	dir := filepath.Join(e.opts.Dir, "eid-camera")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return eidcred.Result{}, fmt.Errorf("demo: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, camframes.Scene(qr, image.Pt(640, 480), 0.7)); err != nil {
		return eidcred.Result{}, fmt.Errorf("demo: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "frame.png"), buf.Bytes(), 0o600); err != nil {
		return eidcred.Result{}, fmt.Errorf("demo: %w", err)
	}
	src, err := camera.OpenDir(dir, 25, false)
	if err != nil {
		return eidcred.Result{}, err
	}
	defer src.Close()
	frames := camframes.New(src)
	defer frames.Close()
	p, err := eidverify.LoadPolicy(kioskState)
	if err != nil {
		return eidcred.Result{}, err
	}
	return eidverify.Scan(ctx, frames, 1, p, time.Now)
}
