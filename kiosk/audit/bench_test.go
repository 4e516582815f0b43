package audit_test

import (
	"os"
	"path/filepath"
	"testing"

	"eidkiosk/kiosk/audit"
)

// BenchmarkAppend: one entry on disk (flock, write, fsync; a checkpoint
// signed every 20 entries) beside its floor, the same line appended and
// fsynced with nothing else (baseline). Run:
//
//	go test -run '^$' -bench Append -benchtime 200x ./kiosk/audit/
func BenchmarkAppend(b *testing.B) {
	b.Run("audit", func(b *testing.B) {
		l, err := audit.Open(audit.Options{Dir: b.TempDir(), Signer: newKey(b)})
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		for b.Loop() {
			if err := l.Record(audit.EventVisitEnded, "outcome", "completed"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-write-fsync", func(b *testing.B) {
		f, err := os.OpenFile(filepath.Join(b.TempDir(), "plain.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		line := []byte(`{"seq":1,"time":"2026-12-02T09:00:00Z","event":"visit.ended","fields":{"outcome":"completed"},"prev":"0591370ce02b1cd638f68daf394156214185f7660bf5e28de3f6dde983370856","hash":"0591370ce02b1cd638f68daf394156214185f7660bf5e28de3f6dde983370856"}` + "\n")
		for b.Loop() {
			if _, err := f.Write(line); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
