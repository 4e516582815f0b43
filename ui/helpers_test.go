package ui

import (
	"sync"
	"testing"

	"eidkiosk/ui/font"
)

var (
	facesOnce sync.Once
	faces     font.Faces
	facesErr  error
)

// testFaces prepares the real SC font once per test binary.
func testFaces(t testing.TB) font.Faces {
	facesOnce.Do(func() { faces, facesErr = font.Prepare(font.Options{}) })
	if facesErr != nil {
		t.Skipf("no SC font: %v", facesErr)
	}
	return faces
}

// fakeVoice records what would be spoken.
type fakeVoice struct {
	mu   sync.Mutex
	said []string // "lang|text"
}

func (v *fakeVoice) Say(lang, text string) {
	v.mu.Lock()
	v.said = append(v.said, lang+"|"+text)
	v.mu.Unlock()
}

func (v *fakeVoice) Stop() {}

func (v *fakeVoice) take() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.said
	v.said = nil
	return s
}
