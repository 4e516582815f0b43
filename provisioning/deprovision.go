package provisioning

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/provisioning/devkey"
	"eidkiosk/provisioning/protocol"
)

// ErrOutboxNotEmpty: deprovisioning without --force found enrollments not yet
// acknowledged by the authority.
var ErrOutboxNotEmpty = errors.New("provisioning: outbox not empty")

// DeprovisionOptions describe a deprovisioning.
type DeprovisionOptions struct {
	StateDir string
	// Force destroys the outbox (Remove) even when it holds enrollments not
	// yet sent, and goes on when the authority cannot be told.
	Force bool
	// Pending counts the enrollments not yet acknowledged by the authority
	// (the outbox); nil when unknown. Without Force, Deprovision waits up to
	// DrainTimeout for the running kiosk to send them.
	Pending      func(ctx context.Context) (int, error)
	DrainTimeout time.Duration // 2 minutes when 0
	// Remove lists further paths destroyed (outbox directory, station
	// configuration written by provisioning); they are removed after the
	// outbox drained, or at once with Force.
	Remove []string
	// Progress receives one line per step.
	Progress func(step string)
	Options
	Clock clock.Clock  // clock.Real{} when nil
	Log   *slog.Logger // slog.Default() when nil
}

// Deprovision tells the authority the terminal leaves (so its certificate
// stops working), waits for the outbox to drain unless Force, and destroys
// the device key, the bundle and the paths in Remove. The audit log stays.
func Deprovision(ctx context.Context, o DeprovisionOptions) error {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 2 * time.Minute
	}
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(format, args...))
		}
	}
	dir := filepath.Join(o.StateDir, IdentityDir)
	unlock, err := lockIdentity(dir)
	if err != nil {
		return err
	}
	defer unlock()
	id, err := Load(o.StateDir, o.Options)
	switch {
	case err == nil:
		defer id.Close()
	case errors.Is(err, ErrNotProvisioned) && !o.Force:
		return err
	case !o.Force:
		return fmt.Errorf("%w (use --force to destroy what is left)", err)
	default:
		progress("identity does not load (%v); destroying what is left", err)
	}

	if o.Pending != nil {
		deadline := o.Clock.Now().Add(o.DrainTimeout)
		for {
			n, err := o.Pending(ctx)
			if err != nil && !o.Force {
				return fmt.Errorf("provisioning: cannot count the outbox: %w (use --force to destroy it)", err)
			}
			if n == 0 {
				progress("outbox empty")
				break
			}
			if o.Force {
				progress("destroying %d enrollments not yet sent (--force)", n)
				_ = appendAudit(dir, o.Clock.Now(), "deprovision.force", fmt.Sprintf("%d unsent enrollments destroyed", n))
				break
			}
			if !o.Clock.Now().Before(deadline) {
				return fmt.Errorf("%w: %d enrollments are not yet acknowledged by the authority; let the kiosk send them (check the network) or use --force, which destroys them", ErrOutboxNotEmpty, n)
			}
			progress("waiting for %d enrollments to be sent", n)
			if err := clock.Sleep(ctx, o.Clock, time.Second); err != nil {
				return err
			}
		}
	}

	if id != nil {
		progress("telling the authority that terminal %s leaves", id.DeviceID)
		var ack protocol.Ack
		c := NewClient(id, "")
		c.clock = o.Clock
		if err := c.call(ctx, protocol.PathDeprovision, struct{}{}, &ack); err != nil {
			switch {
			case protocol.Disabled(err), errors.Is(err, ErrCertificateExpired):
				progress("the authority already refuses this terminal (%v)", err)
			case !o.Force:
				return fmt.Errorf("provisioning: the authority could not be told (%w); retry when it is reachable, or use --force and have city IT revoke terminal %s", err, id.DeviceID)
			default:
				progress("the authority was not told (%v): have city IT revoke terminal %s", err, id.DeviceID)
			}
		}
		id.Close()
	}

	progress("destroying the device key and the identity")
	var errs []error
	for _, p := range []string{filepath.Join(dir, KeyFileName), filepath.Join(dir, TPMKeyFileName)} {
		errs = append(errs, devkey.Destroy(p))
	}
	// Everything else in the identity directory (bundle, last self-test)
	// goes too; the audit log (and the lock) stay.
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, e := range entries {
		if e.Name() != AuditFile && e.Name() != lockFile {
			errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
		}
	}
	for _, p := range o.Remove {
		progress("removing %s", p)
		errs = append(errs, os.RemoveAll(p))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("provisioning: deprovision: %w", err)
	}
	detail := "identity destroyed"
	if id != nil {
		detail = fmt.Sprintf("terminal %s of station %s: identity destroyed", id.DeviceID, id.StationID)
	}
	_ = appendAudit(dir, o.Clock.Now(), "deprovision", detail)
	_ = FixOwnership(o.StateDir)
	o.Log.Info("provisioning: terminal deprovisioned")
	return nil
}
