// Package cli is allot's command line: it starts the server (serve, demo,
// migrate), manages merchants and tokens on the database, and drives a
// running server through its JSON API (import and export files, list and
// explain quantities, create allocations, buffers and stops, readiness,
// history).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/allot/allot"
	"github.com/allot/allot/client"
)

// Env is what a command runs with: its arguments and streams.
type Env struct {
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Context ends when the command must stop (SIGINT, SIGTERM).
	Context context.Context
}

type command struct {
	summary string
	usage   string
	run     func(*Env) error
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"serve":       {"serve the JSON API", "serve [--addr HOST:PORT] [--db DB]", serve},
		"migrate":     {"apply database migrations and exit", "migrate [--db DB]", migrate},
		"demo":        {"run a demo: a fresh database, a demo merchant, channels and a trickle of orders", "demo [--addr HOST:PORT] [--db FILE]", runDemo},
		"merchant":    {"create a merchant and print its token (on the database)", "merchant add CODE [--name NAME] [--db DB]", merchant},
		"token":       {"create another token for a merchant (on the database)", "token add MERCHANT NAME [--db DB]", token},
		"import":      {"import a CSV file: products, stock, listings, allocations or orders", "import KIND FILE", importFile},
		"export":      {"export a CSV file (to FILE, or standard output)", "export KIND [FILE]", exportFile},
		"quantities":  {"list what a channel may show of every SKU", "quantities CHANNEL", quantities},
		"explain":     {"explain what a channel may show of one SKU", "explain CHANNEL SKU", explain},
		"allocations": {"list allocations", "allocations [--all]", allocations},
		"reserve":     {"reserve stock for channels", "reserve --channel CODE[:RULE]... (--sku SKU:QTY... | --all-skus QTY) [--name NAME] [--priority N]", allocate(allot.Reserve)},
		"presell":     {"pre-sell units on channels", "presell --channel CODE[:RULE]... (--sku SKU:QTY... | --all-skus QTY) [--inbound ID] [--name NAME]", allocate(allot.Presell)},
		"buffer":      {"keep a buffer against backorders", "buffer (--sku SKU:QTY... | --all-skus QTY) [--channel MANUAL_CHANNEL] [--name NAME]", buffer},
		"stop":        {"stop selling SKUs (or all) on channels", "stop --channel CODE... (--sku SKU... | --all-skus)", stop},
		"end":         {"end an allocation now", "end ALLOCATION_ID", end},
		"readiness":   {"check what must be true before trusting allocations", "readiness [CHANNEL]", readiness},
		"history":     {"show the audit history", "history [--sku SKU] [--channel CODE] [--since TIME] [--limit N]", history},
		"bench":       {"measure allot against baselines (see docs/BENCHMARKS.md)", "bench [flash|catalogue|fanout|all] [--engine sqlite|postgres|both] [--scale F]", runBench},
		"soak":        {"run a server under steady traffic and fail if its memory or goroutines grow (see docs/RELIABILITY.md)", "soak [--duration 10m] [--every 5s] [--db postgres://…] [--rate N] [--clients N]", runSoak},
		"help":        {"show this help, or a command's", "help [COMMAND]", nil},
	}
}

// Main runs the command line and returns the process exit code.
func Main(env *Env) int {
	if env.Context == nil {
		env.Context = context.Background()
	}
	if len(env.Args) == 0 {
		printHelp(env.Stderr)
		return 2
	}
	name, args := env.Args[0], env.Args[1:]
	if name == "help" || name == "-h" || name == "--help" {
		if len(args) > 0 {
			if c, ok := commands[args[0]]; ok {
				fmt.Fprintf(env.Stdout, "allot %s\n\n%s.\n", c.usage, c.summary)
				return 0
			}
		}
		printHelp(env.Stdout)
		return 0
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(env.Stderr, "allot: unknown command %q\n\n", name)
		printHelp(env.Stderr)
		return 2
	}
	sub := *env
	sub.Args = args
	if err := c.run(&sub); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		var usage usageError
		if errors.As(err, &usage) {
			fmt.Fprintf(env.Stderr, "allot %s: %s\nusage: allot %s\n", name, usage.msg, c.usage)
			return 2
		}
		fmt.Fprintf(env.Stderr, "allot %s: %s\n", name, describe(err))
		return 1
	}
	return 0
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, `allot decides what each sales channel may show of each product, consumes
orders against it without overselling, and pushes the quantities.

usage: allot COMMAND [ARGS]

`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return order(names[i]) < order(names[j]) })
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
Server commands read ALLOT_ADDR (default 127.0.0.1:8080), ALLOT_DB (default
./allot.db; a postgres:// URL for PostgreSQL) and ALLOT_BOOTSTRAP_TOKEN.
API commands talk to a running server: --url or ALLOT_URL (default
http://127.0.0.1:8080) and --token or ALLOT_TOKEN. Add --json for raw JSON.
'allot help COMMAND' shows a command's usage.
`)
}

func order(name string) int {
	for i, n := range []string{"serve", "demo", "migrate", "merchant", "token", "import", "export", "quantities", "explain",
		"allocations", "reserve", "presell", "buffer", "stop", "end", "readiness", "history", "bench", "help"} {
		if n == name {
			return i
		}
	}
	return 100
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// describe writes an error for people: an API error with its field.
func describe(err error) string {
	var e *allot.Error
	if errors.As(err, &e) {
		msg := e.Message
		if e.Field != "" {
			msg = e.Field + ": " + msg
		}
		for _, s := range e.Shortfall {
			msg += fmt.Sprintf("\n  %s: requested %d, sellable %d", s.SKU, s.Requested, s.Sellable)
		}
		return fmt.Sprintf("%s (%s)", msg, e.Code)
	}
	return err.Error()
}

// flags returns a FlagSet for a command that reports errors as usage errors.
func flags(name string, env *Env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parse parses flags wherever they stand among positional arguments, and
// returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// apiFlags adds the flags of commands that talk to a server.
type apiFlags struct {
	url, token string
	json       bool
}

func (a *apiFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&a.url, "url", envOr("ALLOT_URL", "http://127.0.0.1:8080"), "allot server URL (ALLOT_URL)")
	fs.StringVar(&a.token, "token", os.Getenv("ALLOT_TOKEN"), "API token (ALLOT_TOKEN)")
	fs.BoolVar(&a.json, "json", false, "print raw JSON")
}

func (a *apiFlags) client() (*client.Client, error) {
	if a.token == "" {
		return nil, usagef("an API token is required: --token or ALLOT_TOKEN")
	}
	return client.New(a.url, a.token), nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }
