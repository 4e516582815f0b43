// Command authority (installed as eidkiosk-authority) runs the reference central authority (intake, device
// registry, fleet view, update repository) and its operator commands.
package main

import "eidkiosk/internal/cli"

var app = &cli.App{Name: "eidkiosk-authority", Summary: "reference central authority for eidkiosk terminals"}

func main() { app.Main() }
