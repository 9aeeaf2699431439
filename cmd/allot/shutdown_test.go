package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/client"
	"github.com/allot/allot/generic"
	"github.com/allot/allot/store"
)

// On SIGTERM, `allot serve` lets a request in flight (a CSV import still
// uploading) finish with its full answer, and a push to a slow platform
// already sent complete and be recorded, before it exits: the database,
// reopened afterwards, shows the publication.
func TestSIGTERMFinishesRequestsAndRecordsPushesInFlight(t *testing.T) {
	bin := buildAllot(t)
	db := filepath.Join(t.TempDir(), "allot.db")
	platform := generic.NewPlatform("outlet-secret")
	defer platform.Close()

	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve", "--addr", addr, "--db", db)
	cmd.Env = append(os.Environ(), "ALLOT_BOOTSTRAP_TOKEN="+allottest.Token)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill() // if the test ends before the process
	url := "http://" + addr
	waitHealthy(t, url)

	ctx := context.Background()
	c := client.New(url, allottest.Token)
	for _, step := range []struct {
		path string
		body any
	}{
		{"/v1/warehouses/w1", map[string]any{}},
		{"/v1/products/tee", map[string]any{"name": "T-shirt"}},
		{"/v1/stock/w1/tee", map[string]any{"in_warehouse": 10}},
		{"/v1/channels/outlet", map[string]any{"platform": "generic", "settings": map[string]any{"push_url": platform.PushURL(), "secret": "outlet-secret"}}},
		{"/v1/channels/outlet/listings/OUT-TEE", map[string]any{"sku": "tee"}},
	} {
		if err := c.Do(ctx, "PUT", step.path, step.body, nil); err != nil {
			t.Fatalf("PUT %s: %v", step.path, err)
		}
	}
	eventually(t, "the first push", func() bool { q, ok := platform.Shown("OUT-TEE"); return ok && q == 10 })

	// A CSV import that is still uploading when the signal comes.
	const rows = 20000
	pr, pw := io.Pipe()
	imported := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest("POST", url+"/v1/import/products", pr)
		req.Header.Set("Authorization", "Bearer "+allottest.Token)
		req.Header.Set("Content-Type", "text/csv")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			imported <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		imported <- fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(b))
	}()
	w := bufio.NewWriter(pw)
	fmt.Fprintln(w, "sku,name")
	for i := range rows / 2 {
		fmt.Fprintf(w, "p%05d,Product %d\n", i, i)
	}
	w.Flush()

	// A decrease, pushed at once to a platform that now takes 3 seconds.
	platform.SetDelay(3 * time.Second)
	calls, _ := platform.Calls()
	if err := c.Do(ctx, "PUT", "/v1/stock/w1/tee", map[string]any{"in_warehouse": 4}, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the slow push to start", func() bool { n, _ := platform.Calls(); return n > calls })

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	for i := rows / 2; i < rows; i++ {
		fmt.Fprintf(w, "p%05d,Product %d\n", i, i)
	}
	w.Flush()
	pw.Close()

	select {
	case answer := <-imported:
		if want := fmt.Sprintf(`200 {"imported":%d,"kind":"products"}`, rows); answer != want {
			t.Errorf("the import in flight answered %s, want %s", answer, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the import in flight got no answer")
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("allot serve exited with %v:\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("allot serve did not exit after SIGTERM:\n%s", out.String())
	}
	if q, _ := platform.Shown("OUT-TEE"); q != 4 {
		t.Errorf("the platform shows %d, want 4: the push in flight was cut short", q)
	}
	if !strings.Contains(out.String(), "stopping") {
		t.Errorf("allot serve did not say it was stopping:\n%s", out.String())
	}

	// The database, reopened, has the import and the publication.
	err := readStopped(t, db, "outlet", func(tx *store.Tx, pubs []store.Publication) error {
		if _, err := tx.ProductRef(fmt.Sprintf("p%05d", rows-1)); err != nil {
			return fmt.Errorf("the last product imported: %w", err)
		}
		if len(pubs) != 1 || pubs[0].Quantity != 4 || !pubs[0].Confirmed {
			j, _ := json.Marshal(pubs)
			return fmt.Errorf("publications %s, want OUT-TEE 4 confirmed", j)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func waitHealthy(t *testing.T, url string) {
	t.Helper()
	eventually(t, "allot serve to answer", func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
