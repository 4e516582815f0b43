// Package session holds no code: its test checks the supported kiosk
// session (docs/operations.md, "The kiosk session"), a Fyne window run as
// the only client of the cage Wayland kiosk compositor
// (https://github.com/cage-kiosk/cage) through Xwayland, fills the output.
// It uses cage's headless backend, so it needs no display.
//
// It does not start the real kiosk or systemd; packaging/mkdeb checks the
// units.
package session
