package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/app"
)

// AppID is the Fyne application ID of the kiosk.
const AppID = "cn.gov.eidkiosk.kiosk"

// NewApp creates the Fyne application with the kiosk theme. Call it on the
// main goroutine before New.
func NewApp(th *Theme) fyne.App {
	a := app.NewWithID(AppID)
	a.Settings().SetTheme(th)
	return a
}

// Run opens the kiosk window and runs the Fyne event loop until ctx ends.
// It must be called on the main goroutine (OpenGL needs it) and blocks.
func (u *UI) Run(ctx context.Context, a fyne.App, fullscreen bool) {
	w := a.NewWindow("eidkiosk")
	u.Show(w, fullscreen)
	go func() {
		<-ctx.Done()
		fyne.Do(a.Quit)
	}()
	a.Run()
	u.Close()
}
