// Command window opens a full-screen Fyne window like the kiosk does and
// prints the canvas size once it is shown.
package main

import (
	"fmt"
	"os"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/widget"
)

func main() {
	a := app.NewWithID("eidkiosk.session-check")
	w := a.NewWindow("eidkiosk session check")
	w.SetContent(widget.NewLabel("eidkiosk"))
	w.SetFullScreen(true)
	// Report the size once it has been the same for a second.
	go func() {
		last, same := "", 0
		for i := 0; i < 120; i++ {
			time.Sleep(250 * time.Millisecond)
			got := make(chan string)
			fyne.Do(func() {
				s, scale := w.Canvas().Size(), w.Canvas().Scale()
				got <- fmt.Sprintf("%.0fx%.0f", s.Width*scale, s.Height*scale)
			})
			size := <-got
			if size == last && size != "0x0" {
				same++
			} else {
				last, same = size, 0
			}
			if same == 4 {
				fmt.Printf("window up: %s pixels\n", size)
				os.Exit(0)
			}
		}
		fmt.Println("window size never settled")
		os.Exit(1)
	}()
	w.ShowAndRun()
}
