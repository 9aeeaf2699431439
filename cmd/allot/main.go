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
// is five times what is live, up to a soft limit that keeps a full stock
// report of 100,000 lines under 500 MB, gave 10–20% more orders a second
// in the flash sale (docs/BENCHMARKS.md). A larger catalogue wants a
// larger GOMEMLIMIT: past it the collector runs more often, not out of
// memory.
const (
	gcPercent   = 400
	memoryLimit = 400 << 20
)

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
