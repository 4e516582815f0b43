package update

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// source fetches repository files over HTTP(S) with the kiosk's client, or
// from a directory (a USB stick holding a copy of the repository). It
// implements go-tuf's fetcher.Fetcher for metadata and a resumable,
// size-limited download for targets.
type source struct {
	base   string // URL with trailing slash, or a directory
	dir    bool
	client *http.Client
	ctx    context.Context

	bytes atomic.Int64 // bytes received, metadata and targets

	mu   sync.Mutex
	date time.Time // Date header of the last HTTP response
}

func newSource(ctx context.Context, base string, client *http.Client) (*source, error) {
	s := &source{ctx: ctx, client: client}
	switch {
	case strings.HasPrefix(base, "https://"), strings.HasPrefix(base, "http://"):
		if !strings.HasSuffix(base, "/") {
			base += "/"
		}
		if client == nil {
			s.client = http.DefaultClient
		}
	case filepath.IsAbs(base):
		s.dir = true
		base = filepath.Clean(base) + string(filepath.Separator)
	default:
		return nil, fmt.Errorf("update: repository %q is neither an http(s) URL nor an absolute directory", base)
	}
	s.base = base
	return s, nil
}

// serverDate returns the Date of the last HTTP response (zero for a directory).
func (s *source) serverDate() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.date
}

// DownloadFile implements fetcher.Fetcher: at most maxLength bytes.
func (s *source) DownloadFile(u string, maxLength int64, _ time.Duration) ([]byte, error) {
	rc, _, err := s.open(u, 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxLength+1))
	s.bytes.Add(int64(len(data)))
	if err != nil {
		return nil, &metadata.ErrDownload{Msg: err.Error()}
	}
	if int64(len(data)) > maxLength {
		return nil, &metadata.ErrDownloadLengthMismatch{Msg: fmt.Sprintf("%s is longer than %d bytes", path.Base(u), maxLength)}
	}
	return data, nil
}

// open returns a reader of u from offset and whether it honoured offset
// (false: it starts at 0).
func (s *source) open(u string, offset int64) (io.ReadCloser, bool, error) {
	if s.dir {
		f, err := os.Open(u)
		if errors.Is(err, os.ErrNotExist) {
			return nil, false, &metadata.ErrDownloadHTTP{StatusCode: http.StatusNotFound, URL: u}
		}
		if err != nil {
			return nil, false, &metadata.ErrDownload{Msg: err.Error()}
		}
		if offset > 0 {
			if _, err := f.Seek(offset, io.SeekStart); err != nil {
				f.Close()
				return nil, false, &metadata.ErrDownload{Msg: err.Error()}
			}
		}
		return f, true, nil
	}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, false, err
	}
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	res, err := s.client.Do(req)
	if err != nil {
		return nil, false, &metadata.ErrDownload{Msg: err.Error()}
	}
	if d, err := http.ParseTime(res.Header.Get("Date")); err == nil {
		s.mu.Lock()
		s.date = d
		s.mu.Unlock()
	}
	switch {
	case res.StatusCode == http.StatusOK:
		return res.Body, false, nil
	case res.StatusCode == http.StatusPartialContent && offset > 0 &&
		strings.HasPrefix(res.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(offset, 10)+"-"):
		return res.Body, true, nil
	case res.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		res.Body.Close()
		return s.open(u, 0)
	default:
		res.Body.Close()
		return nil, false, &metadata.ErrDownloadHTTP{StatusCode: res.StatusCode, URL: u}
	}
}

// Progress is a download's progress.
type Progress struct {
	Target string
	Done   int64
	Total  int64
}

// targetURL is where a target lives: with consistent snapshots,
// <dir>/<sha256>.<name> under targets/.
func (s *source) targetURL(tf *metadata.TargetFiles, consistent bool) (string, error) {
	p := tf.Path
	if consistent {
		h, ok := tf.Hashes["sha256"]
		if !ok {
			return "", &Refusal{Reason: ReasonBadMetadata, Err: fmt.Errorf("target %s has no sha256", tf.Path)}
		}
		dir, base := path.Split(p)
		p = dir + hex.EncodeToString(h) + "." + base
	}
	if s.dir {
		return filepath.Join(s.base, "targets", filepath.FromSlash(p)), nil
	}
	var esc []string
	for _, part := range strings.Split(p, "/") {
		esc = append(esc, url.PathEscape(part))
	}
	return s.base + "targets/" + strings.Join(esc, "/"), nil
}

// download fetches tf into dir/<sha256>.partial, resuming a previous
// partial file, never accepting more than the signed length, and verifies
// every signed hash before returning the file's path.
func (s *source) download(tf *metadata.TargetFiles, consistent bool, dir string, limit int64, progress func(Progress)) (string, error) {
	if tf.Length > limit {
		return "", &Refusal{Reason: ReasonTooLarge, Err: fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrTooLarge, tf.Path, tf.Length, limit)}
	}
	h256, ok := tf.Hashes["sha256"]
	if !ok {
		return "", &Refusal{Reason: ReasonBadMetadata, Err: fmt.Errorf("target %s has no sha256", tf.Path)}
	}
	u, err := s.targetURL(tf, consistent)
	if err != nil {
		return "", err
	}
	partial := filepath.Join(dir, hex.EncodeToString(h256)+".partial")
	var have int64
	if fi, err := os.Stat(partial); err == nil {
		have = fi.Size()
	}
	if have > tf.Length {
		os.Remove(partial)
		have = 0
	}
	if have < tf.Length {
		rc, resumed, err := s.open(u, have)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		flag := os.O_CREATE | os.O_WRONLY | os.O_APPEND
		if !resumed {
			have = 0
			flag = os.O_CREATE | os.O_WRONLY | os.O_TRUNC
		}
		f, err := os.OpenFile(partial, flag, 0o600)
		if err != nil {
			return "", fmt.Errorf("update: %w", err)
		}
		pw := &progressWriter{w: f, p: Progress{Target: tf.Path, Done: have, Total: tf.Length}, report: progress, src: s}
		n, err := io.Copy(pw, io.LimitReader(rc, tf.Length-have+1))
		if err == nil && have+n > tf.Length {
			err = &Refusal{Reason: ReasonTooLarge, Err: fmt.Errorf("%w: %s sends more than its signed %d bytes", ErrTooLarge, tf.Path, tf.Length)}
		}
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		var ref *Refusal
		if errors.As(err, &ref) {
			os.Remove(partial)
			return "", err
		}
		if err != nil {
			return "", fmt.Errorf("update: download %s (%d of %d bytes kept for resuming): %w", tf.Path, have+n, tf.Length, err)
		}
		if have+n < tf.Length {
			return "", fmt.Errorf("update: download %s: connection ended at %d of %d bytes (kept for resuming)", tf.Path, have+n, tf.Length)
		}
	}
	if err := verifyFile(partial, tf); err != nil {
		os.Remove(partial)
		return "", err
	}
	return partial, nil
}

func verifyFile(p string, tf *metadata.TargetFiles) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	defer f.Close()
	hs := map[string]hash.Hash{}
	var ws []io.Writer
	for alg := range tf.Hashes {
		var h hash.Hash
		switch alg {
		case "sha256":
			h = sha256.New()
		case "sha512":
			h = sha512.New()
		default:
			continue
		}
		hs[alg] = h
		ws = append(ws, h)
	}
	n, err := io.Copy(io.MultiWriter(ws...), f)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if n != tf.Length {
		return &Refusal{Reason: ReasonHash, Err: fmt.Errorf("%s is %d bytes, signed length %d", tf.Path, n, tf.Length)}
	}
	for alg, h := range hs {
		if hex.EncodeToString(h.Sum(nil)) != hex.EncodeToString(tf.Hashes[alg]) {
			return &Refusal{Reason: ReasonHash, Err: fmt.Errorf("%s does not match its signed %s", tf.Path, alg)}
		}
	}
	return nil
}

type progressWriter struct {
	w      io.Writer
	p      Progress
	report func(Progress)
	src    *source
	last   time.Time
}

func (pw *progressWriter) Write(b []byte) (int, error) {
	n, err := pw.w.Write(b)
	pw.p.Done += int64(n)
	pw.src.bytes.Add(int64(n))
	if pw.report != nil && (time.Since(pw.last) > 200*time.Millisecond || pw.p.Done == pw.p.Total) {
		pw.last = time.Now()
		pw.report(pw.p)
	}
	return n, err
}
