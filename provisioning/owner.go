package provisioning

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// FixOwnership gives the identity directory and its files to the owner of
// the state directory. A technician runs kioskctl as root, while the kiosk
// service runs as its own user (eidkiosk) that owns the state directory and
// must read its key and append to its audit log. It does nothing when not
// run as root or when root owns the state directory.
func FixOwnership(stateDir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(stateDir)
	if err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	uid, gid := int(st.Uid), int(st.Gid)
	dir := filepath.Join(stateDir, IdentityDir)
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("provisioning: give %s to uid %d: %w", dir, uid, err)
	}
	return nil
}
