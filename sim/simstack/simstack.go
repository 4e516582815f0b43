// Package simstack runs a kiosk's surroundings on one machine: the reference
// authority on loopback with its embedded store, a provisioned state
// directory (a real one-time token, a real CSR, a real device certificate),
// the simulated card reader on a pseudo-terminal, simulated GPIO pins, and a
// real webcam recording as the camera. `kioskctl sim kiosk`, `kioskctl demo`
// and the integration tests use it (never the kiosk binary); every part it
// starts is the real one except the hardware.
//
// It is not for production: the authority it starts keeps its keys in a
// directory beside the kiosk's.
package simstack

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"image/jpeg"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"eidkiosk/authority/service"
	"eidkiosk/drivers/idcard"
	"eidkiosk/drivers/idcard/sim"
	"eidkiosk/kiosk/app"
	"eidkiosk/kiosk/config"
	"eidkiosk/provisioning"
)

//go:embed media/webcam-man.mp4
var webcamVideo []byte

// referencePhoto is the photo the demo's ministry holds of its citizen: the
// man of the webcam recording (media/LICENSE.md).
//
//go:embed media/reference-webcam-man.jpg
var referencePhoto []byte

// importReference registers the reference photos of the demo's ministry at
// the authority the way an operator does: a folder of NUMBER.jpg files and
// `authority photos import`. The demo citizen's is the man of the webcam
// recording; sim.DemoReviewCard's holder's is another person (the stranger
// card's test photo, re-encoded), so that only the authority's face check
// flags that card's enrollment.
func (s *Stack) importReference(ctx context.Context) error {
	dir := filepath.Join(s.Dir, "reference-photos")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("simstack: %w", err)
	}
	deck := sim.DefaultDeck()
	other, err := sim.ContainerDecoder{}.DecodePhoto(ctx, deck[sim.DemoStrangerCard].Photo)
	if err != nil {
		return fmt.Errorf("simstack: the other person's photo: %w", err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, other, &jpeg.Options{Quality: 95}); err != nil {
		return fmt.Errorf("simstack: %w", err)
	}
	for card, photo := range map[int][]byte{sim.DemoCitizenCard: referencePhoto, sim.DemoReviewCard: buf.Bytes()} {
		number := deck[card].Number.Reveal()
		if err := os.WriteFile(filepath.Join(dir, number+".jpg"), photo, 0o600); err != nil {
			return fmt.Errorf("simstack: %w", err)
		}
	}
	res, err := s.Authority.Intake.ImportPhotos(ctx, dir, nil)
	if err != nil {
		return err
	}
	if res.Stored != 2 {
		return fmt.Errorf("simstack: reference photos refused: %v", res.Refused)
	}
	return nil
}

// Station is the simulated station.
const (
	Station     = "DEMO-001"
	StationName = "南沙区公安分局 户政大厅（演示）"
)

// Options shape a stack.
type Options struct {
	Dir      string       // everything lives here (authority/, kiosk/, media)
	Log      *slog.Logger // nil: discard
	Progress func(step string)
	// NoProvision leaves the kiosk unprovisioned.
	NoProvision bool
}

// Stack is a running simulated environment.
type Stack struct {
	Dir          string
	Authority    *service.Service
	AuthorityURL string
	Reader       *sim.Sim
	Video        string
	Pins         app.Pins
	Presence     *Switch
	Tamper       *Switch
	Outputs      map[string]*gpiotest.Pin
	// PhotoDecoder decodes the deck's test photos (sim.ContainerDecoder):
	// give it to the kiosk (app.Options.PhotoDecoder) in place of a
	// licensed WLT decoder, so that visits compare the face with the card.
	PhotoDecoder idcard.PhotoDecoder

	cancel context.CancelFunc
	done   chan error
}

