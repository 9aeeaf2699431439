package bench_test

import (
	"context"
	"os"
	"testing"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/bench"
)

// A small flash sale on every engine: a test of correctness (nothing
// oversold, nothing acknowledged lost), not of speed.
func TestSmallFlashSaleNeverOversells(t *testing.T) {
	for _, engine := range allottest.Engines() {
		t.Run(engine, func(t *testing.T) {
			cfg := bench.Config{Engine: engine, Postgres: os.Getenv(allottest.PostgresEnv), Dir: t.TempDir(), Scale: 1, Out: os.Stdout}
			rs, err := bench.FlashSale(context.Background(), cfg, 300, 32)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.Accepted != 300 || r.Oversold != 0 || r.Lost != 0 || r.Errors != 0 {
					t.Errorf("%s: %+v; want exactly the 300 units accepted, none oversold or lost, no error", r.Name, r)
				}
			}
			if testing.Verbose() {
				bench.PrintFlash(cfg, 300, 32, rs)
			}
		})
	}
}
