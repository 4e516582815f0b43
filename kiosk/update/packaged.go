package update

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// What InstallPackaged did.
const (
	PackagedSeeded  = "seeded"  // a new terminal: the package is its first committed release
	PackagedTrial   = "trial"   // installed in the other slot, on trial from the next start
	PackagedKept    = "kept"    // the terminal already has this release or a newer one
	PackagedFailed  = "failed"  // this version failed its trial here; not tried again
	PackagedWaiting = "waiting" // another release is on trial; the package is not installed now
)

// PackagedResult says what InstallPackaged did and why.
type PackagedResult struct {
	Outcome string
	Slot    string // the slot written (seeded, trial)
	Have    string // the terminal's release before (kept, failed, waiting, trial)
	Detail  string
}

// TargetPackage is the Manifest.Target and Switch.Target of a release
// installed from the Debian package (a TUF release names its target path).
const TargetPackage = "deb"

// InstallPackaged is what the Debian package's postinst runs on every
// install and upgrade: the packaged kiosk binary of version becomes
//
//   - the committed release of a new terminal (as Seed), or
//   - a release on trial in the other slot, when it is newer than what the
//     terminal has (the committed slot's manifest and the version floor):
//     the next start runs it, its health checks commit it, and a crash loop
//     or failed check rolls back to the committed slot exactly as for a
//     release from the update repository.
//
// An older or equal package (a downgrade, a reinstall, a release the agent
// already installed), a version that failed its trial here, or a running
// trial leave the slots alone: the package's files are on disk, the
// terminal keeps running what its update agent manages.
func InstallPackaged(stateDir, binary, version string, now time.Time) (PackagedResult, error) {
	if _, err := parseVersion(version); err != nil {
		return PackagedResult{}, err
	}
	l := NewLayout(stateDir)
	unlock, err := l.lock()
	if err != nil {
		return PackagedResult{}, err
	}
	defer unlock()
	st, err := l.load()
	switch {
	case errors.Is(err, errNoState):
		if err := l.seed(binary, version, TargetPackage, now); err != nil {
			return PackagedResult{}, err
		}
		return PackagedResult{Outcome: PackagedSeeded, Slot: SlotA}, nil
	case err != nil:
		return PackagedResult{}, err
	}
	have := maxVersion(st.Floor, l.committedVersion(st))
	res := PackagedResult{Have: have}
	switch {
	case have != "" && compareVersions(version, have) <= 0:
		res.Outcome, res.Detail = PackagedKept, fmt.Sprintf("the terminal has %s committed; the package's %s is not newer", have, version)
		return res, nil
	case st.failed(version):
		res.Outcome, res.Detail = PackagedFailed, fmt.Sprintf("%s failed its trial on this terminal; waiting for a newer release", version)
		return res, nil
	case st.Trial != nil:
		res.Outcome, res.Detail = PackagedWaiting, fmt.Sprintf("%s is on trial in slot %s; install the package again once it is settled", st.Trial.Version, st.Trial.Slot)
		return res, nil
	}
	sum, err := fileSHA256(binary)
	if err != nil {
		return PackagedResult{}, err
	}
	slot := Other(st.Active)
	if err := l.installBinary(slot, binary, Manifest{Version: version, Target: TargetPackage, SHA256: sum, InstalledAt: now}); err != nil {
		return PackagedResult{}, err
	}
	st.Trial = &Trial{Slot: slot, Version: version, Since: now}
	st.LastSwitch = &Switch{Version: version, Target: TargetPackage, SHA256: sum, At: now}
	st.Loop = nil
	if err := l.save(st); err != nil {
		return PackagedResult{}, err
	}
	res.Outcome, res.Slot = PackagedTrial, slot
	return res, nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("update: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("update: read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
