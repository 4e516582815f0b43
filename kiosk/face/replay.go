package face

import (
	"hash/maphash"

	"gocv.io/x/gocv"

	"eidkiosk/kiosk/face/measure"
)

// hashFrame marks bit-identical frames: the same as the previous one
// (frozen) or as an earlier one in the window (a replayed loop).
func (a *Analyzer) hashFrame(bgr gocv.Mat, f *measure.Frame) {
	b, err := bgr.DataPtrUint8()
	if err != nil {
		return
	}
	h := maphash.Bytes(a.seed, b)
	if a.n > 0 && h == a.prevHash {
		f.Identical = true
	} else if _, seen := a.hashes[h]; seen {
		f.Repeat = true
	}
	if h != a.prevHash {
		a.hashes[h] = a.n
		a.ring = append(a.ring, h)
		if len(a.ring) > a.o.RepeatWindow {
			old := a.ring[0]
			a.ring = a.ring[1:]
			if a.hashes[old] <= a.n-a.o.RepeatWindow {
				delete(a.hashes, old)
			}
		}
	}
	a.prevHash = h
	a.n++
}
