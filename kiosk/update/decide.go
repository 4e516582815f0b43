package update

import (
	"encoding/hex"
	"fmt"
)

// committedVersion is the release the committed slot holds, as its
// manifest (written at install from signed metadata) says; "" when the
// slot is unreadable.
func (l Layout) committedVersion(st State) string {
	if m, err := l.ReadManifest(st.Active); err == nil {
		return m.Version
	}
	return ""
}

// decide is the one rule for an offered release, used by Cycle and by
// Inspect (`kioskctl update check`): it returns nil to install c, a
// Refusal below the version floor, ErrNoUpdate (wrapped with why) when the
// terminal already has it or it failed here, and ErrUpdateLoop when c is
// the target switched to last (installing it again is a loop).
//
// The terminal's version is the higher of the committed slot's manifest
// and the version floor: never the version compiled into the running
// binary, which an unstamped build gets wrong.
func (l Layout) decide(st State, c candidate) error {
	have := maxVersion(st.Floor, l.committedVersion(st))
	switch {
	case st.Floor != "" && compareVersions(c.Meta.Version, st.Floor) < 0:
		return &Refusal{Reason: ReasonBelowFloor, Err: fmt.Errorf("%w: offered %s, floor %s", ErrBelowFloor, c.Meta.Version, st.Floor)}
	case have != "" && compareVersions(c.Meta.Version, have) <= 0:
		return fmt.Errorf("%w: offered %s, this terminal has committed %s", ErrNoUpdate, c.Meta.Version, have)
	case st.failed(c.Meta.Version):
		return fmt.Errorf("%w: %s failed its trial on this terminal; waiting for a newer release", ErrNoUpdate, c.Meta.Version)
	case st.LastSwitch != nil && st.LastSwitch.Target == c.Path && st.LastSwitch.SHA256 == targetSHA(c):
		return fmt.Errorf("%w: %s (%s) was switched to already and is offered again", ErrUpdateLoop, c.Meta.Version, c.Path)
	}
	return nil
}

// targetSHA is the hex sha256 of a target ("" when it has none).
func targetSHA(c candidate) string {
	if c.File == nil {
		return ""
	}
	return hex.EncodeToString(c.File.Hashes["sha256"])
}
