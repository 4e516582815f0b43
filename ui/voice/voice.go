// Package voice speaks the UI's prompts through espeak-ng (Debian package
// espeak-ng: the Mandarin voice "cmn" and the English voice "en"), one
// utterance at a time: a new prompt cuts the current one short, so the voice
// always says what the screen shows.
//
// Say never blocks; the speech runs on the speaker's own goroutine. The
// package does not choose what to say (the UI does) and does not mix audio
// with anything else. See https://github.com/espeak-ng/espeak-ng/blob/master/src/espeak-ng.1.ronn
// for the command line used.
package voice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
)

// Runner runs one speech command to completion with text on its standard
// input; it returns when the command ends or ctx is cancelled.
type Runner interface {
	Run(ctx context.Context, name string, args []string, stdin string) error
}

// Exec runs commands with os/exec.
type Exec struct{}

// Run implements Runner.
func (Exec) Run(ctx context.Context, name string, args []string, stdin string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil && ctx.Err() == nil {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return fmt.Errorf("voice: %s: %w: %s", name, err, msg)
	}
	return nil
}

// Voices maps a UI language to an espeak-ng voice.
var Voices = map[string]string{"zh-CN": "cmn", "en": "en"}

// Options configures a Speaker.
type Options struct {
	Enabled bool
	Runner  Runner // nil: Exec
	Binary  string // "": "espeak-ng"
	Speed   int    // words per minute; 0: 140 (slower than espeak's 175, for elderly listeners)
	Logger  *slog.Logger
}

// Speaker speaks prompts, the latest one wins.
type Speaker struct {
	o    Options
	log  *slog.Logger
	wake chan struct{}

	mu      sync.Mutex
	enabled bool
	pending *utterance
	cancel  context.CancelFunc // of the utterance being spoken
	closed  bool
	failed  bool // an error was logged already
	done    chan struct{}
}

type utterance struct{ lang, text string }

// New starts a speaker; Close stops it.
func New(o Options) *Speaker {
	if o.Runner == nil {
		o.Runner = Exec{}
	}
	if o.Binary == "" {
		o.Binary = "espeak-ng"
	}
	if o.Speed == 0 {
		o.Speed = 140
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Speaker{o: o, log: o.Logger.With("component", "voice"), wake: make(chan struct{}, 1),
		enabled: o.Enabled, done: make(chan struct{})}
	go s.loop()
	return s
}

// Args returns the espeak-ng arguments for speaking in lang (text on stdin).
func (s *Speaker) Args(lang string) []string {
	v, ok := Voices[lang]
	if !ok {
		v = Voices["en"]
	}
	return []string{"-v", v, "-s", fmt.Sprint(s.o.Speed), "--stdin"}
}

// Say speaks text in lang, cutting short whatever is being said. It returns
// at once; with the voice switched off it does nothing.
func (s *Speaker) Say(lang, text string) {
	text = strings.TrimSpace(text)
	s.mu.Lock()
	if !s.enabled || s.closed || text == "" {
		s.mu.Unlock()
		return
	}
	s.pending = &utterance{lang, text}
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Stop cuts the current prompt short and drops any pending one.
func (s *Speaker) Stop() {
	s.mu.Lock()
	s.pending = nil
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
}

// SetEnabled switches the voice on or off; off also stops the current prompt.
func (s *Speaker) SetEnabled(on bool) {
	s.mu.Lock()
	s.enabled = on
	s.mu.Unlock()
	if !on {
		s.Stop()
	}
}

// Enabled reports whether the voice is on.
func (s *Speaker) Enabled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enabled
}

// Close stops the speaker and waits for its goroutine.
func (s *Speaker) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return
	}
	s.closed = true
	s.pending = nil
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	close(s.wake)
	<-s.done
}

func (s *Speaker) loop() {
	defer close(s.done)
	for range s.wake {
		for {
			s.mu.Lock()
			u := s.pending
			s.pending = nil
			if u == nil || s.closed {
				s.mu.Unlock()
				break
			}
			ctx, cancel := context.WithCancel(context.Background())
			s.cancel = cancel
			s.mu.Unlock()
			err := s.o.Runner.Run(ctx, s.o.Binary, s.Args(u.lang), u.text)
			cancel()
			s.mu.Lock()
			s.cancel = nil
			logIt := err != nil && !s.failed
			if err != nil {
				s.failed = true
			}
			s.mu.Unlock()
			if logIt {
				// Logged once: a kiosk without a sound card must not flood the log.
				// The prompt text is never logged (it may be long, never personal).
				s.log.Warn("speech failed; prompts stay silent until it works", "err", err)
			}
		}
	}
}

// WriteWAV renders text in lang to a WAV file with espeak-ng -w (for checks
// without a sound card).
func WriteWAV(ctx context.Context, binary, lang, path, text string) error {
	if binary == "" {
		binary = "espeak-ng"
	}
	v, ok := Voices[lang]
	if !ok {
		return errors.New("voice: no voice for language " + lang)
	}
	return Exec{}.Run(ctx, binary, []string{"-v", v, "-w", path, "--stdin"}, text)
}
