// Package selftest is the terminal's self-test: a list of checks, each
// answering pass, fail or skip with the measured value and, for a failure,
// the fix a technician can apply; a runner that bounds each check's time and
// survives a panicking check; the checklist printed for the technician; and
// the report sent to the authority (protocol.SelfTestReport).
//
// It implements the checks that need no hardware: free disk space, the
// clock's skew against the authority, and the authority's reachability with
// mTLS. Hardware checks (reader SAM, camera, GPIO lines) are built by the
// caller (kiosk/app) and passed in: the checks a command runs are the list it
// builds, and there is no process-wide registry. This package imports no
// driver.
package selftest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"eidkiosk/internal/atomicfile"
	"eidkiosk/internal/clock"
	"eidkiosk/internal/health"
	"eidkiosk/provisioning/protocol"
)

// Status is a check's outcome.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	Skip Status = "skip" // not applicable here (e.g. no such hardware configured)
)

// Result is what one check found.
type Result struct {
	Status Status
	Value  string // what was measured, e.g. "12.3 GiB free"; nothing personal
	Fix    string // for a failure: what the technician should do
}

// Passed, Failed and Skipped build Results.
func Passed(format string, args ...any) Result {
	return Result{Status: Pass, Value: fmt.Sprintf(format, args...)}
}

// Failed is a failure with the measured value and the fix.
func Failed(value, fix string) Result { return Result{Status: Fail, Value: value, Fix: fix} }

// Skipped is a check that does not apply, with the reason.
func Skipped(reason string) Result { return Result{Status: Skip, Value: reason} }

// Check is one self-test check.
type Check interface {
	Name() string
	// Run measures; it must return when ctx is done.
	Run(ctx context.Context) Result
}

type funcCheck struct {
	name string
	run  func(context.Context) Result
}

func (f funcCheck) Name() string                   { return f.name }
func (f funcCheck) Run(ctx context.Context) Result { return f.run(ctx) }

// New makes a Check from a function.
func New(name string, run func(ctx context.Context) Result) Check { return funcCheck{name, run} }

// Entry is one line of a report.
type Entry struct {
	Name string
	Result
	Took time.Duration
}

// Report is a whole self-test.
type Report struct {
	Started, Finished time.Time
	Entries           []Entry
}

// Passed reports whether no check failed.
func (r Report) Passed() bool {
	for _, e := range r.Entries {
		if e.Status == Fail {
			return false
		}
	}
	return true
}

// Failures counts failed checks.
func (r Report) Failures() int {
	n := 0
	for _, e := range r.Entries {
		if e.Status == Fail {
			n++
		}
	}
	return n
}

// Health is the report in the kiosk's health model, for the technician
// screen: a skipped check is OK, its reason the detail; every entry is dated
// when the self-test finished.
func (r Report) Health() []health.Check {
	out := make([]health.Check, 0, len(r.Entries))
	for _, e := range r.Entries {
		c := health.Check{Name: e.Name, OK: e.Status != Fail, Detail: e.Value, Fix: e.Fix, At: r.Finished}
		if e.Status == Skip {
			c.Detail = "skipped: " + e.Value
		}
		out = append(out, c)
	}
	return out
}

// Wire is the report as sent to the authority.
func (r Report) Wire(software string) protocol.SelfTestReport {
	w := protocol.SelfTestReport{Started: r.Started.UTC(), Finished: r.Finished.UTC(), Passed: r.Passed(), Software: software}
	for _, e := range r.Entries {
		w.Checks = append(w.Checks, protocol.CheckResult{
			Name: e.Name, Status: string(e.Status), Value: e.Value, Fix: e.Fix, Millis: e.Took.Milliseconds(),
		})
	}
	return w
}

// Save writes the report as JSON to path, atomically (the kiosk keeps the
// last one for the technician mode).
func (r Report) Save(path string) error {
	b, err := json.MarshalIndent(r.Wire(""), "", "  ")
	if err != nil {
		return fmt.Errorf("selftest: %w", err)
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("selftest: %w", err)
	}
	return nil
}

// WriteChecklist prints the report for a technician: one line per check,
// the fix under each failure, and a summary.
func (r Report) WriteChecklist(w io.Writer, title string) error {
	var b strings.Builder
	if title != "" {
		fmt.Fprintf(&b, "%s — %s\n", title, r.Started.UTC().Format("2006-01-02 15:04 MST"))
	}
	width := 0
	for _, e := range r.Entries {
		width = max(width, len(e.Name))
	}
	for _, e := range r.Entries {
		mark := map[Status]string{Pass: "[ OK ]", Fail: "[FAIL]", Skip: "[SKIP]"}[e.Status]
		fmt.Fprintf(&b, "  %s %-*s  %s (%s)\n", mark, width, e.Name, e.Value, e.Took.Round(time.Millisecond))
		if e.Status == Fail && e.Fix != "" {
			fmt.Fprintf(&b, "         %-*s  fix: %s\n", width, "", e.Fix)
		}
	}
	if n := r.Failures(); n > 0 {
		fmt.Fprintf(&b, "Result: FAILED, %d of %d checks failed\n", n, len(r.Entries))
	} else {
		fmt.Fprintf(&b, "Result: PASSED, %d checks\n", len(r.Entries))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Runner runs checks one after the other.
type Runner struct {
	// Timeout bounds each check; 30 s when 0. A check that overruns fails
	// with "no answer within …".
	Timeout time.Duration
	Clock   clock.Clock // clock.Real{} when nil
	// Progress is called before each check, so long tests show where they are.
	Progress func(name string, i, n int)
}

// Run runs the checks and returns the report. It never fails: a panicking
// or hanging check is a failed entry.
func (r Runner) Run(ctx context.Context, checks []Check) Report {
	c := r.Clock
	if c == nil {
		c = clock.Real{}
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	rep := Report{Started: c.Now()}
	for i, ch := range checks {
		if r.Progress != nil {
			r.Progress(ch.Name(), i+1, len(checks))
		}
		start := c.Now()
		res := runOne(ctx, ch, timeout)
		rep.Entries = append(rep.Entries, Entry{Name: ch.Name(), Result: res, Took: c.Now().Sub(start)})
	}
	rep.Finished = c.Now()
	return rep
}

func runOne(ctx context.Context, ch Check, timeout time.Duration) Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan Result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- Failed(fmt.Sprintf("the check crashed: %v", p), "report this to the kiosk's maintainers with the kiosk version")
			}
		}()
		done <- ch.Run(ctx)
	}()
	select {
	case res := <-done:
		if res.Status == "" {
			res.Status = Fail
		}
		return res
	case <-ctx.Done():
		if ctx.Err() == context.DeadlineExceeded {
			return Failed(fmt.Sprintf("no answer within %s", timeout), "check that the device is connected and powered; run the check again")
		}
		return Failed("cancelled", "run the self-test again")
	}
}
