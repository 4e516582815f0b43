package outbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"eidkiosk/internal/atomicfile"
)

// ReserveFile is a file of ReserveBytes kept beside the database. When the
// disk fills up, it is deleted so that the visit in progress can still be
// saved and acknowledgements (which free space) can still be written; the
// gate then stays closed until the reserve could be made again.
const (
	ReserveFile  = "reserve"
	ReserveBytes = 1 << 20
)

// errDiskFull reports whether err is SQLite's "database or disk is full".
func errDiskFull(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return true
	}
	return errors.Is(err, syscall.ENOSPC) || (err != nil && strings.Contains(err.Error(), "disk is full"))
}

// withSpace runs f; when it fails for lack of disk space, it spends the
// reserve and runs f once more.
func (o *Outbox) withSpace(f func() error) error {
	err := f()
	if !errDiskFull(err) {
		return err
	}
	o.mu.Lock()
	o.lowDisk = true
	o.mu.Unlock()
	if rerr := os.Remove(filepath.Join(o.dir, ReserveFile)); rerr != nil {
		return err
	}
	return f()
}

// keepReserve makes the reserve file if it is missing and the disk has room
// for it and a visit, and decides whether the disk is low.
func (o *Outbox) keepReserve() {
	if o.readOnly {
		return
	}
	path := filepath.Join(o.dir, ReserveFile)
	have := false
	if fi, err := os.Stat(path); err == nil && fi.Size() == ReserveBytes {
		have = true
	}
	free := freeBytes(o.dir)
	if !have && free >= ReserveBytes+2*Headroom {
		have = writeReserve(path) == nil
	}
	low := !have || (free >= 0 && free < Headroom)
	o.mu.Lock()
	o.lowDisk = low
	o.mu.Unlock()
}

func writeReserve(path string) error {
	return atomicfile.Write(path, make([]byte, ReserveBytes), 0o600)
}

// freeBytes is the space available to this process on dir's filesystem, or
// -1 when unknown.
func freeBytes(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// reclaim returns the pages freed by acknowledgements to the filesystem
// (incremental vacuum) and truncates the WAL, best effort.
func (o *Outbox) reclaim(ctx context.Context) {
	o.db.ExecContext(ctx, `PRAGMA incremental_vacuum`)
	o.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
}
