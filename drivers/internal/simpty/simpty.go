// Package simpty opens the pseudo-terminals that the simulated serial
// devices (ID-card reader, receipt printer) serve on. The driver under test
// opens the terminal side like any serial port; the simulator reads and
// writes the master side.
//
// It does not simulate any device itself, and it is not used on real boxes.
package simpty

import (
	"fmt"
	"os"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Open opens a pty whose master is non-blocking and registered with Go's
// poller, so that closing it wakes a pending Read and closes the descriptor
// at once. (creack/pty's ioctls go through File.Fd, which puts the master in
// blocking mode: a Close would then wait for the simulator's Read to return,
// and the driver's next write would still succeed — an "unplugged" device
// that keeps accepting bytes.)
func Open() (master, tty *os.File, err error) {
	pm, tty, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("simpty: %w", err)
	}
	var fd int
	var cerr error
	rc, err := pm.SyscallConn()
	if err == nil {
		err = rc.Control(func(f uintptr) { fd, cerr = unix.Dup(int(f)) })
	}
	pm.Close()
	if err == nil {
		err = cerr
	}
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		tty.Close()
		return nil, nil, fmt.Errorf("simpty: %w", err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), tty, nil
}
