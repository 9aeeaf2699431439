// Package sim runs allot as a deterministic simulation: the real service,
// store and synchronisation worker in one process, driven step by step by
// a seeded random source, with channel platforms, webhook deliveries, the
// clock and process restarts under its control. Its only code is its test
// (sim_test.go); see docs/RELIABILITY.md for what it proves and how to
// replay a seed.
package sim
