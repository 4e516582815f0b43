// Command kiosk-launch starts the kiosk from the A/B slot that the update
// agent selected, counting start attempts so that a slot that never starts
// or keeps crashing is rolled back. It is pure Go (no cgo): a broken
// graphics or vision library in a new slot cannot stop the rollback.
//
// Usage: kiosk-launch -state /var/lib/eidkiosk -- [kiosk flags]
package main

import (
	"os"

	"eidkiosk/kiosk/update"
)

func main() { os.Exit(update.Main(os.Args[1:], os.Stderr)) }
