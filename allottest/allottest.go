// Package allottest starts real allot servers for tests: each test gets its
// own freshly migrated database and a server on 127.0.0.1:0, and talks to
// it over HTTP like any client.
package allottest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/app"
	"github.com/allot/allot/client"
)

// Token is the API token of the merchant "default" of every test server.
const Token = "allot_test_token_0123456789"

// Clock is a settable clock for tests of time windows, holds and ages.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Options change a test server.
type Options struct {
	Clock *Clock // nil: the real clock
	DB    string // nil: a fresh SQLite file in the test's temporary folder
}

// Server starts a server for t and returns it with a client of its
// default merchant. Both are closed when t ends.
func Server(t testing.TB, opt Options) (*app.Server, *client.Client) {
	t.Helper()
	db := opt.DB
	if db == "" {
		db = filepath.Join(t.TempDir(), "allot.db")
	}
	c := app.Config{Addr: "127.0.0.1:0", DB: db, BootstrapToken: Token, Out: io.Discard,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if opt.Clock != nil {
		c.Now = opt.Clock.Now
	}
	srv, err := app.Start(context.Background(), c)
	if err != nil {
		t.Fatalf("start allot: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, client.New(srv.URL(), Token)
}
