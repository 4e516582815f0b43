package sim

// The line: the pty the driver opens, its plugging and unplugging, the rate
// the driver set on it, and the paced writing of answers (answers.go computes
// them).

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	reader "eidkiosk/drivers/idcard"
	"eidkiosk/drivers/internal/simpty"
)

// Start opens the pty and starts answering.
func Start(o Options) (*Sim, error) {
	s, err := newSim(o)
	if err != nil {
		return nil, err
	}
	if s.opts.Link == "" {
		dir, err := os.MkdirTemp("", "idcard-sim-")
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		s.dir = dir
		s.opts.Link = filepath.Join(dir, "idcard")
	}
	if err := s.Replug(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Plugged reports whether the tty exists.
func (s *Sim) Plugged() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.plugged
}

// Unplug makes the reader disappear: the pty is closed (an open driver's
// reads and writes fail) and the tty path is removed. The card stays.
func (s *Sim) Unplug() { s.unplug(false) }

// unplug closes the current pty and waits for its serve loop; closing also
// marks the simulator closed for good.
func (s *Sim) unplug(closing bool) {
	s.mu.Lock()
	if closing {
		s.closed = true
	}
	m, sl, done := s.unplugLocked()
	s.mu.Unlock()
	if m != nil {
		m.Close()
		sl.Close()
		<-done
	}
}

func (s *Sim) unplugLocked() (*os.File, *os.File, chan struct{}) {
	if !s.plugged {
		return nil, nil, nil
	}
	s.plugged = false
	os.Remove(s.opts.Link)
	m, sl := s.master, s.slave
	s.master, s.slave = nil, nil
	s.selected = false
	return m, sl, s.served
}

// Replug makes the reader appear again on a new pty behind the same path.
func (s *Sim) Replug() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("sim: closed")
	}
	if s.plugged {
		return nil
	}
	m, sl, err := simpty.Open()
	if err != nil {
		return fmt.Errorf("sim: open pty: %w", err)
	}
	if err := rawMode(sl, s.baud); err != nil {
		m.Close()
		sl.Close()
		return fmt.Errorf("sim: pty: %w", err)
	}
	os.Remove(s.opts.Link)
	if err := os.Symlink(sl.Name(), s.opts.Link); err != nil {
		m.Close()
		sl.Close()
		return fmt.Errorf("sim: link: %w", err)
	}
	sl.Fd() // blocking mode now, not while serve reads the rate
	s.master, s.slave, s.pts, s.plugged = m, sl, sl.Name(), true
	s.stats.Plugs++
	s.served = make(chan struct{})
	go s.serve(m, sl, s.served)
	return nil
}

// Close unplugs the reader for good and removes the temporary directory.
func (s *Sim) Close() error {
	s.unplug(true)
	if s.dir != "" {
		return os.RemoveAll(s.dir)
	}
	return nil
}

// rawMode puts the tty in raw mode (no echo, no line discipline) at baud, as
// a freshly enumerated USB serial device would be used.
func rawMode(f *os.File, baud int) error {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CBAUD
	t.Cflag |= unix.CS8 | speedBits[baud]
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

var speedBits = map[int]uint32{115200: unix.B115200, 57600: unix.B57600, 38400: unix.B38400, 19200: unix.B19200, 9600: unix.B9600}

// lineRate is the rate the driver set on the tty.
func lineRate(f *os.File) int {
	t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return 0
	}
	for b, bits := range speedBits {
		if t.Cflag&unix.CBAUD == bits {
			return b
		}
	}
	return 0
}

