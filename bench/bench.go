// Package bench measures allot where others fall over: a flash sale on one
// SKU, a steady stream of orders over a large catalogue, a full stock
// report, a recompute from scratch, and the push fan-out to Shopify
// stores. Each scenario measures a baseline in the same run, on the same
// machine and database, and reports ratios, since shared machines are
// noisy. `allot bench` runs them; docs/BENCHMARKS.md has the figures.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/app"
	"github.com/allot/allot/client"
	"github.com/allot/allot/httpapi"
)

// Config says where and how big to run.
type Config struct {
	// Engine is "sqlite" or "postgres"; Postgres is the server URL for the
	// latter (a schema of its own is created and dropped).
	Engine   string
	Postgres string
	// Dir holds SQLite files.
	Dir string
	// Scale multiplies the sizes (1: the documented sizes).
	Scale float64
	Out   io.Writer
	// SkipBaselines runs allot alone (for profiling).
	SkipBaselines bool
}

func (c Config) n(full int) int { return max(1, int(float64(full)*c.Scale)) }

// database returns a fresh database of the config's engine, and its cleanup.
func (c Config) database(ctx context.Context) (string, func(), error) {
	if c.Engine == "postgres" {
		old := os.Getenv(allottest.PostgresEnv)
		os.Setenv(allottest.PostgresEnv, c.Postgres)
		dsn, drop, err := allottest.PostgresSchema()
		os.Setenv(allottest.PostgresEnv, old)
		return dsn, drop, err
	}
	path := filepath.Join(c.Dir, fmt.Sprintf("bench-%x.db", rand.Uint64()))
	return path, func() {
		for _, s := range []string{"", "-wal", "-shm"} {
			os.Remove(path + s)
		}
	}, nil
}

// server starts allot on a fresh database with a merchant whose token is
// allottest.Token.
func (c Config) server(ctx context.Context, tune func(*app.Config)) (*app.Server, *client.Client, func(), error) {
	dsn, drop, err := c.database(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	// The benchmark's clients all use one token: no rate limit.
	cfg := app.Config{Addr: "127.0.0.1:0", DB: dsn, BootstrapToken: allottest.Token, Out: io.Discard,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), RateLimit: httpapi.NoRateLimit}
	if tune != nil {
		tune(&cfg)
	}
	srv, err := app.Start(ctx, cfg)
	if err != nil {
		drop()
		return nil, nil, nil, err
	}
	cl := client.New(srv.URL(), allottest.Token)
	cl.HTTP = httpClient()
	return srv, cl, func() { srv.Close(); drop() }, nil
}

// httpClient keeps a connection per client goroutine alive.
func httpClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 1024
	return &http.Client{Transport: t, Timeout: time.Minute}
}

// Latencies summarises request latencies.
type Latencies []time.Duration

// Quantile returns the q-quantile (0..1).
func (l Latencies) Quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// table prints rows as aligned columns.
func table(w io.Writer, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for _, r := range rows {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+2))
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// setup creates what every scenario needs through the API.
func setup(ctx context.Context, c *client.Client, steps ...[2]any) error {
	for _, s := range steps {
		if err := c.Do(ctx, "PUT", s[0].(string), s[1], nil); err != nil {
			return fmt.Errorf("PUT %s: %w", s[0], err)
		}
	}
	return nil
}
