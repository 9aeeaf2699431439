package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/allot/allot"
)

// BenchmarkEveryQuantity computes every quantity of a catalogue shaped
// like the benchmark's (allot bench catalogue), a tenth of its size:
// 10,000 SKUs, 10 channels fed by one warehouse, a reserve for one
// channel on every tenth SKU. It is the compute part of a recompute from
// scratch; compare builds with -count and benchstat.
func BenchmarkEveryQuantity(b *testing.B) {
	st := &State{Now: time.Now(), Channels: map[string]*Channel{}, SKUs: map[string]*SKU{}}
	for i := range 10 {
		code := fmt.Sprintf("c%d", i)
		st.Channels[code] = &Channel{Code: code, Warehouses: []string{"w1"}}
	}
	reserve := &Allocation{ID: 1, Seq: 1, Purpose: allot.Reserve, Channels: map[string]allot.Rule{"c1": allot.UseAvailable},
		Lines: map[string]int{}, Consumed: map[string]int{}}
	skus := make([]string, 10000)
	for i := range skus {
		skus[i] = fmt.Sprintf("SKU-%06d", i)
		st.SKUs[skus[i]] = &SKU{Code: skus[i], Stock: map[string]Level{"w1": {InWarehouse: 100 + i%900, Committed: i % 7}}}
		if i%10 == 0 {
			reserve.Lines[skus[i]] = 20
		}
	}
	st.Allocations = []*Allocation{reserve}
	n := 0
	for b.Loop() {
		for _, s := range skus {
			for c := range st.Channels {
				n += st.Published(c, s)
			}
		}
	}
	if n == 0 {
		b.Fatal("every quantity 0")
	}
}
