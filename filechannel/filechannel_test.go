package filechannel_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/allottest"
)

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// lastQuantities reads the newest quantities file of the folder.
func lastQuantities(folder string) string {
	names, _ := filepath.Glob(filepath.Join(folder, "quantities", "quantities-*.csv"))
	if len(names) == 0 {
		return ""
	}
	b, _ := os.ReadFile(names[len(names)-1])
	return string(b)
}

func TestFileChannelWritesQuantitiesAndImportsOrderFiles(t *testing.T) {
	folder := t.TempDir()
	_, c := allottest.Server(t, allottest.Options{})
	ctx := context.Background()
	for _, s := range []struct {
		path string
		body any
	}{
		{"/v1/warehouses/w1", map[string]any{}},
		{"/v1/products/tee", map[string]any{"name": "T-shirt"}},
		{"/v1/channels/wholesale", map[string]any{"platform": "file", "settings": map[string]any{"folder": folder}}},
		{"/v1/channels/wholesale/listings/W-TEE", map[string]any{"sku": "tee"}},
		{"/v1/stock/w1/tee", map[string]any{"in_warehouse": 12}},
	} {
		if err := c.Do(ctx, "PUT", s.path, s.body, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "a quantities file with 12", func() bool { return strings.Contains(lastQuantities(folder), "W-TEE,tee,12") })

	os.MkdirAll(filepath.Join(folder, "orders"), 0o755)
	os.WriteFile(filepath.Join(folder, "orders", "a.csv"), []byte("external_id,listing,quantity,payment\nF-1,W-TEE,5,paid\n"), 0o644)
	os.WriteFile(filepath.Join(folder, "orders", "b.csv"), []byte("external_id,listing,quantity\nF-2,W-TEE,ten\n"), 0o644)
	waitFor(t, "the order file imported", func() bool {
		_, err := os.Stat(filepath.Join(folder, "orders", "done", "a.csv"))
		return err == nil
	})
	waitFor(t, "the bad file refused", func() bool {
		b, err := os.ReadFile(filepath.Join(folder, "orders", "failed", "b.csv.error.txt"))
		return err == nil && strings.Contains(string(b), "line 2.quantity")
	})
	waitFor(t, "a quantities file with 7", func() bool { return strings.Contains(lastQuantities(folder), "W-TEE,tee,7") })
	var o map[string]any
	if err := c.Do(ctx, "GET", "/v1/orders/wholesale/F-1", nil, &o); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "GET", "/v1/orders/wholesale/F-2", nil, nil); err == nil {
		t.Fatal("the refused file's order was imported")
	}
}
