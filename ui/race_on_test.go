//go:build race

package ui

// raceOn: under the race detector the soak runs fewer visits (its point,
// memory, is measured in the normal run).
const raceOn = true
