// Command kioskctl is the technicians' and city IT's tool: check a card
// reader or camera, run the self-test, provision a terminal, export the
// outbox, check and apply updates, run the simulators and the demo (city IT
// signs and publishes releases with `eidkiosk-authority release`).
package main

import (
	// First, before Fyne's lang package reads the locale: LANG=C.UTF-8
	// made it print "Fyne error: Error parsing user locale C" before every
	// command's output.
	_ "eidkiosk/internal/localeenv"

	"eidkiosk/internal/cli"
)

// app collects the sub-commands; each file of this package registers its own
// in an init function, and the logic lives in the library packages.
var app = &cli.App{Name: "kioskctl", Summary: "technicians' tool for eidkiosk terminals"}

func main() { app.Main() }
