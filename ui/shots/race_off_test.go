//go:build !race

package shots

const raceOn = false
