package font

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps a font file read-only instead of reading it into the heap.
// A CJK face is 16 MB; mapped, its pages are clean page cache: counted in
// the kiosk's RSS once touched (Fyne's parser touches the whole face), but
// shared with other readers and reclaimable under memory pressure, where a
// heap copy is anonymous memory for good (BenchmarkFootprint in cmd/kiosk:
// Go heap in use 110 → 78 MiB, RSS unchanged). The returned bytes must
// never be written to (the mapping is read-only: a write faults). The
// mapping lives as long as the process; the file may be replaced meanwhile
// (the mapping keeps the old file).
func mapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 || st.Size() > 1<<30 {
		return nil, fmt.Errorf("%w: %s: %d bytes", ErrFormat, path, st.Size())
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("font: map %s: %w", path, err)
	}
	return b, nil
}
