package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// defaultData is the data directory of the packaged service
// (StateDirectory=eidkiosk-authority); serve and the operator commands
// share it.
const defaultData = "/var/lib/eidkiosk-authority"

// errWrongUser: an operator command run by another user than the one
// owning the data directory would leave files the service cannot open.
var errWrongUser = errors.New("eidkiosk-authority: run the operator commands as the owner of the data directory")

// checkOwner refuses to open the SQLite store in dir as anyone but dir's
// owner: run as root before the service's first start, the command would
// create root-owned database files and the service would then fail with
// "unable to open database file".
func checkOwner(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("eidkiosk-authority: data directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) == os.Geteuid() {
		return nil
	}
	name := strconv.Itoa(int(st.Uid))
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	return fmt.Errorf("%w: %s belongs to %s; e.g. runuser -u %s -- eidkiosk-authority %s", errWrongUser, dir, name, name, commandLine())
}

// commandLine is this invocation's arguments, for the hint.
func commandLine() string {
	s := ""
	for i, a := range os.Args[1:] {
		if i > 0 {
			s += " "
		}
		s += a
	}
	return s
}
