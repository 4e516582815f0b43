package intake

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"eidkiosk/internal/cli"
)

// WriteList prints summaries as a table for `authority enrollments list`.
func WriteList(w io.Writer, list []Summary) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHORT\tENROLLMENT\tSTATION\tDEVICE\tRECEIVED\tVIA\tNAME\tNUMBER\tFLAGS")
	for _, s := range list {
		flags := strings.Join(s.Flags, ",")
		if flags == "" {
			flags = "-"
		}
		cli.Row(tw, s.Short, s.EnrollmentID, s.StationID, s.DeviceID,
			s.Received.UTC().Format(time.DateTime), s.Source, s.Name, s.Number, flags)
	}
	return tw.Flush()
}

// WriteDetail prints one enrollment for `authority enrollments show`.
func WriteDetail(w io.Writer, d *Detail) error {
	r := d.Record
	c := r.Card
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k string, v any) { cli.Row(tw, k, fmt.Sprint(v)) }
	ms := func(v int64) string {
		if v == 0 {
			return "-"
		}
		return time.UnixMilli(v).UTC().Format(time.RFC3339)
	}
	row("enrollment", d.EnrollmentID)
	row("short number", d.Short)
	row("station / device", d.StationID+" / "+d.DeviceID)
	row("software", r.Software)
	row("visit", ms(r.Started)+" .. "+ms(r.Finished))
	row("sealed / received", ms(r.Sealed)+" / "+d.Received.UTC().Format(time.RFC3339)+" ("+d.Source+")")
	row("package", fmt.Sprintf("%d bytes", d.Size))
	row("flags", strings.Join(d.Flags, ", "))
	for _, f := range d.FlagDetails {
		row("  flag", f)
	}
	if m := r.FaceMatch; m != nil {
		row("face at the kiosk", fmt.Sprintf("%s, score %.3f over %d frames against the card photo", m.Decision, m.Score, m.Frames))
	}
	row("card kind", c.Kind)
	row("name", d.Name)
	if c.NameEN != "" {
		row("name (en)", c.NameEN)
	}
	row("number", d.Number)
	row("gender / ethnic", c.Gender+" / "+c.Ethnic)
	row("birth date", c.BirthDate)
	row("address", c.Address)
	row("issued by", c.Authority)
	validTo := c.ValidTo
	if c.NoExpiry {
		validTo = "长期"
	}
	row("valid", c.ValidFrom+" .. "+validTo)
	row("card photo (WLT)", fmt.Sprintf("%d bytes", d.PhotoSz))
	row("portrait", fmt.Sprintf("%d bytes JPEG", d.PortraitSz))
	for _, m := range r.Quality {
		pass := "fail"
		if m.Pass {
			pass = "pass"
		}
		row("quality "+m.Name, fmt.Sprintf("%.2f (threshold %.2f, %s)", m.Value, m.Threshold, pass))
	}
	row("liveness", fmt.Sprintf("live=%v, %d evidence frames", r.Liveness.Live, d.Evidence))
	for i, ch := range r.Liveness.Challenges {
		ok := i < len(r.Liveness.Passed) && r.Liveness.Passed[i]
		t := int64(0)
		if i < len(r.Liveness.TimingsMS) {
			t = r.Liveness.TimingsMS[i]
		}
		row(fmt.Sprintf("  challenge %d", i+1), fmt.Sprintf("%s passed=%v in %d ms", ch, ok, t))
	}
	for _, k := range sortedKeys(r.Liveness.Scores) {
		row("  score "+k, fmt.Sprintf("%.3f", r.Liveness.Scores[k]))
	}
	row("consent", fmt.Sprintf("%s (%s) at %s", r.Consent.TextVersion, r.Consent.Language, ms(r.Consent.At)))
	return tw.Flush()
}

// WriteImport prints an import's outcome.
func WriteImport(w io.Writer, res ImportResult) {
	fmt.Fprintf(w, "stored %d, already present %d, refused %d\n", res.Stored, res.Repeated, len(res.Failures))
	for _, f := range res.Failures {
		fmt.Fprintf(w, "  refused %s\n", f)
	}
}
