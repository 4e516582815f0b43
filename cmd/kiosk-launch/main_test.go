package main

import (
	"testing"

	"eidkiosk/internal/deptest"
)

// TestNoCgo keeps the launcher free of cgo packages (Fyne, OpenCV): it must
// start whatever state a new slot's libraries are in.
func TestNoCgo(t *testing.T) {
	const why = "the launcher must start whatever state a new slot's libraries are in"
	deptest.DepChecker{
		BadDeps: map[string]string{"fyne.io/...": why, "gocv.io/...": why},
		NoCgo:   why,
	}.Check(t)
}
