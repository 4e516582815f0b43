// Package eval scores a presentation-attack-detection run the way
// ISO/IEC 30107-3 (https://www.iso.org/standard/79520.html) reports it:
// APCER per attack species (the share of attack presentations wrongly
// accepted as live), BPCER (the share of bona fide presentations wrongly
// rejected), with the counts behind each figure.
//
// It also reads the labelled evaluation folder: bona-fide/NAME.avi and
// attack/SPECIES/NAME.avi (any video or a folder of images), each with a
// NAME.txt naming the challenges the recording answers and when, one per
// line: "challenge.blink 1.5 4.8" (key, window start and end in seconds
// from the recording's first frame); "#" starts a comment. A recording with
// no lines is judged on the passive checks only.
//
// The package is pure Go: kiosk/face runs the pipeline over the recordings.
// It does not decide what is bona fide: the folder does, and docs/face.md
// says what this set is and is not.
package eval

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"eidkiosk/kiosk/face/liveness"
)

// BonaFide is the species name of bona fide presentations.
const BonaFide = "bona-fide"

// Label is one challenge a recording answers.
type Label struct {
	Challenge string
	From, To  time.Duration
}

// Recording is one labelled presentation.
type Recording struct {
	Path    string // video file or folder of images
	Name    string // relative path, for reports
	Species string // BonaFide or the attack species
	Labels  []Label
}

// BonaFide reports whether r is a bona fide presentation.
func (r Recording) BonaFide() bool { return r.Species == BonaFide }

// Plan is the scripted liveness plan the labels describe.
func (r Recording) Plan() liveness.Plan {
	p := liveness.Plan{Scripted: true, Nonce: []byte("scripted:" + r.Name)}
	for _, l := range r.Labels {
		p.Steps = append(p.Steps, liveness.Step{Challenge: l.Challenge, At: l.From, Window: l.To - l.From})
	}
	return p
}

var videoExt = map[string]bool{".avi": true, ".mp4": true, ".mkv": true, ".webm": true, ".mov": true}

