package camera

import (
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gocv.io/x/gocv"
)

// Source is one opened frame source. Read blocks until the next frame is
// decoded into dst (BGR, 8 bits per channel) and returns its position in the
// source's own time line (zero for a live device). It returns io.EOF at the
// end of a non-looping file or folder and ErrNoFrame when a device delivers
// nothing. A Source is used by one goroutine.
type Source interface {
	Read(dst *gocv.Mat) (pos time.Duration, err error)
	// Size is the frame size the source delivers (known after the first
	// frame for some back-ends; zero until then).
	Size() image.Point
	// Live reports whether the source is a real-time device (true) or a
	// recording that can be paced (false).
	Live() bool
	Close() error
	String() string
}

// Sentinel errors.
var (
	// ErrNoFrame: the device opened but delivered no frame.
	ErrNoFrame = errors.New("camera: no frame from the device")
	// ErrFault is returned by Camera.Next while the camera is in a fault
	// state (it is being re-opened).
	ErrFault = errors.New("camera: camera fault")
	// ErrClosed: the Camera was closed.
	ErrClosed = errors.New("camera: closed")
	// ErrCorrupt wraps an image of a folder source that cannot be decoded.
	ErrCorrupt = errors.New("camera: corrupt image")
)

// SourceOptions configures Open.
type SourceOptions struct {
	Width, Height int     // requested device resolution; 0 keeps the default
	FPS           float64 // requested device frame rate; for a folder, the rate its images stand for (default 25)
	MJPG          bool    // ask a device for MJPG (most USB cameras reach 720p/30 only with it)
	Loop          bool    // start a file or folder again at its end instead of io.EOF
}

// Open opens a source from a spec: "/dev/videoN" or a device index ("0") for
// a V4L2 device, "file:PATH" for a video file, "dir:PATH" for a folder of
// images (.jpg, .jpeg, .png, .bmp, read in name order).
func Open(spec string, o SourceOptions) (Source, error) {
	switch {
	case strings.HasPrefix(spec, "file:"):
		return OpenFile(strings.TrimPrefix(spec, "file:"), o.Loop)
	case strings.HasPrefix(spec, "dir:"):
		return OpenDir(strings.TrimPrefix(spec, "dir:"), o.FPS, o.Loop)
	case strings.HasPrefix(spec, "/dev/video"):
		return OpenDevice(spec, o)
	default:
		if _, err := strconv.Atoi(spec); err == nil {
			return OpenDevice(spec, o)
		}
		return nil, fmt.Errorf("camera: source %q: want /dev/videoN, an index, file:PATH or dir:PATH", spec)
	}
}

// ---- V4L2 device ----

type device struct {
	name string
	vc   *gocv.VideoCapture
	size image.Point
}

// OpenDevice opens a V4L2 device by path (/dev/video0) or index ("0") and
// asks for the resolution, frame rate and MJPG of o. The device may choose a
// different mode; Size reports what it delivers.
func OpenDevice(name string, o SourceOptions) (Source, error) {
	var arg any = name
	if strings.HasPrefix(name, "/dev/video") {
		if _, err := os.Stat(name); err != nil {
			return nil, fmt.Errorf("camera: %w", err)
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(name, "/dev/video")); err == nil {
			arg = n
		}
	} else if n, err := strconv.Atoi(name); err == nil {
		arg = n
	}
	vc, err := gocv.OpenVideoCaptureWithAPI(arg, gocv.VideoCaptureV4L2)
	if err != nil || !vc.IsOpened() {
		if vc != nil {
			vc.Close()
		}
		return nil, fmt.Errorf("camera: open device %s: not available", name)
	}
	if o.MJPG {
		vc.Set(gocv.VideoCaptureFOURCC, vc.ToCodec("MJPG"))
	}
	if o.Width > 0 && o.Height > 0 {
		vc.Set(gocv.VideoCaptureFrameWidth, float64(o.Width))
		vc.Set(gocv.VideoCaptureFrameHeight, float64(o.Height))
	}
	if o.FPS > 0 {
		vc.Set(gocv.VideoCaptureFPS, o.FPS)
	}
	// One buffered frame: the driver hands out the newest, not a queue.
	vc.Set(gocv.VideoCaptureBufferSize, 1)
	d := &device{name: name, vc: vc}
	d.size = image.Pt(int(vc.Get(gocv.VideoCaptureFrameWidth)), int(vc.Get(gocv.VideoCaptureFrameHeight)))
	return d, nil
}

