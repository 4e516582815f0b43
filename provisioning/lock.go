package provisioning

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrBusy: another provisioning, renewal or deprovisioning holds the identity.
var ErrBusy = errors.New("provisioning: identity busy")

const lockFile = ".lock"

// lockIdentity takes an exclusive, non-blocking lock on STATE/identity, so
// that a technician's provision or deprovision and the kiosk's renewal never
// write the identity at the same time.
func lockIdentity(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("provisioning: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: another kioskctl provision/deprovision or a certificate renewal is running on %s; wait for it and try again", ErrBusy, dir)
		}
		return nil, fmt.Errorf("provisioning: lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