// Scan lists the recordings under dir: dir/bona-fide/* and
// dir/attack/SPECIES/*. Each needs its .txt label file.
func Scan(dir string) ([]Recording, error) {
	var out []Recording
	add := func(sub, species string) error {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		for _, e := range ents {
			name := e.Name()
			ext := strings.ToLower(filepath.Ext(name))
			if !e.IsDir() && !videoExt[ext] {
				continue
			}
			base := strings.TrimSuffix(name, filepath.Ext(name))
			if e.IsDir() {
				base = name
			}
			lp := filepath.Join(dir, sub, base+".txt")
			labels, err := ReadLabels(lp)
			if err != nil {
				return err
			}
			out = append(out, Recording{Path: filepath.Join(dir, sub, name), Name: filepath.Join(sub, name), Species: species, Labels: labels})
		}
		return nil
	}
	if err := add(BonaFide, BonaFide); err != nil {
		return nil, err
	}
	species, err := os.ReadDir(filepath.Join(dir, "attack"))
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	for _, s := range species {
		if s.IsDir() {
			if err := add(filepath.Join("attack", s.Name()), s.Name()); err != nil {
				return nil, err
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ReadLabels reads a label file.
func ReadLabels(path string) ([]Label, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: label file: %w", err)
	}
	defer f.Close()
	ls, err := ParseLabels(f)
	if err != nil {
		return nil, fmt.Errorf("eval: %s: %w", filepath.Base(path), err)
	}
	return ls, nil
}

// ParseLabels parses label lines.
func ParseLabels(r io.Reader) ([]Label, error) {
	var out []Label
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want \"challenge.KEY FROM TO\" (seconds)", n)
		}
		from, err1 := strconv.ParseFloat(f[1], 64)
		to, err2 := strconv.ParseFloat(f[2], 64)
		if err1 != nil || err2 != nil || from < 0 || to <= from {
			return nil, fmt.Errorf("line %d: window %q..%q is not FROM < TO in seconds", n, f[1], f[2])
		}
		known := false
		for _, k := range liveness.All {
			known = known || k == f[0]
		}
		if !known {
			return nil, fmt.Errorf("line %d: unknown challenge %q", n, f[0])
		}
		out = append(out, Label{Challenge: f[0], From: secs(from), To: secs(to)})
	}
	return out, sc.Err()
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// FormatLabels writes labels in the file format.
func FormatLabels(w io.Writer, ls []Label) error {
	for _, l := range ls {
		if _, err := fmt.Fprintf(w, "%s %.2f %.2f\n", l.Challenge, l.From.Seconds(), l.To.Seconds()); err != nil {
			return err
		}
	}
	return nil
}

// Outcome is the pipeline's decision on one recording.
type Outcome struct {
	Recording
	Live   bool
	Failed []string           // failed checks (liveness.Result.Failed)
	Scores map[string]float64 // liveness.Result.Scores
	Frames int
	Err    error // the recording could not be read (counted, never as a pass)
}

// SpeciesStat is the APCER of one attack species.
type SpeciesStat struct {
	Species  string
	N        int // presentations
	Accepted int // judged live
	APCER    float64
}

// Report is the summary of a run.
type Report struct {
	BonaFide int     // bona fide presentations
	Rejected int     // bona fide judged not live
	BPCER    float64 // Rejected / BonaFide
	Species  []SpeciesStat
	MaxAPCER float64 // the highest APCER over species (ISO/IEC 30107-3 reports the worst species)
	Errors   int     // unreadable recordings
}

// Summarize computes the report. An unreadable recording counts as a
// rejection: for bona fide it raises BPCER, for an attack it is not an
// acceptance.
func Summarize(os []Outcome) Report {
	var r Report
	by := map[string]*SpeciesStat{}
	for _, o := range os {
		if o.Err != nil {
			r.Errors++
		}
		if o.BonaFide() {
			r.BonaFide++
			if !o.Live || o.Err != nil {
				r.Rejected++
			}
			continue
		}
		s := by[o.Species]
		if s == nil {
			s = &SpeciesStat{Species: o.Species}
			by[o.Species] = s
		}
		s.N++
		if o.Live && o.Err == nil {
			s.Accepted++
		}
	}
	if r.BonaFide > 0 {
		r.BPCER = float64(r.Rejected) / float64(r.BonaFide)
	}
	for _, s := range by {
		s.APCER = float64(s.Accepted) / float64(s.N)
		r.MaxAPCER = max(r.MaxAPCER, s.APCER)
		r.Species = append(r.Species, *s)
	}
	sort.Slice(r.Species, func(i, j int) bool { return r.Species[i].Species < r.Species[j].Species })
	return r
}

// Write prints the report as a table.
func (r Report) Write(w io.Writer) {
	fmt.Fprintf(w, "%-16s %6s %9s %8s\n", "species", "n", "accepted", "APCER")
	for _, s := range r.Species {
		fmt.Fprintf(w, "%-16s %6d %9d %7.1f%%\n", s.Species, s.N, s.Accepted, 100*s.APCER)
	}
	fmt.Fprintf(w, "%-16s %6s %9s %7.1f%%\n", "max APCER", "", "", 100*r.MaxAPCER)
	fmt.Fprintf(w, "%-16s %6d %9s %8s\n", BonaFide, r.BonaFide, "rejected", "BPCER")
	fmt.Fprintf(w, "%-16s %6s %9d %7.1f%%\n", "", "", r.Rejected, 100*r.BPCER)
	if r.Errors > 0 {
		fmt.Fprintf(w, "unreadable recordings: %d (counted as rejected)\n", r.Errors)
	}
}

// Margin is one passive check's threshold beside the values closest to it:
// the bona fide recording nearest to failing, and per attack species the
// recording nearest to passing. Values on the wrong side of the threshold
// are stopped (or rejected) by that check.
type Margin struct {
	Check     string
	Threshold float64
	LiveAbove bool    // true: a value ≥ Threshold passes; false: ≤ Threshold passes
	BonaFide  float64 // worst bona fide value
	Species   map[string]float64
}

// Margins computes the passive checks' margins over the outcomes with the
// thresholds of c.
func Margins(outs []Outcome, c liveness.Config) []Margin {
	checks := []Margin{
		{Check: liveness.CheckNonRigid, Threshold: float64(c.MinNonRigid), LiveAbove: true},
		{Check: liveness.CheckFrames, Threshold: float64(c.MinFaceFrames), LiveAbove: true},
		{Check: liveness.CheckMoire, Threshold: c.MaxMoire},
		{Check: liveness.CheckIdentical, Threshold: c.MaxIdentical},
		{Check: liveness.CheckRepeat, Threshold: float64(c.MaxRepeat)},
		{Check: liveness.CheckSizeJump, Threshold: c.MaxSizeJump},
	}
	for i := range checks {
		m := &checks[i]
		m.Species = map[string]float64{}
		m.BonaFide = math.NaN()
		// worse: a is nearer to failing than b (for bona fide); for attacks
		// the opposite, nearer to passing.
		worse := func(a, b float64) bool { return m.LiveAbove == (a < b) }
		for _, o := range outs {
			v, ok := o.Scores[m.Check]
			if !ok || o.Err != nil {
				continue
			}
			if o.BonaFide() {
				if math.IsNaN(m.BonaFide) || worse(v, m.BonaFide) {
					m.BonaFide = v
				}
				continue
			}
			if cur, seen := m.Species[o.Species]; !seen || worse(cur, v) {
				m.Species[o.Species] = v
			}
		}
	}
	return checks
}

// WriteMargins prints the margins as a table, species in name order.
func WriteMargins(w io.Writer, ms []Margin) {
	var species []string
	for _, m := range ms {
		for s := range m.Species {
			if !slices.Contains(species, s) {
				species = append(species, s)
			}
		}
	}
	sort.Strings(species)
	fmt.Fprintf(w, "%-20s %10s %10s", "check (live if)", "threshold", BonaFide)
	for _, s := range species {
		fmt.Fprintf(w, " %14s", s)
	}
	fmt.Fprintln(w)
	for _, m := range ms {
		op := "≤"
		if m.LiveAbove {
			op = "≥"
		}
		fmt.Fprintf(w, "%-20s %10s %10.3f", m.Check, fmt.Sprintf("%s %g", op, m.Threshold), m.BonaFide)
		for _, s := range species {
			if v, ok := m.Species[s]; ok {
				fmt.Fprintf(w, " %14.3f", v)
			} else {
				fmt.Fprintf(w, " %14s", "-")
			}
		}
		fmt.Fprintln(w)
	}
}
