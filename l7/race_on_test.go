//go:build race

package l7

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// allocation counts say nothing under -race.
const raceEnabled = true
