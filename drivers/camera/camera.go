package camera

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"sync"
	"time"

	"gocv.io/x/gocv"

	"eidkiosk/internal/clock"
)

// Pace says how a recording (file or folder) is delivered. Live devices
// always deliver at their own rate.
type Pace int

const (
	// PaceRealtime delivers a recording at its frame rate, like a camera;
	// frame times are wall-clock times.
	PaceRealtime Pace = iota
	// PaceLockstep delivers every frame of a recording exactly once, the
	// next one only after the consumer took the last (as fast as the
	// consumer runs, no drops). Frame times are the recording's own time
	// line from the first frame's wall time, so timeouts measured on frame
	// times are the same on a fast or a slow machine.
	PaceLockstep
)

// Info describes one delivered frame.
type Info struct {
	Seq uint64 // 1, 2, ... in delivery order; never reused by one Camera
	// Epoch counts opens of the source (1 for the first); Restart and
	// every re-open after a fault start a new epoch.
	Epoch uint64
	Time  time.Time     // capture time (see Pace)
	Pos   time.Duration // position in the recording; 0 for a device
	Size  image.Point
}

// Stats counts what happened since New.
type Stats struct {
	Frames  uint64 // frames delivered by the source
	Corrupt uint64 // undecodable images skipped
	Faults  uint64 // transitions into the fault state
	Reopens uint64 // successful opens after the first
}

// Options configures a Camera.
type Options struct {
	// Open opens the source; it is called again after a fault. Required.
	Open  func() (Source, error)
	Pace  Pace
	Clock clock.Clock // default clock.Real{}
	// StallTimeout: no frame for this long is a fault (default 3s).
	StallTimeout time.Duration
	// BackoffMin/Max bound the re-open backoff, doubled per failure
	// (defaults 250ms and 8s).
	BackoffMin, BackoffMax time.Duration
	// OnFault is called (from the camera's goroutine, must not block) when
	// the camera enters the fault state; OnBack when it delivers again.
	OnFault func(err error)
	OnBack  func()
}

// Camera runs one source in its own goroutine and keeps only its latest
// frame. Next, Preview and PreviewSize are safe for concurrent use.
type Camera struct {
	o   Options
	clk clock.Clock

	mu      sync.RWMutex
	latest  gocv.Mat // owned; swapped with the reader's scratch Mat
	info    Info
	notify  chan struct{} // closed and replaced on every state change
	taken   uint64        // lockstep: last seq a consumer took
	faulted bool
	lastErr error
	eof     bool
	closed  bool
	stats   Stats
	lastAt  time.Time // wall time of the last frame (stall watchdog)
	epoch   uint64    // opens so far
	restart bool      // Restart asked the reader to re-open the source

	pmu      sync.Mutex // preview buffers
	pSmall   gocv.Mat
	pRGBA    gocv.Mat
	cancel   context.CancelFunc
	done     chan struct{}
	watchDog chan struct{}
}

// New starts a camera. Close it to stop its goroutines and free its Mats.
func New(o Options) (*Camera, error) {
	if o.Open == nil {
		return nil, errors.New("camera: Options.Open is required")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 3 * time.Second
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 250 * time.Millisecond
	}
	if o.BackoffMax < o.BackoffMin {
		o.BackoffMax = max(8*time.Second, o.BackoffMin)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Camera{
		o: o, clk: o.Clock, latest: gocv.NewMat(), notify: make(chan struct{}),
		pSmall: gocv.NewMat(), pRGBA: gocv.NewMat(),
		cancel: cancel, done: make(chan struct{}), watchDog: make(chan struct{}),
	}
	go c.run(ctx)
	go c.watch(ctx)
	return c, nil
}

// Close stops the camera, closes its source and frees its buffers.
func (c *Camera) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.wakeLocked()
	c.mu.Unlock()
	c.cancel()
	<-c.done
	<-c.watchDog
	c.pmu.Lock()
	defer c.pmu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.latest.Close()
	c.pSmall.Close()
	c.pRGBA.Close()
	return nil
}

