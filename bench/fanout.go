package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/app"
	"github.com/allot/allot/service"
	"github.com/allot/allot/shopify"
	"github.com/allot/allot/shopify/shopifysim"
	"github.com/allot/allot/store"
	"github.com/allot/allot/syncer"
)

// FanoutResult is the push fan-out to simulated Shopify stores.
type FanoutResult struct {
	Stores, Listings, Changes int
	Elapsed                   time.Duration
	Pushed                    int // quantities the stores received
	Calls                     int // inventorySetQuantities calls
	Throttled                 int
	// Mismatches are listings whose store does not show what allot
	// publishes, once every push is done.
	Mismatches []string
	// The baseline pushes one quantity a call, as it comes, for a sample.
	BaselineQuantities int
	BaselineElapsed    time.Duration
}

// PerSecond is quantities set on the stores per second.
func (r FanoutResult) PerSecond() float64 { return float64(r.Pushed) / r.Elapsed.Seconds() }

// CallsPer1000 is calls per 1,000 changes.
func (r FanoutResult) CallsPer1000() float64 { return float64(r.Calls) * 1000 / float64(r.Changes) }

// Fanout runs scenario 5: skus listings on each of two simulated Shopify
// stores (real limits: 250 quantities a call, the cost bucket), then rounds
// of stock reports that change every SKU's quantity; it measures how fast
// the stores get them and how many calls 1,000 changes take.
func Fanout(ctx context.Context, cfg Config, skus, rounds int) (FanoutResult, error) {
	res := FanoutResult{Stores: 2, Listings: 2 * skus}
	// No settling delay: the scenario measures how fast pushes go out,
	// not how long increases are held back.
	srv, c, done, err := cfg.server(ctx, func(a *app.Config) { a.Settle = time.Millisecond })
	if err != nil {
		return res, err
	}
	defer done()
	svc := srv.Service
	who, err := svc.Authenticate(ctx, "allot_test_token_0123456789")
	if err != nil {
		return res, err
	}
	if _, err := svc.PutWarehouse(ctx, who, allot.Warehouse{Code: "w1"}); err != nil {
		return res, err
	}
	products := make([]service.ProductLine, skus)
	for i := range skus {
		sku := fmt.Sprintf("SKU-%06d", i)
		products[i] = service.ProductLine{Line: i + 2, Product: allot.Product{SKU: sku, Name: sku}}
	}
	if _, err := svc.ImportProducts(ctx, who, products); err != nil {
		return res, err
	}
	var stores []*shopifysim.Store
	items := map[string]map[string]string{} // channel → listing → inventory item
	for s := range 2 {
		st := shopifysim.New(shopifysim.Options{AccessToken: "shpat_bench"})
		base, err := st.Start()
		if err != nil {
			return res, err
		}
		defer st.Close()
		stores = append(stores, st)
		remote := make([]service.RemoteListing, skus)
		for i := range skus {
			p := st.AddProduct("P", shopifysim.Variant{SKU: products[i].SKU})
			remote[i] = service.RemoteListing{ExternalID: p.Variants[0].ID, PushRef: p.Variants[0].InventoryItemID, SKU: products[i].SKU}
		}
		code := "shop" + strconv.Itoa(s+1)
		items[code] = map[string]string{}
		for _, r := range remote {
			items[code][r.ExternalID] = r.PushRef
		}
		if _, _, err := svc.PutChannel(ctx, who, allot.Channel{Code: code, Platform: allot.Shopify, Settings: map[string]any{
			"shop_url": base, "access_token": "shpat_bench", "location_id": "gid://shopify/Location/1", "webhook_secret": "s"}}); err != nil {
			return res, err
		}
		if _, err := svc.LinkListings(ctx, who, code, remote); err != nil {
			return res, err
		}
	}
	report := func(round int) error {
		lines := make([]service.StockLine, skus)
		for i, p := range products {
			lines[i] = service.StockLine{Line: i + 2, StockReport: allot.StockReport{Warehouse: "w1", SKU: p.SKU, InWarehouse: 10 + (i+round)%50}}
		}
		_, err := svc.ImportStock(ctx, who, lines)
		return err
	}
	// A first report, pushed and settled, so that the measured rounds are
	// changes to quantities the stores show already.
	if err := report(0); err != nil {
		return res, err
	}
	if err := waitNothingPending(ctx, srv.DB); err != nil {
		return res, err
	}
	var before shopifysim.Stats
	for _, st := range stores {
		s := st.Stats()
		before.MutationCalls += s.MutationCalls
		before.QuantitiesSet += s.QuantitiesSet
		before.ThrottledCalls += s.ThrottledCalls
	}
	start := time.Now()
	for r := 1; r <= rounds; r++ {
		if err := report(r * 7); err != nil { // every SKU changes in every round
			return res, err
		}
	}
	res.Changes = rounds * 2 * skus
	if err := waitNothingPending(ctx, srv.DB); err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	for _, st := range stores {
		s := st.Stats()
		res.Calls += s.MutationCalls
		res.Pushed += s.QuantitiesSet
		res.Throttled += s.ThrottledCalls
	}
	for i, st := range stores {
		code := "shop" + strconv.Itoa(i+1)
		m, err := mismatches(ctx, c, code, skus, func(listing string) (int, bool) {
			item, ok := items[code][listing]
			return st.Available(item), ok
		})
		if err != nil {
			return res, err
		}
		res.Mismatches = append(res.Mismatches, m...)
	}
	res.Calls -= before.MutationCalls
	res.Pushed -= before.QuantitiesSet
	res.Throttled -= before.ThrottledCalls

	if cfg.SkipBaselines {
		return res, nil
	}
	// Baseline: a pusher without coalescing or batching sets each change
	// as it comes, one quantity a call, under the same limits: a sample.
	st := shopifysim.New(shopifysim.Options{AccessToken: "shpat_bench"})
	base, err := st.Start()
	if err != nil {
		return res, err
	}
	defer st.Close()
	conn, err := shopify.New(store.ChannelRow{Channel: allot.Channel{Code: "naive", Settings: map[string]any{"shop_url": base,
		"access_token": "shpat_bench", "location_id": "gid://shopify/Location/1"}}})
	if err != nil {
		return res, err
	}
	sample := min(300, max(10, skus/10))
	naive := make([]syncer.Item, 0, sample)
	for i := range sample {
		p := st.AddProduct("P", shopifysim.Variant{SKU: "S" + strconv.Itoa(i)})
		naive = append(naive, syncer.Item{ExternalID: p.Variants[0].ID, PushRef: p.Variants[0].InventoryItemID, Quantity: i % 40, Key: "k" + strconv.Itoa(i)})
	}
	start = time.Now()
	for _, it := range naive {
		if _, err := conn.Push(ctx, []syncer.Item{it}); err != nil {
			return res, err
		}
	}
	res.BaselineElapsed = time.Since(start)
	res.BaselineQuantities = len(naive)
	return res, nil
}

