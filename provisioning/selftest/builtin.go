package selftest

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/provisioning"
	"eidkiosk/provisioning/protocol"
)

// Defaults for Builtin.
const (
	DefaultMinFree = 512 << 20        // bytes free in the state directory
	DefaultMaxSkew = 30 * time.Second // clock difference with the authority
)

// DiskSpace checks that the file system holding path has at least minFree
// bytes free (for the outbox and the update slots).
func DiskSpace(path string, minFree uint64) Check {
	return New("disk space", func(ctx context.Context) Result {
		var st syscall.Statfs_t
		if err := syscall.Statfs(path, &st); err != nil {
			return Failed(fmt.Sprintf("cannot read %s: %v", path, err), "check that the state directory exists and the disk is mounted")
		}
		free := st.Bavail * uint64(st.Bsize)
		total := st.Blocks * uint64(st.Bsize)
		v := fmt.Sprintf("%s free of %s in %s", bytesText(free), bytesText(total), path)
		if free < minFree {
			return Failed(v+fmt.Sprintf(", below %s", bytesText(minFree)),
				"free disk space: let the outbox drain (check the network), remove old logs (`journalctl --vacuum-size=100M`), or fit a larger disk")
		}
		return Passed("%s", v)
	})
}

func bytesText(b uint64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	default:
		return fmt.Sprintf("%d KiB", b>>10)
	}
}

// Pinger asks the authority who the terminal is and what time it is, over
// mTLS; *provisioning.Client is one.
type Pinger interface {
	Ping(ctx context.Context) (protocol.Ping, error)
	URL() string
}

// Authority checks that the authority answers and accepts this terminal's
// certificate.
func Authority(p Pinger, deviceID string) Check {
	return New("authority (mTLS)", func(ctx context.Context) Result {
		start := time.Now()
		ping, err := p.Ping(ctx)
		if err != nil {
			return Failed(err.Error(), authorityFix(err))
		}
		if ping.DeviceID != deviceID {
			return Failed(fmt.Sprintf("the authority knows this certificate as %s, not %s", ping.DeviceID, deviceID),
				"the identity files are mixed up: run `kioskctl deprovision --force` and provision again")
		}
		return Passed("%s accepts terminal %s of station %s (%d ms)", p.URL(), ping.DeviceID, ping.Station, time.Since(start).Milliseconds())
	})
}

func authorityFix(err error) string {
	switch {
	case errors.Is(err, protocol.ErrRevoked), errors.Is(err, protocol.ErrDeprovisioned):
		return "the authority has disabled this terminal: call city IT"
	case errors.Is(err, protocol.ErrUnknownDevice):
		return "the authority does not know this terminal: provision it again with a new token"
	case errors.Is(err, provisioning.ErrCertificateExpired):
		return "the device certificate expired: ask city IT for a token, `kioskctl deprovision --force`, then `kioskctl provision`"
	case errors.Is(err, protocol.ErrStaleCertificate):
		return "restart the kiosk service so it loads its renewed certificate"
	case errors.Is(err, provisioning.ErrUnreachable):
		return "check the network cable, the firewall (outgoing HTTPS to the authority) and authority.url in kiosk.toml"
	default:
		return "check authority.url in kiosk.toml and the clock; if the certificate expired, provision again"
	}
}

// ClockSkew compares the terminal's clock with the authority's (half the
// round trip accounted for) and fails beyond max.
func ClockSkew(p Pinger, max time.Duration, c clock.Clock) Check {
	if c == nil {
		c = clock.Real{}
	}
	return New("clock", func(ctx context.Context) Result {
		t0 := c.Now()
		ping, err := p.Ping(ctx)
		t1 := c.Now()
		if err != nil {
			return Failed("cannot ask the authority for the time: "+err.Error(), authorityFix(err))
		}
		local := t0.Add(t1.Sub(t0) / 2)
		skew := local.Sub(ping.Time)
		v := fmt.Sprintf("%s against the authority (±%s)", signed(skew), (t1.Sub(t0) / 2).Round(time.Millisecond))
		if skew > max || skew < -max {
			return Failed(v+fmt.Sprintf(", more than %s", max),
				"set the clock: enable NTP (`timedatectl set-ntp true`) and let it reach a time server; certificates, updates and receipts fail with a wrong clock")
		}
		return Passed("%s", v)
	})
}

func signed(d time.Duration) string {
	d = d.Round(time.Millisecond)
	switch {
	case d > 0:
		return "ahead by " + d.String()
	case d < 0:
		return "behind by " + (-d).String()
	default:
		return "in step"
	}
}

// Certificate checks the device certificate's remaining lifetime: it fails
// when expired, or when less than a tenth of its lifetime is left, which
// means the automatic renewal (due at a third) has been failing.
func Certificate(id *provisioning.Identity, c clock.Clock) Check {
	if c == nil {
		c = clock.Real{}
	}
	return New("certificate", func(ctx context.Context) Result {
		cert := id.Certificate()
		now := c.Now()
		left := cert.NotAfter.Sub(now)
		v := fmt.Sprintf("terminal %s, valid until %s", id.DeviceID, cert.NotAfter.UTC().Format("2006-01-02"))
		switch {
		case left <= 0:
			return Failed(v+": expired", "ask city IT for a token, `kioskctl deprovision --force`, then `kioskctl provision`")
		case left < cert.NotAfter.Sub(cert.NotBefore)/10:
			return Failed(fmt.Sprintf("%s: %d days left, the automatic renewal is failing", v, int(left.Hours()/24)),
				"check the authority check above, then `kioskctl provision renew`")
		}
		return Passed("%s (%d days left)", v, int(left.Hours()/24))
	})
}

// Builtin is the checks needing no hardware, for a provisioned terminal.
// minFree is the disk space wanted in stateDir; maxSkew the clock tolerance.
func Builtin(id *provisioning.Identity, stateDir string, minFree uint64, maxSkew time.Duration) []Check {
	c := provisioning.NewClient(id, "")
	return []Check{
		DiskSpace(stateDir, minFree),
		Certificate(id, nil),
		Authority(c, id.DeviceID),
		ClockSkew(c, maxSkew, nil),
	}
}

// Send sends the report to the authority with the terminal's identity.
func Send(ctx context.Context, id *provisioning.Identity, rep Report, software string) error {
	return provisioning.NewClient(id, "").SendReport(ctx, rep.Wire(software))
}