// Start brings the stack up; Close takes it down.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	step := o.Progress
	if step == nil {
		step = func(string) {}
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("simstack: %w", err)
	}
	s := &Stack{Dir: o.Dir, done: make(chan error, 1), PhotoDecoder: sim.ContainerDecoder{}}

	step("authority: opening its store and PKI")
	svc, err := service.Open(ctx, service.Config{DataDir: filepath.Join(o.Dir, "authority"), Logger: o.Log})
	if err != nil {
		return nil, err
	}
	s.Authority = svc
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		svc.Close()
		return nil, fmt.Errorf("simstack: listen: %w", err)
	}
	s.AuthorityURL = "https://" + ln.Addr().String()
	sctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { s.done <- svc.Serve(sctx, ln) }()
	step("authority: serving on " + s.AuthorityURL)
	if err := s.importReference(ctx); err != nil {
		s.Close()
		return nil, err
	}
	step("authority: the ministry's reference photo of the demo citizen imported (authority photos import)")

	kioskState := filepath.Join(o.Dir, "kiosk")
	if !o.NoProvision {
		if _, err := provisioning.LoadIdentity(kioskState); errors.Is(err, provisioning.ErrNotProvisioned) {
			tok, err := svc.Registry.CreateToken(ctx, Station, StationName, time.Hour, "simstack")
			if err != nil {
				s.Close()
				return nil, err
			}
			step("authority: one-time token created for " + Station)
			id, _, err := provisioning.Provision(ctx, provisioning.ProvisionOptions{
				AuthorityURL: s.AuthorityURL, Token: tok.Value, StateDir: kioskState,
				CAFingerprint: svc.PKI.RootFingerprint(), Key: provisioning.KeyFile,
				Serial: "SIM-0001", Software: app.Version, Progress: step, Log: o.Log,
			})
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("simstack: provision: %w", err)
			}
			id.Close()
		} else if err != nil {
			s.Close()
			return nil, err
		}
	}

	step("reader: starting the simulated GA 467 reader on a pseudo-terminal")
	r, err := sim.Start(sim.Options{Link: filepath.Join(o.Dir, "idcard"), Throttle: true})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.Reader = r

	s.Video = filepath.Join(o.Dir, "webcam-man.mp4")
	if err := os.WriteFile(s.Video, webcamVideo, 0o600); err != nil {
		s.Close()
		return nil, fmt.Errorf("simstack: %w", err)
	}

	s.Outputs = map[string]*gpiotest.Pin{}
	out := func(key, name string) *app.Out {
		p := &gpiotest.Pin{N: name, L: gpio.Low}
		s.Outputs[key] = p
		return &app.Out{Key: key, Pin: p}
	}
	s.Presence = newSwitch("GPIO23", gpio.Low) // nobody in front of the kiosk
	s.Tamper = newSwitch("GPIO24", gpio.Low)   // enclosure closed: the switch holds the line low
	s.Pins = app.Pins{
		Green: out("led_green", "GPIO17"), Amber: out("led_amber", "GPIO27"), Red: out("led_red", "GPIO22"),
		Buzzer: out("buzzer", "GPIO18"), IR: out("ir_light", "GPIO25"),
		Presence: &app.In{Key: "presence", Pin: s.Presence},
		Tamper:   &app.In{Key: "tamper", Pin: s.Tamper},
	}
	return s, nil
}

// Config returns the kiosk configuration for this stack, over base: its
// state directory, authority, reader and camera, with the face settings for
// the 400×300 webcam recording, and no updates.
func (s *Stack) Config(base config.Config) config.Config {
	c := base
	c.State.Dir = filepath.Join(s.Dir, "kiosk")
	c.Authority.URL = s.AuthorityURL
	c.Reader.Port = s.Reader.Path()
	c.Camera.Source = "file:" + s.Video
	// The recording is delivered frame by frame as fast as the pipeline
	// takes it, and rewound at each capture (docs/face.md).
	c.Camera.Pace = "lockstep"
	c.Camera.Loop = true
	c.Face.Preset = "demo"
	c.Update.Enabled = false
	c.UI.Fullscreen = false
	c.Metrics.Addr = "127.0.0.1:0"
	return c
}

// Close stops everything the stack started.
func (s *Stack) Close() error {
	var errs []error
	if s.Reader != nil {
		errs = append(errs, s.Reader.Close())
	}
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	if s.Authority != nil {
		errs = append(errs, s.Authority.Close())
	}
	return errors.Join(errs...)
}

// Switch is a simulated input wired to a physical switch: unlike a bare
// gpiotest.Pin, setting a pull does not move the line, the switch does.
type Switch struct {
	*gpiotest.Pin
	level gpio.Level
}

func newSwitch(name string, l gpio.Level) *Switch {
	return &Switch{Pin: &gpiotest.Pin{N: name, L: l, EdgesChan: make(chan gpio.Level, 16)}, level: l}
}

// In sets the pull and edge detection; the line stays where the switch holds it.
func (p *Switch) In(pull gpio.Pull, edge gpio.Edge) error {
	err := p.Pin.In(pull, edge)
	p.Pin.Lock()
	p.Pin.L = p.level
	p.Pin.Unlock()
	return err
}

// Set moves the switch to level l and raises an edge.
func (p *Switch) Set(l gpio.Level) {
	p.Pin.Lock()
	p.level = l
	p.Pin.L = l
	p.Pin.Unlock()
	select {
	case p.EdgesChan <- l:
	default:
	}
}
