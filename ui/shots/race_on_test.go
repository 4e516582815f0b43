//go:build race

package shots

// raceOn: under the race detector (slow software rendering, no concurrency
// to check in a golden image) only a sample of the screens is rendered.
const raceOn = true
