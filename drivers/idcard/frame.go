package idcard

import (
	"bytes"
	"errors"
	"fmt"
)

// Preamble starts every GA 467 frame: AA AA AA byte sync and 96 69 start of
// frame (reference §2).
var Preamble = [5]byte{0xAA, 0xAA, 0xAA, 0x96, 0x69}

const (
	headerLen = 7 // preamble + LEN_H LEN_L
	// MinLen is the smallest LEN of a frame: a request's CMD PARA CHK.
	MinLen = 3
	// MaxLen is the largest LEN the decoder accepts. The largest frame the
	// SAM sends is a base message with two fingerprint templates, LEN 0x090A
	// (2314); 4096 leaves room for vendor extensions without letting a
	// corrupt length stall a read for long.
	MaxLen = 4096
)

// Sentinel errors for frames the decoder rejects; a *FrameError wraps one.
var (
	ErrChecksum = errors.New("idcard: frame checksum mismatch")
	ErrLength   = errors.New("idcard: frame length out of range")
)

// FrameError is a frame the decoder rejected. The decoder has already
// skipped past its preamble when it returns one.
type FrameError struct {
	Err  error // ErrChecksum or ErrLength
	Len  int   // the LEN field
	Want byte  // checksum computed (ErrChecksum)
	Got  byte  // checksum received (ErrChecksum)
}

func (e *FrameError) Error() string {
	if errors.Is(e.Err, ErrChecksum) {
		return fmt.Sprintf("idcard: frame checksum mismatch (LEN %d, computed %02X, received %02X)", e.Len, e.Want, e.Got)
	}
	return fmt.Sprintf("idcard: frame length %d out of range %d..%d", e.Len, MinLen, MaxLen)
}

func (e *FrameError) Unwrap() error { return e.Err }

// xor returns the XOR of b.
func xor(b []byte) byte {
	var c byte
	for _, v := range b {
		c ^= v
	}
	return c
}

// EncodeFrame wraps body (a request's CMD PARA DATA, or a response's SW1 SW2
// SW3 DATA) into a frame: preamble, big-endian LEN counting body and CHK, body,
// and CHK = XOR of LEN and body (reference §2).
func EncodeFrame(body []byte) []byte {
	n := len(body) + 1
	f := make([]byte, 0, headerLen+n)
	f = append(f, Preamble[:]...)
	f = append(f, byte(n>>8), byte(n))
	f = append(f, body...)
	f = append(f, xor(f[5:]))
	return f
}

// Decoder is a streaming frame decoder. Bytes are added with Write in chunks
// of any size; Next returns whole frames. It scans for the preamble, skipping
// garbage, reads LEN, waits for exactly LEN more bytes and checks the XOR.
// A frame with a bad length or checksum is reported as a *FrameError and the
// decoder resynchronises on the next preamble after the rejected one's start.
//
// The zero value is ready to use. A Decoder is not safe for concurrent use.
type Decoder struct {
	buf     []byte // pending bytes are buf[off:]
	off     int
	skipped int
}

// Write adds bytes to the decoder. It never fails.
func (d *Decoder) Write(p []byte) (int, error) {
	if d.off > 0 && d.off >= len(d.buf)/2 {
		n := copy(d.buf, d.buf[d.off:])
		clear(d.buf[n:]) // frames carry personal data: leave no copy behind
		d.buf, d.off = d.buf[:n], 0
	}
	d.buf = append(d.buf, p...)
	return len(p), nil
}

// Reset discards buffered bytes (e.g. stale bytes before a new request).
func (d *Decoder) Reset() {
	d.skipped += len(d.buf) - d.off
	clear(d.buf)
	d.buf, d.off = d.buf[:0], 0
}

// Buffered returns how many bytes wait for a frame to complete.
func (d *Decoder) Buffered() int { return len(d.buf) - d.off }

// Skipped returns how many bytes were discarded as garbage so far.
func (d *Decoder) Skipped() int { return d.skipped }

// Next returns the body (bytes between LEN and CHK) of the next complete,
// valid frame. It returns (nil, nil) when more bytes are needed, and
// (nil, *FrameError) for a rejected frame; call Next again after either.
// The returned body is a copy the caller owns. Work is linear in the bytes
// written, whatever they are.
func (d *Decoder) Next() ([]byte, error) {
	p := d.buf[d.off:]
	i := bytes.Index(p, Preamble[:])
	if i < 0 {
		// Keep a tail that may be the start of a preamble.
		keep := min(len(p), len(Preamble)-1)
		for keep > 0 && !bytes.HasPrefix(Preamble[:], p[len(p)-keep:]) {
			keep--
		}
		d.drop(len(p) - keep)
		return nil, nil
	}
	d.drop(i)
	p = p[i:]
	if len(p) < headerLen {
		return nil, nil
	}
	n := int(p[5])<<8 | int(p[6])
	if n < MinLen || n > MaxLen {
		d.drop(1)
		return nil, &FrameError{Err: ErrLength, Len: n}
	}
	if len(p) < headerLen+n {
		return nil, nil
	}
	frame := p[:headerLen+n]
	if c, got := xor(frame[5:len(frame)-1]), frame[len(frame)-1]; c != got {
		d.drop(1)
		return nil, &FrameError{Err: ErrChecksum, Len: n, Want: c, Got: got}
	}
	body := bytes.Clone(frame[headerLen : len(frame)-1])
	d.consume(len(frame))
	return body, nil
}

// drop discards n garbage bytes.
func (d *Decoder) drop(n int) {
	d.skipped += n
	d.consume(n)
}

func (d *Decoder) consume(n int) {
	clear(d.buf[d.off : d.off+n]) // frames carry personal data: leave no copy behind
	d.off += n
	if d.off == len(d.buf) {
		d.buf, d.off = d.buf[:0], 0
	}
}

// Response is a decoded SAM response frame.
type Response struct {
	SW1, SW2 byte
	SW3      Status
	Data     []byte
}

// ParseResponse splits a response frame body into status words and data.
func ParseResponse(body []byte) (Response, error) {
	if len(body) < 3 {
		return Response{}, &FrameError{Err: ErrLength, Len: len(body) + 1}
	}
	return Response{SW1: body[0], SW2: body[1], SW3: Status(body[2]), Data: body[3:]}, nil
}

// Encode returns the response as a frame.
func (r Response) Encode() []byte {
	return EncodeFrame(append([]byte{r.SW1, r.SW2, byte(r.SW3)}, r.Data...))
}

// Request is a decoded host request frame.
type Request struct {
	Cmd  Command
	Data []byte
}

// ParseRequest splits a request frame body into command and data.
func ParseRequest(body []byte) (Request, error) {
	if len(body) < 2 {
		return Request{}, &FrameError{Err: ErrLength, Len: len(body) + 1}
	}
	return Request{Cmd: Command(uint16(body[0])<<8 | uint16(body[1])), Data: body[2:]}, nil
}

// Encode returns the request as a frame.
func (r Request) Encode() []byte {
	return EncodeFrame(append([]byte{byte(r.Cmd >> 8), byte(r.Cmd)}, r.Data...))
}
