// Package allottest starts real allot servers for tests: each test gets its
// own freshly migrated database and a server on 127.0.0.1:0, and talks to
// it over HTTP like any client.
package allottest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to create test schemas

	"github.com/allot/allot/app"
	"github.com/allot/allot/client"
	"github.com/allot/allot/httpapi"
	"github.com/allot/allot/store"
	"github.com/allot/allot/syncer"
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
	// Engine is "sqlite" (the default) or "postgres": the server gets a
	// fresh database of it, unless DB names one.
	Engine string
	DB     string
	// Settle, SyncInterval, Lease and CallTimeout tune the
	// synchronisation (0: the test defaults, 100ms, 20ms, 30s and 30s).
	Settle, SyncInterval, Lease, CallTimeout time.Duration
	// RateLimit bounds the requests of each token. Tests send many
	// requests at once, so it is off unless a test sets it.
	RateLimit httpapi.RateLimit
	// Log receives the server's log (nil: discarded).
	Log *slog.Logger
	// Connect overrides the connectors of the channels (nil: the real
	// ones).
	Connect syncer.Factory
}

// PostgresEnv names the variable that holds the URL of the PostgreSQL
// server the tests may use, such as
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. Unset, the
// tests run on SQLite alone.
const PostgresEnv = "ALLOT_TEST_POSTGRES"

// Engines returns the engines the storage tests run on: SQLite always,
// PostgreSQL when PostgresEnv is set.
func Engines() []string {
	if os.Getenv(PostgresEnv) != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// Each runs fn as a subtest on every engine of Engines; fn passes the
// engine on in Options.Engine.
func Each(t *testing.T, fn func(t *testing.T, engine string)) {
	t.Helper()
	for _, engine := range Engines() {
		t.Run(engine, func(t *testing.T) { fn(t, engine) })
	}
}

// Database returns a fresh, empty database of the engine for t: a SQLite
// file in its temporary folder, or a PostgreSQL schema of its own on the
// server of PostgresEnv, dropped when t ends.
func Database(t testing.TB, engine string) string {
	t.Helper()
	if engine == "sqlite" {
		return filepath.Join(t.TempDir(), "allot.db")
	}
	dsn, drop, err := PostgresSchema()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	return dsn
}

// OpenDB opens a fresh database of the engine for t (see Database),
// migrated, and closed when t ends.
func OpenDB(t testing.TB, engine string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, Database(t, engine))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// PostgresSchema creates a schema of its own on the server of PostgresEnv
// and returns a URL that uses it, and a function that drops it.
func PostgresSchema() (string, func(), error) {
	url := os.Getenv(PostgresEnv)
	if url == "" {
		return "", nil, fmt.Errorf("%s is not set: no PostgreSQL to test on", PostgresEnv)
	}
	admin, err := sql.Open("pgx", url)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "allot_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create a schema on %s: %w", PostgresEnv, err)
	}
	drop := func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	}
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema, drop, nil
}

// Server starts a server for t and returns it with a client of its
// default merchant. Both are closed when t ends.
func Server(t testing.TB, opt Options) (*app.Server, *client.Client) {
	t.Helper()
	db := opt.DB
	if db == "" {
		engine := opt.Engine
		if engine == "" {
			engine = "sqlite"
		}
		db = Database(t, engine)
	}
	c := app.Config{Addr: "127.0.0.1:0", DB: db, BootstrapToken: Token, Out: io.Discard,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Settle: opt.Settle, SyncInterval: opt.SyncInterval, Lease: opt.Lease,
		CallTimeout: opt.CallTimeout}
	c.Connect = opt.Connect
	c.RateLimit = opt.RateLimit
	if c.RateLimit == (httpapi.RateLimit{}) {
		c.RateLimit = httpapi.NoRateLimit
	}
	if opt.Log != nil {
		c.Log = opt.Log
	}
	if c.Settle == 0 {
		c.Settle = 100 * time.Millisecond
	}
	if c.SyncInterval == 0 {
		c.SyncInterval = 20 * time.Millisecond
	}
	c.PollEvery = 50 * time.Millisecond
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
