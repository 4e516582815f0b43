package voice

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeRunner records calls; each call blocks until ctx ends or release.
type fakeRunner struct {
	mu      sync.Mutex
	calls   []call
	started chan struct{}
	release chan struct{}
}

type call struct {
	name, stdin string
	args        []string
	canceled    bool
}

func newFake() *fakeRunner {
	return &fakeRunner{started: make(chan struct{}, 16), release: make(chan struct{}, 16)}
}

func (f *fakeRunner) Run(ctx context.Context, name string, args []string, stdin string) error {
	f.mu.Lock()
	f.calls = append(f.calls, call{name: name, args: args, stdin: stdin})
	i := len(f.calls) - 1
	f.mu.Unlock()
	f.started <- struct{}{}
	select {
	case <-ctx.Done():
		f.mu.Lock()
		f.calls[i].canceled = true
		f.mu.Unlock()
	case <-f.release:
	}
	return nil
}

func (f *fakeRunner) snapshot() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func wait(t *testing.T, c chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(5 * time.Second):
		t.Fatal("runner not started")
	}
}

func TestLatestPromptWins(t *testing.T) {
	f := newFake()
	s := New(Options{Enabled: true, Runner: f})
	defer s.Close()
	s.Say("zh-CN", "请放置身份证")
	wait(t, f.started)
	// A new prompt cuts the first short.
	s.Say("en", "Place your ID card")
	wait(t, f.started)
	f.release <- struct{}{}
	calls := f.snapshot()
	if len(calls) != 2 {
		t.Fatalf("%d calls", len(calls))
	}
	if !calls[0].canceled || calls[0].stdin != "请放置身份证" || calls[0].args[1] != "cmn" {
		t.Errorf("first call %+v", calls[0])
	}
	if calls[1].stdin != "Place your ID card" || calls[1].args[1] != "en" || calls[1].name != "espeak-ng" {
		t.Errorf("second call %+v", calls[1])
	}
}

func TestSwitchedOffSaysNothing(t *testing.T) {
	f := newFake()
	s := New(Options{Enabled: false, Runner: f})
	s.Say("en", "hello")
	s.SetEnabled(true)
	s.Say("en", "")
	s.Close()
	if n := len(f.snapshot()); n != 0 {
		t.Fatalf("%d calls with the voice off or empty text", n)
	}
	// Say after Close neither blocks nor panics.
	s.Say("en", "late")
}

func TestSetEnabledOffStopsSpeech(t *testing.T) {
	f := newFake()
	s := New(Options{Enabled: true, Runner: f})
	defer s.Close()
	s.Say("en", "a long prompt")
	wait(t, f.started)
	s.SetEnabled(false)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if c := f.snapshot(); len(c) == 1 && c[0].canceled {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("switching off did not stop the running prompt")
}

func TestSayNeverBlocks(t *testing.T) {
	f := newFake()
	s := New(Options{Enabled: true, Runner: f})
	defer s.Close()
	done := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			s.Say("en", "prompt")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Say blocked")
	}
}

// TestRealESpeakWAV renders both languages with the real espeak-ng.
func TestRealESpeakWAV(t *testing.T) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Skip("espeak-ng not installed (Debian package espeak-ng)")
	}
	for lang, text := range map[string]string{"zh-CN": "请将身份证放在读卡区", "en": "Place your ID card on the reader"} {
		p := filepath.Join(t.TempDir(), "p.wav")
		if err := WriteWAV(context.Background(), "", lang, p, text); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 44 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
			t.Fatalf("%s: not a WAV file (%d bytes)", lang, len(b))
		}
		rate := binary.LittleEndian.Uint32(b[24:28])
		// At least half a second of audio: the voice really spoke.
		if data := len(b) - 44; rate == 0 || data < int(rate) {
			t.Errorf("%s: %d bytes of audio at %d Hz", lang, data, rate)
		}
	}
	if err := WriteWAV(context.Background(), "", "fr", "x", "y"); err == nil {
		t.Error("unknown language accepted")
	}
}
