package font

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps a font file read-only instead of reading it into the heap:
// a CJK face is 16 MB, of which the UI touches the tables and the glyphs it
// draws. Mapped, those pages are the page cache's, shared with other
// readers and reclaimable, and the untouched rest costs no memory at all.
// The returned bytes must never be written to (the mapping is read-only: a
// write faults). The mapping lives as long as the process; the file may be
// replaced meanwhile (the mapping keeps the old file).
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
