// Package systest is the system test of the two Debian packages under a
// real systemd (`make system-test`, run by .ci/run after `make test`).
//
// It debootstraps a Debian 12 root once (cached under
// /var/cache/eidkiosk-systest, keyed by the mirror and the package list:
// the base system plus every dependency of the .debs), copies it for each
// run, boots the copy with `systemd-nspawn -b --register=no` (systemd 252
// as PID 1), and runs commands inside with nsenter. Inside, it follows the
// technician docs: installs both .debs with apt, starts the authority,
// creates a one-time token, provisions the kiosk, starts eidkiosk-kiosk and
// checks what only a real install shows: READY only when ready, the
// watchdog fed for three WatchdogSec periods without a restart, clean stop
// and restart, the structured log fields in the journal, and what `apt
// remove` and `apt purge` leave.
//
// cage runs on wlroots' headless backend (a drop-in sets
// WLR_BACKENDS=headless, WLR_LIBINPUT_NO_DEVICES=1 and the pixman
// renderer, and swaps the tty for the journal since a container has no
// tty1), so the unit's real ExecStart runs: cage is the main process and
// the kiosk its grandchild, which is exactly the arrangement the watchdog
// has to survive. Xvfb would have hidden it.
//
// It needs root, debootstrap and systemd-container, and is skipped unless
// EIDKIOSK_SYSTEM_TEST names the directory holding the .debs. It does not
// test hardware (reader, camera, GPIO): the container has none.
package systest
