package update

import (
	"errors"
	"fmt"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Sentinel errors callers act on.
var (
	// ErrNoUpdate: the repository offers nothing newer for this terminal.
	ErrNoUpdate = errors.New("update: no newer release for this terminal")
	// ErrBusy: a citizen holds the visit lease; the switch waits.
	ErrBusy = errors.New("update: a visit is in progress")
	// ErrBelowFloor: a correctly signed release older than the version floor.
	ErrBelowFloor = errors.New("update: release is below the version floor")
	// ErrClockUntrusted: the system clock is behind the trusted-time floor
	// or far from the authority's; updates are refused, visits go on.
	ErrClockUntrusted = errors.New("update: system clock is not trustworthy")
	// ErrStale: no fresh signed metadata for longer than the offline grace.
	ErrStale = errors.New("update: no fresh update metadata for longer than the offline grace")
	// ErrNoSlot: no slot holds a complete, verified release.
	ErrNoSlot = errors.New("update: no installed slot can be started")
	// ErrUpdateLoop: the release offered is the one switched to last; the
	// agent stops instead of installing it again over the rollback slot.
	ErrUpdateLoop = errors.New("update: update loop stopped")
	// ErrTooLarge: a target is larger than its signed length or the size limit.
	ErrTooLarge = errors.New("update: target larger than allowed")
)

// Refusal is a verification failure: the repository (or someone between it
// and the kiosk) offered something the kiosk must not trust. Reason is a
// short stable code for the heartbeat and metrics.
type Refusal struct {
	Reason string // expired, bad-signature, rollback, hash-mismatch, too-large, below-floor, bad-metadata
	Err    error
}

func (r *Refusal) Error() string { return fmt.Sprintf("update: refused (%s): %v", r.Reason, r.Err) }
func (r *Refusal) Unwrap() error { return r.Err }

// Refusal reasons.
const (
	ReasonExpired      = "expired"
	ReasonSignature    = "bad-signature"
	ReasonRollback     = "rollback"
	ReasonHash         = "hash-mismatch"
	ReasonTooLarge     = "too-large"
	ReasonBelowFloor   = "below-floor"
	ReasonBadMetadata  = "bad-metadata"
	ReasonClock        = "clock-untrusted"
	ReasonBadArchive   = "bad-archive"
	ReasonWrongProduct = "wrong-product"
)

// classify wraps a go-tuf error into a Refusal when it means "do not trust",
// and returns other errors (network, disk) unchanged.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var r *Refusal
	if errors.As(err, &r) {
		return err
	}
	reason := ""
	switch {
	case errors.Is(err, &metadata.ErrExpiredMetadata{}):
		reason = ReasonExpired
	case errors.Is(err, &metadata.ErrUnsignedMetadata{}):
		reason = ReasonSignature
	case errors.Is(err, &metadata.ErrBadVersionNumber{}):
		reason = ReasonRollback
	case errors.Is(err, &metadata.ErrLengthOrHashMismatch{}):
		reason = ReasonHash
	case errors.Is(err, &metadata.ErrDownloadLengthMismatch{}), errors.Is(err, ErrTooLarge):
		reason = ReasonTooLarge
	case errors.Is(err, ErrBelowFloor):
		reason = ReasonBelowFloor
	case errors.Is(err, ErrClockUntrusted):
		reason = ReasonClock
	case errors.Is(err, &metadata.ErrDownloadHTTP{}), errors.Is(err, &metadata.ErrDownload{}):
		return err
	case errors.Is(err, &metadata.ErrRepository{}), errors.Is(err, &metadata.ErrValue{}), errors.Is(err, &metadata.ErrType{}):
		reason = ReasonBadMetadata
	default:
		return err
	}
	return &Refusal{Reason: reason, Err: err}
}