func waitNothingPending(ctx context.Context, db *store.DB) error {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		marked, err := db.MarkedMerchants(ctx)
		if err != nil {
			return err
		}
		pending, err := db.AnyPending(ctx)
		if err != nil {
			return err
		}
		if !pending && len(marked) == 0 {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("pushes still pending after 10 minutes")
}

// PrintFanout writes scenario 5.
func PrintFanout(cfg Config, r FanoutResult) {
	fmt.Fprintf(cfg.Out, "\npush fan-out: %d listings on %d simulated Shopify stores (250 a call, cost bucket 2000, 100/s); %d changes in %.2f s\n",
		r.Listings, r.Stores, r.Changes, r.Elapsed.Seconds())
	rows := [][]string{{"contender", "quantities/s", "calls per 1,000 changes", "throttled calls"},
		{"allot", fmt.Sprintf("%.0f", r.PerSecond()), fmt.Sprintf("%.1f", r.CallsPer1000()), strconv.Itoa(r.Throttled)}}
	if r.BaselineQuantities == 0 { // --no-baselines
		table(cfg.Out, rows)
	} else {
		base := float64(r.BaselineQuantities) / r.BaselineElapsed.Seconds()
		table(cfg.Out, append(rows, []string{"baseline: one quantity a call, as it comes", fmt.Sprintf("%.0f", base), "1000.0", "-"}))
		fmt.Fprintf(cfg.Out, "ratio: allot/baseline = %.0f× quantities/s, %.0f× fewer calls\n", r.PerSecond()/base, 1000/r.CallsPer1000())
	}
	fmt.Fprintf(cfg.Out, "listings whose store does not show what allot publishes, once pushed: %d\n", len(r.Mismatches))
}
