package idcard

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// A transcript is the bytes a host and a reader exchanged, one chunk a line:
// "> HEX" host to reader, "< HEX" reader to host; "#" starts a comment. It
// lets a test replay a real reader's answers (testdata/recordings/) without
// the reader. Recordings of real cards carry personal data: record only
// vendor test cards.

// Recorder is a Port that passes everything through to another Port and
// writes a transcript of it.
type Recorder struct {
	Port
	mu sync.Mutex
	w  io.Writer
}

// Record wraps p; every chunk written or read is logged to w.
func Record(p Port, w io.Writer) *Recorder { return &Recorder{Port: p, w: w} }

func (r *Recorder) log(dir string, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.w, "%s %X\n", dir, b)
}

// Write writes to the port and logs it.
func (r *Recorder) Write(b []byte) (int, error) {
	n, err := r.Port.Write(b)
	if n > 0 {
		r.log(">", b[:n])
	}
	return n, err
}

// Read reads from the port and logs it.
func (r *Recorder) Read(b []byte) (int, error) {
	n, err := r.Port.Read(b)
	if n > 0 {
		r.log("<", b[:n])
	}
	return n, err
}

// SetReadTimeout passes through when the port supports it.
func (r *Recorder) SetReadTimeout(d time.Duration) error {
	if rt, ok := r.Port.(readTimeouter); ok {
		return rt.SetReadTimeout(d)
	}
	return errors.New("idcard: record: port has no read timeout")
}

// SetBaud passes through when the port supports it.
func (r *Recorder) SetBaud(b int) error {
	if bs, ok := r.Port.(BaudSetter); ok {
		return bs.SetBaud(b)
	}
	return errors.New("idcard: record: port cannot change its rate")
}

// ResetInputBuffer passes through when the port supports it.
func (r *Recorder) ResetInputBuffer() error {
	if ir, ok := r.Port.(inputResetter); ok {
		return ir.ResetInputBuffer()
	}
	return nil
}

// ErrPlayback is a host that did not send what the transcript expects, or
// left part of it unplayed.
var ErrPlayback = errors.New("idcard: playback does not match the transcript")

type step struct {
	host bool
	data []byte
}

// Playback is a Port that replays a transcript: each write must match the
// next host bytes, after which the reader bytes that follow become
// readable. Close fails when part of the transcript was not played.
type Playback struct {
	mu      sync.Mutex
	cond    *sync.Cond
	steps   []step
	pending []byte
	timeout time.Duration // 0: block
	closed  bool
	err     error
}

// ParseTranscript reads a transcript for Playback.
func ParseTranscript(r io.Reader) (*Playback, error) {
	p := &Playback{}
	p.cond = sync.NewCond(&p.mu)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(line) < 2 || (line[0] != '>' && line[0] != '<') {
			return nil, fmt.Errorf("idcard: transcript line %d: want \"> HEX\" or \"< HEX\"", n)
		}
		b, err := hex.DecodeString(strings.ReplaceAll(line[1:], " ", ""))
		if err != nil {
			return nil, fmt.Errorf("idcard: transcript line %d: %w", n, err)
		}
		host := line[0] == '>'
		if k := len(p.steps); k > 0 && p.steps[k-1].host == host {
			p.steps[k-1].data = append(p.steps[k-1].data, b...)
		} else {
			p.steps = append(p.steps, step{host: host, data: b})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("idcard: transcript: %w", err)
	}
	p.release()
	return p, nil
}

// release moves leading reader steps to pending; p.mu held or not shared.
func (p *Playback) release() {
	for len(p.steps) > 0 && !p.steps[0].host {
		p.pending = append(p.pending, p.steps[0].data...)
		p.steps = p.steps[1:]
	}
}

// Write checks b against the transcript.
func (p *Playback) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, ErrDisconnected
	}
	rest := b
	for len(rest) > 0 {
		if len(p.steps) == 0 || !p.steps[0].host {
			p.err = fmt.Errorf("%w: host sent % X beyond the transcript", ErrPlayback, rest)
			return len(b) - len(rest), p.err
		}
		want := p.steps[0].data
		k := min(len(want), len(rest))
		if !bytes.Equal(want[:k], rest[:k]) {
			p.err = fmt.Errorf("%w: host sent % X, transcript has % X", ErrPlayback, rest[:k], want[:k])
			return len(b) - len(rest), p.err
		}
		rest = rest[k:]
		if p.steps[0].data = want[k:]; len(p.steps[0].data) == 0 {
			p.steps = p.steps[1:]
			p.release()
		}
	}
	p.cond.Broadcast()
	return len(b), nil
}

// Read returns reader bytes released by the host's writes; it waits for
// them up to the read timeout (forever when none is set).
func (p *Playback) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var deadline time.Time
	if p.timeout > 0 {
		deadline = time.Now().Add(p.timeout)
		t := time.AfterFunc(p.timeout, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
		defer t.Stop()
	}
	for len(p.pending) == 0 {
		if p.closed {
			return 0, ErrDisconnected
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return 0, nil
		}
		p.cond.Wait()
	}
	n := copy(b, p.pending)
	p.pending = p.pending[n:]
	return n, nil
}

// SetReadTimeout makes Read return (0, nil) after d without data.
func (p *Playback) SetReadTimeout(d time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timeout = d
	return nil
}

// Close ends the playback; it reports a mismatch seen earlier, or the part
// of the transcript that was not played.
func (p *Playback) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.cond.Broadcast()
	if p.err != nil {
		return p.err
	}
	if len(p.steps) > 0 || len(p.pending) > 0 {
		return fmt.Errorf("%w: %d host chunks and %d reader bytes left", ErrPlayback, len(p.steps), len(p.pending))
	}
	return nil
}