func (d *device) Read(dst *gocv.Mat) (time.Duration, error) {
	if !d.vc.Read(dst) || dst.Empty() {
		return 0, fmt.Errorf("camera: device %s: %w", d.name, ErrNoFrame)
	}
	d.size = image.Pt(dst.Cols(), dst.Rows())
	return 0, nil
}
func (d *device) Size() image.Point { return d.size }
func (d *device) Live() bool        { return true }
func (d *device) Close() error      { return d.vc.Close() }
func (d *device) String() string    { return "device " + d.name }

// ---- video file ----

type file struct {
	path   string
	vc     *gocv.VideoCapture
	loop   bool
	fps    float64
	n      int           // frames read in this pass
	offset time.Duration // time line offset added at each loop
	last   time.Duration
	size   image.Point
}

// OpenFile opens a video file through OpenCV's FFmpeg back-end. With loop,
// the file starts again at its end and the time line continues.
func OpenFile(path string, loop bool) (Source, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("camera: %w", err)
	}
	f := &file{path: path, loop: loop}
	if err := f.open(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *file) open() error {
	vc, err := gocv.VideoCaptureFile(f.path)
	if err != nil || !vc.IsOpened() {
		if vc != nil {
			vc.Close()
		}
		return fmt.Errorf("camera: open video %s: not a readable video", filepath.Base(f.path))
	}
	f.vc = vc
	f.fps = vc.Get(gocv.VideoCaptureFPS)
	if f.fps <= 0 || f.fps > 1000 {
		f.fps = 25
	}
	f.size = image.Pt(int(vc.Get(gocv.VideoCaptureFrameWidth)), int(vc.Get(gocv.VideoCaptureFrameHeight)))
	f.n = 0
	return nil
}

func (f *file) Read(dst *gocv.Mat) (time.Duration, error) {
	for attempt := 0; attempt < 2; attempt++ {
		if f.vc.Read(dst) && !dst.Empty() {
			pos := f.offset + time.Duration(float64(f.n)*float64(time.Second)/f.fps)
			f.n++
			f.last = pos
			return pos, nil
		}
		if !f.loop || f.n == 0 {
			break
		}
		// Re-open rather than seek: seeking H.264 to frame 0 is not exact
		// with every FFmpeg build.
		f.vc.Close()
		f.offset = f.last + time.Duration(float64(time.Second)/f.fps)
		if err := f.open(); err != nil {
			return 0, err
		}
	}
	if f.n == 0 {
		return 0, fmt.Errorf("camera: video %s: no decodable frame", filepath.Base(f.path))
	}
	return 0, io.EOF
}
func (f *file) Size() image.Point { return f.size }
func (f *file) Live() bool        { return false }
func (f *file) Close() error {
	if f.vc != nil {
		return f.vc.Close()
	}
	return nil
}
func (f *file) String() string { return "file " + filepath.Base(f.path) }

// FPS is the file's frame rate (25 when the container does not say).
func (f *file) FPS() float64 { return f.fps }

// ---- folder of images ----

type dir struct {
	path  string
	names []string
	i     int
	loop  bool
	fps   float64
	frame int
	size  image.Point
	nCorr int
}

// OpenDir opens a folder of images (.jpg, .jpeg, .png, .bmp, in name
// order). Each image stands for 1/fps of time (fps ≤ 0: 25). An image that
// cannot be decoded is skipped; Read reports it wrapped in ErrCorrupt so
// the caller can count it, and reads on.
func OpenDir(path string, fps float64, loop bool) (Source, error) {
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("camera: %w", err)
	}
	var names []string
	for _, e := range ents {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png", ".bmp":
			if !e.IsDir() {
				names = append(names, e.Name())
			}
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("camera: folder %s holds no .jpg, .png or .bmp image", filepath.Base(path))
	}
	sort.Strings(names)
	if fps <= 0 {
		fps = 25
	}
	return &dir{path: path, names: names, loop: loop, fps: fps}, nil
}

func (d *dir) Read(dst *gocv.Mat) (time.Duration, error) {
	if d.i >= len(d.names) {
		if !d.loop {
			return 0, io.EOF
		}
		d.i = 0
	}
	name := d.names[d.i]
	d.i++
	pos := time.Duration(float64(d.frame) * float64(time.Second) / d.fps)
	d.frame++
	m := gocv.IMRead(filepath.Join(d.path, name), gocv.IMReadColor)
	defer m.Close()
	if m.Empty() {
		d.nCorr++
		return pos, fmt.Errorf("camera: folder image %d: %w", d.i-1, ErrCorrupt)
	}
	m.CopyTo(dst)
	d.size = image.Pt(m.Cols(), m.Rows())
	return pos, nil
}
func (d *dir) Size() image.Point { return d.size }
func (d *dir) Live() bool        { return false }
func (d *dir) Close() error      { return nil }
func (d *dir) String() string    { return "folder " + filepath.Base(d.path) }
