//go:build race

package store_test

// raceDetector says the tests run under the race detector, ten times
// slower: property tests draw fewer cases there (the run without it
// draws them all).
const raceDetector = true
