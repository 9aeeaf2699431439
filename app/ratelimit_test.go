package app_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/app"
	"github.com/allot/allot/client"
)

// ALLOT_RATE_LIMIT sets the limit of a server whose Config says nothing; a
// value that is no limit stops the server from starting, naming it.
func TestRateLimitComesFromTheEnvironment(t *testing.T) {
	start := func() (*app.Server, error) {
		return app.Start(context.Background(), app.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "allot.db"),
			BootstrapToken: allottest.Token, Out: io.Discard, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}
	t.Setenv("ALLOT_RATE_LIMIT", "fast")
	if srv, err := start(); err == nil || !strings.Contains(err.Error(), "ALLOT_RATE_LIMIT") {
		if srv != nil {
			srv.Close()
		}
		t.Fatalf("ALLOT_RATE_LIMIT=fast: %v, want an error naming the variable", err)
	}

	t.Setenv("ALLOT_RATE_LIMIT", "1:2")
	srv, err := start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := client.New(srv.URL(), allottest.Token)
	for i := range 2 {
		if err := c.Do(context.Background(), "GET", "/v1/warehouses", nil, nil); err != nil {
			t.Fatalf("request %d of a burst of 2: %v", i+1, err)
		}
	}
	if err := c.Do(context.Background(), "GET", "/v1/warehouses", nil, nil); allot.ErrorCode(err) != allot.TooMany {
		t.Fatalf("the third request at once: %v, want too_many_requests", err)
	}
}