// serve answers requests on one plugged pty until it is closed.
func (s *Sim) serve(m, sl *os.File, done chan struct{}) {
	defer close(done)
	var dec reader.Decoder
	buf := make([]byte, 4096)
	for {
		n, err := m.Read(buf)
		if err != nil {
			return
		}
		// A receiver at another rate sees framing errors, not the bytes sent.
		s.mu.Lock()
		if s.slave != sl {
			s.mu.Unlock()
			return // unplugged
		}
		rate, want := lineRate(sl), s.baud
		if rate != want {
			s.stats.Ignored += n
			s.mu.Unlock()
			s.trace("%d bytes at %d baud ignored (SAM at %d)", n, rate, want)
			continue
		}
		s.stats.BytesIn += n
		s.mu.Unlock()
		dec.Write(buf[:n])
		for {
			body, ferr := dec.Next()
			if ferr != nil {
				s.mu.Lock()
				s.stats.BadFrames++
				s.mu.Unlock()
				// The SAM answers a corrupt host frame with 10 or 11.
				code := reader.StatusChecksum
				if errors.Is(ferr, reader.ErrLength) {
					code = reader.StatusLength
				}
				s.trace("bad request frame: %v", ferr)
				if !s.write(m, reader.Response{SW3: code}.Encode(), 0, Fault{}, time.Now()) {
					return
				}
				continue
			}
			if body == nil {
				break
			}
			req, err := reader.ParseRequest(body)
			if err != nil {
				continue
			}
			// On a real line the request's last byte arrives its wire time
			// after the first; the answer is paced from then.
			start := time.Now()
			if s.Throttle() {
				start = start.Add(reader.WireTime(len(body)+8, s.Baud()))
			}
			if !s.answer(m, req, start) {
				return
			}
		}
	}
}

// answer handles one request on the line; it reports false when the pty is
// gone.
func (s *Sim) answer(m *os.File, req reader.Request, start time.Time) bool {
	frame, baud, f, _ := s.reply(req)
	if frame == nil {
		return true
	}
	return s.write(m, frame, baud, f, start)
}

// write sends frame, applying the writing faults and, when throttling, the
// line rate; it reports false when the pty is gone.
func (s *Sim) write(m *os.File, frame []byte, baud int, f Fault, start time.Time) bool {
	pieces := [][]byte{frame}
	var gap time.Duration
	switch f.Kind {
	case FaultSplit:
		size, g := f.Bytes, f.Gap
		if size <= 0 {
			size = 7
		}
		if g <= 0 {
			g = time.Millisecond
		}
		pieces, gap = nil, g
		for len(frame) > 0 {
			k := min(size, len(frame))
			pieces, frame = append(pieces, frame[:k]), frame[k:]
		}
	case FaultStall, FaultUnplug:
		h := len(frame) / 2
		pieces = [][]byte{frame[:h], frame[h:]}
	}
	for i, p := range pieces {
		if i > 0 {
			switch f.Kind {
			case FaultStall:
				time.Sleep(f.Stall)
			case FaultUnplug:
				go func() {
					s.Unplug()
					if f.Stall > 0 {
						time.Sleep(f.Stall)
						if err := s.Replug(); err != nil {
							s.trace("replug: %v", err)
						}
					}
				}()
				return false
			default:
				time.Sleep(gap)
			}
			start = time.Now()
		}
		if !s.paced(m, p, baud, start) {
			return false
		}
	}
	return true
}

// paced writes p, at the line rate from start when throttling.
func (s *Sim) paced(m *os.File, p []byte, baud int, start time.Time) bool {
	if !s.Throttle() || baud == 0 {
		n, err := m.Write(p)
		s.count(n)
		return err == nil
	}
	per := reader.WireTime(1, baud)
	const chunk = 16
	for off := 0; off < len(p); {
		k := min(chunk, len(p)-off)
		// byte off+k-1 is complete on the line at start + (off+k)·per
		if d := time.Until(start.Add(time.Duration(off+k) * per)); d > 0 {
			time.Sleep(d)
		}
		n, err := m.Write(p[off : off+k])
		s.count(n)
		if err != nil {
			return false
		}
		off += k
	}
	return true
}

func (s *Sim) count(n int) {
	s.mu.Lock()
	s.stats.BytesOut += n
	s.mu.Unlock()
}
