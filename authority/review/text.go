package review

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteQueue prints the queue for `authority review list`: a table, or
// JSON ({"counts":…,"queue":[…]}) for scripts.
func WriteQueue(w io.Writer, items []Item, counts Counts, asJSON bool) error {
	if items == nil {
		items = []Item{}
	}
	if asJSON {
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		return e.Encode(struct {
			Counts Counts `json:"counts"`
			Queue  []Item `json:"queue"`
		}{counts, items})
	}
	fmt.Fprintf(w, "waiting for review: %d (received %d, verified %d, approved %d, rejected %d)\n",
		counts[NeedsReview], counts[Received], counts[Verified], counts[Approved], counts[Rejected])
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SINCE (UTC)\tSHORT\tENROLLMENT\tSTATION\tDEVICE\tFLAGS")
	for _, it := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.Since.Format("2006-01-02 15:04"), it.Short, it.EnrollmentID,
			it.StationID, it.DeviceID, strings.Join(it.Flags, ","))
	}
	return tw.Flush()
}

// WriteCase prints one case for `authority review show`.
func WriteCase(w io.Writer, c *Case) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("enrollment", c.EnrollmentID+" ("+c.Short+")")
	row("status", c.Status)
	row("station / device", c.StationID+" / "+c.DeviceID)
	row("received", c.Received.Format(time.RFC3339))
	row("name / number", c.Name+" / "+c.Number)
	for _, f := range c.FlagDetails {
		row("flag", f)
	}
	if m := c.KioskMatch; m != nil {
		row("kiosk face match", fmt.Sprintf("%s, score %.3f over %d frames (card photo)", m.Decision, m.Score, m.Frames))
	} else {
		row("kiosk face match", "none (the kiosk could not decode the card photo)")
	}
	live := "live"
	if !c.Live {
		live = "NOT live"
	}
	var ch []string
	for _, x := range c.Challenges {
		mark := "passed"
		if !x.Passed {
			mark = "failed"
		}
		ch = append(ch, x.Name+" "+mark)
	}
	row("liveness", fmt.Sprintf("%s; %s; %d evidence frames", live, strings.Join(ch, ", "), c.Evidence))
	for _, m := range c.Quality {
		row("quality "+m.Name, fmt.Sprintf("%.1f (threshold %.1f)", m.Value, m.Threshold))
	}
	row("reference photo", yesNo(c.HasReference))
	for _, t := range c.History {
		s := fmt.Sprintf("%s %s → %s by %s", t.At.Format("2006-01-02 15:04:05"), t.From, t.To, t.Actor)
		if t.Reason != "" {
			s += " (" + t.Reason + ")"
		}
		if t.Note != "" {
			s += ": " + t.Note
		}
		row("history", s)
	}
	switch {
	case !c.Purged.IsZero():
		row("review material", "removed "+c.Purged.Format(time.RFC3339)+" (retention)")
	case !c.PurgeDue.IsZero():
		row("review material", "removed after "+c.PurgeDue.Format(time.RFC3339)+" (retention)")
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "registered"
	}
	return "none"
}

// WriteOfficers prints `authority officer list`.
func WriteOfficers(w io.Writer, os []Officer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OFFICER\tSTATE\tCREATED (UTC)")
	for _, o := range os {
		st := "active"
		switch {
		case o.Disabled:
			st = "disabled"
		case !o.LockedUntil.IsZero():
			st = "locked until " + o.LockedUntil.Format("15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", o.Name, st, o.Created.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

// WriteAudit prints `authority review audit`.
func WriteAudit(w io.Writer, es []AuditEntry) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tACTOR\tACTION\tENROLLMENT\tDETAIL")
	for _, e := range es {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.At.Format("2006-01-02 15:04:05"), e.Actor, e.Action, e.EnrollmentID, e.Detail)
	}
	return tw.Flush()
}
