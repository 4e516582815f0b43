package idcard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/png" // decoders may answer PNG
	"os"
	"os/exec"
	"strings"
	"time"

	_ "golang.org/x/image/bmp" // vendor decoders answer BMP (reference §8)

	"eidkiosk/idcard"
	"eidkiosk/internal/pii"
)

// PhotoDecoder turns the card's 1,024-byte WLT photo into a picture. WLT is
// a proprietary wavelet format that only licensed vendor libraries decode
// (reference §8); without one the kiosk keeps the raw WLT (sealed into the
// enrollment) and shows a neutral silhouette.
type PhotoDecoder interface {
	DecodePhoto(ctx context.Context, wlt []byte) (image.Image, error)
}

// ErrPhotoDecoder is wrapped by every failure of a configured decoder.
var ErrPhotoDecoder = errors.New("idcard: photo decoder failed")

// ExecDecoder runs a vendor decoder as a sidecar executable: it writes the
// WLT bytes on the program's standard input and reads a BMP or PNG picture
// from its standard output. A non-zero exit status is a failure, described
// by the first line of its standard error (which must not contain personal
// data). Nothing touches the disk: no temporary WLT or BMP files. A wrapper
// for a vendor shared library (libwlt2bmp.so, WltRS) is a few lines of C or
// a script around the vendor's command-line tool.
type ExecDecoder struct {
	Path    string
	Args    []string
	Timeout time.Duration // 0: 5s
	Env     []string      // extra environment (licence file locations)
}

// NewPhotoDecoder returns the decoder configured by path (reader.photo_decoder)
// with a timeout per photo (0: 5s): nil, nil for "" (no decoder); an
// ExecDecoder for an executable file; an error for anything else, so that a
// wrong setting stops start-up instead of silently showing silhouettes.
func NewPhotoDecoder(path string, timeout time.Duration) (PhotoDecoder, error) {
	if path == "" {
		return nil, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("idcard: photo decoder: %w", err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("idcard: photo decoder %s: not an executable (wrap a vendor shared library in a small program that reads WLT on stdin and writes BMP on stdout)", path)
	}
	return &ExecDecoder{Path: path, Timeout: timeout}, nil
}

// DecodePhoto runs the program on wlt.
func (d *ExecDecoder) DecodePhoto(ctx context.Context, wlt []byte) (image.Image, error) {
	if len(wlt) != idcard.PhotoLen {
		return nil, fmt.Errorf("%w: %d WLT bytes, want %d", ErrPhotoDecoder, len(wlt), idcard.PhotoLen)
	}
	t := d.Timeout
	if t <= 0 {
		t = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, t)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.Path, d.Args...)
	cmd.Env = append(os.Environ(), d.Env...)
	cmd.Stdin = bytes.NewReader(wlt)
	out := &capped{max: maxPicture}
	errb := &capped{max: 4096}
	cmd.Stdout, cmd.Stderr = out, errb
	cmd.WaitDelay = 100 * time.Millisecond // a decoder's stray children cannot hold us
	err := cmd.Run()
	defer pii.Zero(out.buf.Bytes()[:out.buf.Cap()])
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrPhotoDecoder, d.Path, ctx.Err())
		}
		msg := strings.TrimSpace(errb.buf.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return nil, fmt.Errorf("%w: %s: %w (%s)", ErrPhotoDecoder, d.Path, err, msg)
	}
	if out.over {
		return nil, fmt.Errorf("%w: %s: output larger than %d bytes", ErrPhotoDecoder, d.Path, maxPicture)
	}
	img, _, err := image.Decode(bytes.NewReader(out.buf.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: output is not a BMP or PNG picture: %w", ErrPhotoDecoder, d.Path, err)
	}
	return img, nil
}

// maxPicture bounds a decoder's output: a 102×126 BMP is 38,862 bytes.
const maxPicture = 1 << 20

// capped is a buffer that refuses to grow past max (the program then gets
// a write error and its output is rejected).
type capped struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (c *capped) Write(p []byte) (int, error) {
	if c.buf.Len()+len(p) > c.max {
		c.over = true
		return 0, errors.New("output too large")
	}
	return c.buf.Write(p)
}
