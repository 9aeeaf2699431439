package app_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/app"
	"github.com/allot/allot/cli"
	"github.com/allot/allot/client"
	"github.com/allot/allot/generic"
	"github.com/allot/allot/httpapi"
)

// A server run through a few hundred mixed requests, webhooks and pushes
// leaves no goroutine behind once closed: the count returns to what it was
// before it started.
func TestClosedServerLeavesNoGoroutines(t *testing.T) {
	platform := generic.NewPlatform("leak-secret")
	defer platform.Close()
	transport := &http.Transport{}
	httpClient := &http.Client{Transport: transport}
	settle()
	before := runtime.NumGoroutine()

	srv, err := app.Start(context.Background(), app.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "allot.db"),
		BootstrapToken: allottest.Token, Out: io.Discard, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Settle: 10 * time.Millisecond, SyncInterval: 10 * time.Millisecond, PollEvery: 20 * time.Millisecond,
		RateLimit: httpapi.RateLimit{Rate: 10000, Burst: 10000}})
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(srv.URL(), allottest.Token)
	c.HTTP = httpClient
	ctx := context.Background()
	must := func(method, path string, body any) {
		t.Helper()
		if err := c.Do(ctx, method, path, body, nil); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	must("PUT", "/v1/warehouses/w1", map[string]any{})
	must("PUT", "/v1/channels/shop", map[string]any{"platform": "api"})
	must("PUT", "/v1/channels/outlet", map[string]any{"platform": "generic", "settings": map[string]any{"push_url": platform.PushURL(),
		"read_url": platform.ReadURL(), "secret": "leak-secret"}})
	for i := range 20 {
		sku := fmt.Sprintf("sku-%d", i)
		must("PUT", "/v1/products/"+sku, map[string]any{"name": sku})
		must("PUT", "/v1/stock/w1/"+sku, map[string]any{"in_warehouse": 1000})
		must("PUT", "/v1/channels/outlet/listings/L-"+sku, map[string]any{"sku": sku})
	}
	for i := range 300 {
		sku := fmt.Sprintf("sku-%d", i%20)
		switch i % 6 {
		case 0:
			must("POST", "/v1/orders", map[string]any{"channel": "shop", "external_id": fmt.Sprintf("o%d", i),
				"lines": []map[string]any{{"sku": sku, "quantity": 1}}})
		case 1:
			must("GET", "/v1/quantities/outlet/"+sku, nil)
		case 2:
			body := []byte(fmt.Sprintf(`{"external_id":"w%d","lines":[{"listing":"L-%s","quantity":1}],"payment":"paid"}`, i, sku))
			req, _ := http.NewRequest("POST", srv.URL()+"/webhooks/generic/outlet", bytes.NewReader(body))
			now := time.Now()
			req.Header.Set(generic.TimestampHeader, strconv.FormatInt(now.Unix(), 10))
			req.Header.Set(generic.SignatureHeader, generic.Sign("leak-secret", now, body))
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("webhook answered %d", resp.StatusCode)
			}
		case 3:
			must("PUT", "/v1/stock/w1/"+sku, map[string]any{"in_warehouse": 1000 - i})
		case 4:
			c.Do(ctx, "POST", "/v1/orders", map[string]any{"channel": "nope", "external_id": "x", "lines": []any{}}, nil) // refused
		case 5:
			var csv bytes.Buffer
			if err := c.Download(ctx, "/v1/export/orders", &csv); err != nil {
				t.Fatal(err)
			}
		}
	}
	must("POST", "/v1/channels/outlet/drift", nil)
	deadline := time.Now().Add(10 * time.Second)
	for len(platform.Accepted()) < 20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(platform.Accepted()) < 20 {
		t.Fatalf("the platform took %d pushes, want at least one per listing", len(platform.Accepted()))
	}

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	transport.CloseIdleConnections()
	deadline = time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		var dump strings.Builder
		pprof.Lookup("goroutine").WriteTo(&dump, 1)
		t.Fatalf("%d goroutines before the server, %d after it closed:\n%s", before, after, dump.String())
	}
}

// settle lets goroutines that are ending end, so that a count is stable.
func settle() {
	for i, last := 0, -1; i < 50; i++ {
		n := runtime.NumGoroutine()
		if n == last {
			return
		}
		last = n
		time.Sleep(20 * time.Millisecond)
	}
}

var soakFor = flag.Duration("soak", 25*time.Second, "how long TestSoakKeepsHeapAndGoroutinesSteady runs (the documented soak: 10m)")

// `allot soak`, the server under steady mixed traffic (placed, imported
// and shipped orders, webhooks, stock reports, allocations, reads), keeps
// its live heap and its goroutines steady and fails no request. CI runs
// it for 25 seconds; -soak=10m runs the documented soak.
func TestSoakKeepsHeapAndGoroutinesSteady(t *testing.T) {
	var out bytes.Buffer
	every := max(time.Second, *soakFor/60)
	code := cli.Main(&cli.Env{Args: []string{"soak", "--duration", soakFor.String(), "--every", every.String()},
		Stdout: &out, Stderr: &out, Context: context.Background()})
	t.Log("\n" + out.String())
	if code != 0 {
		t.Fatalf("allot soak exited with %d", code)
	}
}
