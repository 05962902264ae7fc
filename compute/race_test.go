//go:build race

package compute

// raceEnabled: the race detector makes sync.Pool drop items at random.
const raceEnabled = true