// wakeLocked wakes every waiter; c.mu must be held.
func (c *Camera) wakeLocked() {
	close(c.notify)
	c.notify = make(chan struct{})
}

// OK reports whether the camera is delivering (not in a fault state).
func (c *Camera) OK() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return !c.faulted && !c.closed
}

// Stats returns the counters.
func (c *Camera) Stats() Stats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.stats
}

// Next waits for a frame newer than after, copies it into dst (which the
// caller owns) and returns its Info. It returns ErrFault (wrapping the
// cause) while the camera is faulted, io.EOF after the end of a
// non-looping recording, ErrClosed after Close, or ctx's error.
func (c *Camera) Next(ctx context.Context, after uint64, dst *gocv.Mat) (Info, error) {
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return Info{}, ErrClosed
		case c.info.Seq > after:
			c.latest.CopyTo(dst)
			in := c.info
			if c.taken < in.Seq {
				c.taken = in.Seq
				c.wakeLocked()
			}
			c.mu.Unlock()
			return in, nil
		case c.eof:
			c.mu.Unlock()
			return Info{}, io.EOF
		case c.faulted:
			err := c.lastErr
			c.mu.Unlock()
			return Info{}, fmt.Errorf("%w: %v", ErrFault, err)
		}
		ch := c.notify
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Info{}, ctx.Err()
		}
	}
}

// PreviewSize is the size of the frames the source delivers (its native
// aspect); zero before the first frame.
func (c *Camera) PreviewSize() image.Point {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.info.Size
}

// Preview copies the latest frame, resized to dst's size, into dst.Pix as
// RGBA and returns its sequence number; ok is false when there is no frame
// yet or dst is empty. Its buffers are reused between calls; it does not
// count as consuming a frame (lockstep pacing ignores it).
func (c *Camera) Preview(dst *image.RGBA) (seq uint64, ok bool) {
	sz := dst.Bounds().Size()
	if sz.X <= 0 || sz.Y <= 0 {
		return 0, false
	}
	c.pmu.Lock()
	defer c.pmu.Unlock()
	c.mu.RLock()
	if c.closed || c.info.Seq == 0 || c.latest.Empty() {
		c.mu.RUnlock()
		return 0, false
	}
	seq = c.info.Seq
	gocv.Resize(c.latest, &c.pSmall, sz, 0, 0, gocv.InterpolationLinear)
	c.mu.RUnlock()
	gocv.CvtColor(c.pSmall, &c.pRGBA, gocv.ColorBGRToRGBA)
	src, err := c.pRGBA.DataPtrUint8()
	if err != nil {
		return 0, false
	}
	row := sz.X * 4
	for y := 0; y < sz.Y; y++ {
		copy(dst.Pix[y*dst.Stride:y*dst.Stride+row], src[y*row:(y+1)*row])
	}
	return seq, true
}

