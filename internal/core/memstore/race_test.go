//go:build race

package memstore

// raceEnabled reports whether the race detector is on: it makes the memory
// test about ten times slower, so the test stores fewer URLs.
const raceEnabled = true
