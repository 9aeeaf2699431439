package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// The collector's settings are allot's unless GOGC and GOMEMLIMIT name
// others.
func TestGarbageCollectorSettings(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	tuneGC()
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("GC percent %d; want %d", got, gcPercent)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != memoryLimit {
		t.Errorf("memory limit %d; want %d", got, memoryLimit)
	}

	// Set in the environment, they were applied at start: left alone.
	t.Setenv("GOGC", "77")
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetGCPercent(77)
	debug.SetMemoryLimit(1 << 30)
	tuneGC()
	if got := debug.SetGCPercent(100); got != 77 {
		t.Errorf("GC percent %d with GOGC=77; want 77", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != 1<<30 {
		t.Errorf("memory limit %d with GOMEMLIMIT=1GiB; want %d", got, 1<<30)
	}
}