func (c *Camera) run(ctx context.Context) {
	defer close(c.done)
	scratch := gocv.NewMat()
	defer scratch.Close()
	backoff := c.o.BackoffMin
	opened := 0
	var base time.Time // lockstep: wall time of the first frame
	var basePos time.Duration
	for ctx.Err() == nil {
		src, err := c.o.Open()
		if err != nil {
			c.fault(err)
			if clock.Sleep(ctx, c.clk, backoff) != nil {
				return
			}
			backoff = min(backoff*2, c.o.BackoffMax)
			continue
		}
		opened++
		c.mu.Lock()
		if opened > 1 {
			c.stats.Reopens++
		}
		c.epoch++
		epoch := c.epoch
		c.restart = false
		c.mu.Unlock()
		var wallStart time.Time
		var posStart time.Duration
		first := true
		err = func() error {
			defer src.Close()
			for ctx.Err() == nil {
				if c.o.Pace == PaceLockstep && !src.Live() {
					if !c.waitTaken(ctx) {
						return nil
					}
				}
				c.mu.Lock()
				restart := c.restart
				c.mu.Unlock()
				if restart {
					return errRestart
				}
				pos, err := src.Read(&scratch)
				if errors.Is(err, ErrCorrupt) {
					c.mu.Lock()
					c.stats.Corrupt++
					c.mu.Unlock()
					continue
				}
				if err != nil {
					return err
				}
				now := c.clk.Now()
				t := now
				if !src.Live() {
					switch c.o.Pace {
					case PaceRealtime:
						if first {
							wallStart, posStart = now, pos
						} else if wait := wallStart.Add(pos - posStart).Sub(now); wait > 0 {
							if clock.Sleep(ctx, c.clk, wait) != nil {
								return nil
							}
							t = c.clk.Now()
						}
					case PaceLockstep:
						if base.IsZero() {
							base, basePos = now, pos
						}
						t = base.Add(pos - basePos)
					}
				}
				first = false
				c.publish(&scratch, Info{Epoch: epoch, Time: t, Pos: pos, Size: image.Pt(scratch.Cols(), scratch.Rows())})
				backoff = c.o.BackoffMin
			}
			return nil
		}()
		if errors.Is(err, errRestart) {
			base = time.Time{}
			continue
		}
		if errors.Is(err, io.EOF) {
			c.mu.Lock()
			c.eof = true
			c.wakeLocked()
			c.mu.Unlock()
			// The end of a recording: wait for Restart or Close.
			if !c.waitRestart(ctx) {
				return
			}
			base = time.Time{}
			continue
		}
		if err != nil {
			c.fault(err)
			if clock.Sleep(ctx, c.clk, backoff) != nil {
				return
			}
			backoff = min(backoff*2, c.o.BackoffMax)
		}
	}
}

var errRestart = errors.New("camera: restart")

// Restart re-opens the source (a recording starts again from its first
// frame) and returns the epoch whose frames come from the new opening;
// frames of earlier epochs may still be delivered once and should be
// skipped by a caller that needs the start.
func (c *Camera) Restart() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.restart = true
	c.eof = false
	c.wakeLocked()
	return c.epoch + 1
}

func (c *Camera) waitRestart(ctx context.Context) bool {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return false
		}
		if c.restart {
			c.mu.Unlock()
			return true
		}
		ch := c.notify
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

// waitTaken blocks until the consumer took the last published frame.
func (c *Camera) waitTaken(ctx context.Context) bool {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return false
		}
		if c.taken >= c.info.Seq || c.restart {
			c.lastAt = c.clk.Now() // waiting on the consumer is not a stall
			c.mu.Unlock()
			return true
		}
		ch := c.notify
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}

func (c *Camera) publish(m *gocv.Mat, in Info) {
	c.mu.Lock()
	c.latest, *m = *m, c.latest
	c.stats.Frames++
	in.Seq = c.info.Seq + 1
	c.info = in
	c.lastAt = c.clk.Now()
	wasFaulted := c.faulted
	c.faulted = false
	c.lastErr = nil
	c.wakeLocked()
	c.mu.Unlock()
	if wasFaulted && c.o.OnBack != nil {
		c.o.OnBack()
	}
}

func (c *Camera) fault(err error) {
	c.mu.Lock()
	was := c.faulted
	c.faulted = true
	c.lastErr = err
	if !was {
		c.stats.Faults++
	}
	c.wakeLocked()
	c.mu.Unlock()
	if !was && c.o.OnFault != nil {
		c.o.OnFault(err)
	}
}

// watch declares a fault when a source that has delivered stops for longer
// than StallTimeout (a device whose read hangs after an unplug).
func (c *Camera) watch(ctx context.Context) {
	defer close(c.watchDog)
	period := c.o.StallTimeout / 2
	for clock.Sleep(ctx, c.clk, period) == nil {
		c.mu.RLock()
		stalled := !c.faulted && !c.eof && !c.lastAt.IsZero() && c.clk.Now().Sub(c.lastAt) > c.o.StallTimeout &&
			(c.o.Pace != PaceLockstep || c.taken >= c.info.Seq)
		c.mu.RUnlock()
		if stalled {
			c.fault(fmt.Errorf("camera: no frame for %v: %w", c.o.StallTimeout, ErrNoFrame))
		}
	}
}
