package selftest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"eidkiosk/kiosk/config"
	"eidkiosk/provisioning"
)

// ErrFailed is returned by RunTerminal when a check failed.
var ErrFailed = errors.New("selftest: a check failed")

// ReportFile is where the last report is kept, inside the identity directory.
const ReportFile = "selftest.json"

// TerminalOptions describe a whole terminal self-test.
type TerminalOptions struct {
	Config   config.Config
	StateDir string // Config.State.Dir when empty
	// Hardware are the hardware checks to run after the built-in ones, in
	// order (kiosk/app.HardwareChecks builds the kiosk's); none when empty.
	Hardware []Check
	Identity *provisioning.Identity // loaded from StateDir when nil
	provisioning.Options
	Out      io.Writer // the checklist; os.Stdout when nil
	Progress io.Writer // "[2/5] clock …" lines; none when nil
	Send     bool      // send the report to the authority
	Software string    // kiosk version in the report
	MinFree  uint64    // DefaultMinFree when 0
	MaxSkew  time.Duration
	Timeout  time.Duration // per check; 30 s when 0
}

// RunTerminal runs the built-in checks and then o.Hardware,
// prints the checklist, keeps the report in the state directory and sends it
// to the authority. It returns the report and ErrFailed when a check failed.
func RunTerminal(ctx context.Context, o TerminalOptions) (Report, error) {
	if o.StateDir == "" {
		o.StateDir = o.Config.State.Dir
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.MinFree == 0 {
		o.MinFree = DefaultMinFree
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = DefaultMaxSkew
	}
	id := o.Identity
	var loadErr error
	if id == nil {
		id, loadErr = provisioning.Load(o.StateDir, o.Options)
		if loadErr == nil {
			defer id.Close()
		}
	}
	var checks []Check
	title := "Self-test of this terminal (no identity loaded)"
	if loadErr == nil {
		title = fmt.Sprintf("Self-test of terminal %s, station %s (%s)", id.DeviceID, id.StationID, id.StationName)
		checks = Builtin(id, o.StateDir, o.MinFree, o.MaxSkew)
	} else {
		checks = []Check{
			DiskSpace(o.StateDir, o.MinFree),
			New("identity", func(context.Context) Result {
				fix := "provision the terminal: `kioskctl provision --authority URL --token TOKEN`"
				if !errors.Is(loadErr, provisioning.ErrNotProvisioned) {
					fix = "repair the identity as the message says, or `kioskctl deprovision --force` and provision again"
				}
				return Failed(loadErr.Error(), fix)
			}),
		}
	}
	checks = append(checks, o.Hardware...)
	r := Runner{Timeout: o.Timeout}
	if o.Progress != nil {
		r.Progress = func(name string, i, n int) { fmt.Fprintf(o.Progress, "[%d/%d] %s …\n", i, n, name) }
	}
	rep := r.Run(ctx, checks)
	if err := rep.WriteChecklist(o.Out, title); err != nil {
		return rep, fmt.Errorf("selftest: %w", err)
	}
	if loadErr == nil {
		if err := rep.Save(filepath.Join(id.Dir(), ReportFile)); err != nil {
			fmt.Fprintf(o.Out, "report not saved: %v\n", err)
		}
		defer provisioning.FixOwnership(o.StateDir)
		if o.Send {
			if err := Send(ctx, id, rep, o.Software); err != nil {
				fmt.Fprintf(o.Out, "report not sent to the authority: %v\n", err)
			} else {
				fmt.Fprintf(o.Out, "report sent to the authority\n")
			}
		}
	}
	if !rep.Passed() {
		return rep, ErrFailed
	}
	return rep, nil
}
