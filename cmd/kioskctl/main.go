// Command kioskctl is the technicians' and city IT's tool: check a card
// reader or camera, run the self-test, provision a terminal, export the
// outbox, sign and publish releases, run the simulators and the demo.
package main

import "eidkiosk/internal/cli"

// app collects the sub-commands; each file of this package registers its own
// in an init function, and the logic lives in the library packages.
var app = &cli.App{Name: "kioskctl", Summary: "technicians' and city IT's tool for eidkiosk terminals"}

func main() { app.Main() }
