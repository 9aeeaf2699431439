package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/cli"
)

// run runs the command line against url and returns its exit code and output.
func run(t *testing.T, url string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	full := append(append([]string{}, args...), "--url", url, "--token", allottest.Token)
	if len(args) > 0 && (args[0] == "help" || args[0] == "migrate" || args[0] == "merchant") {
		full = args
	}
	code := cli.Main(&cli.Env{Args: full, Stdout: &out, Stderr: &errOut, Context: context.Background()})
	return code, out.String(), errOut.String()
}

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func must(t *testing.T, url string, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, url, args...)
	if code != 0 {
		t.Fatalf("allot %s: exit %d: %s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func TestCLIImportsFilesAndExplainsQuantities(t *testing.T) {
	srv, c := allottest.Server(t, allottest.Options{})
	url := srv.URL()
	ctx := context.Background()
	c.Do(ctx, "PUT", "/v1/warehouses/w1", map[string]any{"name": "Main"}, nil)
	c.Do(ctx, "PUT", "/v1/channels/b2c", map[string]any{"platform": "api"}, nil)
	c.Do(ctx, "PUT", "/v1/channels/b2b", map[string]any{"platform": "api"}, nil)
	c.Do(ctx, "PUT", "/v1/channels/manual", map[string]any{"platform": "manual"}, nil)

	out := must(t, url, "import", "products", write(t, "p.csv", "sku,name,barcode\ntee,T-shirt,123\ncap,Cap,\n"))
	if !strings.Contains(out, "imported 2 products") {
		t.Fatalf("import products: %q", out)
	}
	must(t, url, "import", "stock", write(t, "s.csv", "warehouse,sku,in_warehouse,damaged\nw1,tee,100,0\nw1,cap,10,2\n"))
	must(t, url, "reserve", "--channel", "b2b:use_available", "--sku", "tee:30", "--name", "B2B")
	must(t, url, "stop", "--channel", "b2b", "--sku", "cap")
	must(t, url, "buffer", "--sku", "cap:3", "--channel", "manual")

	out = must(t, url, "quantities", "b2c")
	for _, want := range []string{"tee", "70", "cap", "5"} {
		if !strings.Contains(out, want) {
			t.Fatalf("quantities b2c: %q lacks %q", out, want)
		}
	}
	if out := must(t, url, "explain", "b2c", "tee"); strings.TrimSpace(out) != `b2c 70 = available 100 − reserve "B2B" 30` {
		t.Fatalf("explain: %q", out)
	}
	if out := must(t, url, "allocations"); !strings.Contains(out, "B2B") || !strings.Contains(out, "stop selling on b2b") {
		t.Fatalf("allocations: %q", out)
	}
	must(t, url, "end", "1")
	if out := must(t, url, "explain", "b2c", "tee"); strings.TrimSpace(out) != "b2c 100 = available 100" {
		t.Fatalf("explain after end: %q", out)
	}
	if out := must(t, url, "readiness", "b2c"); !strings.Contains(out, "b2c: ready") {
		t.Fatalf("readiness: %q", out)
	}
	if out := must(t, url, "history", "--sku", "tee"); !strings.Contains(out, "stock.report") || !strings.Contains(out, "allocation.end") {
		t.Fatalf("history: %q", out)
	}
	file := filepath.Join(t.TempDir(), "stock.csv")
	must(t, url, "export", "stock", file)
	got, _ := os.ReadFile(file)
	if !strings.Contains(string(got), "w1,tee,100,0,0,100,0,") {
		t.Fatalf("exported stock: %q", got)
	}
}

func TestCLIReportsBadFilesWithTheirLine(t *testing.T) {
	srv, _ := allottest.Server(t, allottest.Options{})
	code, _, errOut := run(t, srv.URL(), "import", "products", write(t, "p.csv", "sku,name\ntee,T-shirt\n,Nameless\n"))
	if code != 1 || !strings.Contains(errOut, "line 3.sku") {
		t.Fatalf("exit %d, stderr %q: want the line named", code, errOut)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	srv, _ := allottest.Server(t, allottest.Options{})
	if code, _, errOut := run(t, srv.URL(), "explain", "b2c"); code != 2 || !strings.Contains(errOut, "usage: allot explain") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if code, out, _ := run(t, srv.URL(), "help"); code != 0 || !strings.Contains(out, "reserve") {
		t.Fatalf("help: exit %d, %q", code, out)
	}
	if code, _, errOut := run(t, srv.URL(), "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestCLIMigratesAndCreatesMerchants(t *testing.T) {
	db := filepath.Join(t.TempDir(), "m.db")
	if code, out, errOut := run(t, "", "migrate", "--db", db); code != 0 || !strings.Contains(out, "at migration 10") {
		t.Fatalf("migrate: exit %d, %q %q", code, out, errOut)
	}
	if code, out, errOut := run(t, "", "merchant", "add", "acme", "--db", db); code != 0 || !strings.Contains(out, "allot_") {
		t.Fatalf("merchant add: exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut := run(t, "", "merchant", "add", "acme", "--db", db); code != 1 || !strings.Contains(errOut, "exists") {
		t.Fatalf("merchant add twice: exit %d, %q", code, errOut)
	}
}
