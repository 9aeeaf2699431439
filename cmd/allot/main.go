// Command allot is the stock allocation service: see `allot help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/allot/allot/cli"
)

func main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(&cli.Env{Args: os.Args[1:], Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Context: ctx})
	stop()
	os.Exit(code)
}

// gcPercent and memoryLimit are the garbage collector's settings unless
// GOGC or GOMEMLIMIT say otherwise. A server under a stream of orders
// keeps little between requests (tens of MB), so at Go's default (a
// collection each time the heap doubles) it collected several times a
// second, a tenth of its CPU time on two cores; collecting when the heap
// is five times what is live gave 10–20% more orders a second in the
// flash sale (docs/BENCHMARKS.md). The soft limit keeps the whole
// process under 500 MB through a full stock report of 100,000 lines:
// Go's memory up to 300 MiB, and beside it SQLite's page caches (up to
// 64 MiB for the writer and 16 MiB for each of 4 readers, outside Go's
// heap, with the binary: about 160 MiB); at 400 MiB the process reached
// 550 MiB on SQLite, at 320 MiB 493 MiB (517 MB), at 300 MiB 450 MiB
// (472 MB). A larger catalogue wants a larger GOMEMLIMIT: past it the
// collector runs more often, not out of memory.
const (
	gcPercent   = 400
	memoryLimit = 300 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
