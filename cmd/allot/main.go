// Command allot is the stock allocation service: see `allot help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/allot/allot/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(&cli.Env{Args: os.Args[1:], Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Context: ctx})
	stop()
	os.Exit(code)
}
