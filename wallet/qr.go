package wallet

import (
	"fmt"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

// QR is a presentation payload drawn as a QR code (error correction M; the
// payload is all QR alphanumeric characters).
type QR struct {
	code *qrcode.QRCode
}

// Encode draws a payload.
func Encode(payload string) (*QR, error) {
	q, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("wallet: QR code: %w", err)
	}
	return &QR{code: q}, nil
}

// Show presents the credential at time at and draws it: the QR code and
// its payload.
func (w *Wallet) Show(at time.Time) (*QR, string, error) {
	payload, err := w.Present(at)
	if err != nil {
		return nil, "", err
	}
	q, err := Encode(payload)
	return q, payload, err
}

// Version is the QR version (1-40): the symbol's size class.
func (q *QR) Version() int { return q.code.VersionNumber }

// PNG renders the code size×size pixels (at least its modules plus the
// quiet zone).
func (q *QR) PNG(size int) ([]byte, error) {
	b, err := q.code.PNG(size)
	if err != nil {
		return nil, fmt.Errorf("wallet: QR PNG: %w", err)
	}
	return b, nil
}

// Terminal renders the code with Unicode half blocks for a terminal.
func (q *QR) Terminal() string { return q.code.ToSmallString(false) }
