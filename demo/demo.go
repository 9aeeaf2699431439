// Package demo runs allot with a demo merchant: two warehouses, a few
// products and a bundle, three channels (a B2C store, a B2B store that
// counts unpaid orders with payment terms, and manual orders),
// allocations of each kind, and a light trickle of orders, so that a
// newcomer sees it work within a minute.
package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/app"
	"github.com/allot/allot/service"
)

// Token is the API token of the demo merchant.
const Token = "allot_demo_token"

// Config says where the demo runs.
type Config struct {
	Addr string
	DB   string // a SQLite file, created afresh
	Out  io.Writer
	// Every is the time between two events of the trickle; 0 means 2s.
	Every time.Duration
	Log   *slog.Logger
}

// Demo is a running demo.
type Demo struct {
	Server *app.Server
	who    service.Actor
	cancel context.CancelFunc
	done   sync.WaitGroup
}

// Start starts the server, fills it with the demo data and starts the
// trickle of orders.
func Start(ctx context.Context, c Config) (*Demo, error) {
	if c.Every == 0 {
		c.Every = 2 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := app.Start(ctx, app.Config{Addr: c.Addr, DB: c.DB, BootstrapCode: "demo", BootstrapToken: Token, Out: c.Out, Log: c.Log})
	if err != nil {
		return nil, err
	}
	who, err := srv.Service.Authenticate(ctx, Token)
	if err != nil {
		srv.Close()
		return nil, err
	}
	who.Name = "demo"
	d := &Demo{Server: srv, who: who}
	if err := d.seed(ctx); err != nil {
		srv.Close()
		return nil, fmt.Errorf("demo data: %w", err)
	}
	loop, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.done.Add(1)
	go func() {
		defer d.done.Done()
		d.trickle(loop, c.Every, c.Log)
	}()
	if c.Out != nil {
		fmt.Fprintf(c.Out, `allot demo is running on %[1]s (database %[2]s)

  API         %[1]s/v1      token: %[3]s
  OpenAPI     %[1]s/v1/openapi.json

Try, in another terminal:

  export ALLOT_URL=%[1]s ALLOT_TOKEN=%[3]s
  allot quantities b2c
  allot explain b2c tee-black-m
  allot allocations
  allot readiness
  allot history --limit 10
  curl -s -H "Authorization: Bearer %[3]s" %[1]s/v1/quantities/b2b/tee-black-m

Orders arrive every few seconds; press Ctrl-C to stop.
`, srv.URL(), c.DB, Token)
	}
	return d, nil
}

// Close stops the trickle and the server.
func (d *Demo) Close() error {
	d.cancel()
	d.done.Wait()
	return d.Server.Close()
}

// Products of the demo, with their stock in the main and the east warehouse.
var products = []struct {
	sku, name, barcode string
	main, east         int
}{
	{"tee-black-m", "T-shirt black M", "5012345000011", 120, 40},
	{"tee-black-l", "T-shirt black L", "5012345000028", 80, 0},
	{"hoodie-grey-m", "Hoodie grey M", "5012345000035", 0, 0},
	{"cap-navy", "Cap navy", "5012345000042", 60, 25},
	{"mug-white", "Mug white", "5012345000059", 35, 10},
	{"socks-3pack", "Socks, pack of 3", "5012345000066", 200, 50},
}

func (d *Demo) seed(ctx context.Context) error {
	s, who := d.Server.Service, d.who
	for _, w := range []allot.Warehouse{{Code: "main", Name: "Main fulfilment centre"}, {Code: "east", Name: "East fulfilment centre"}} {
		if _, err := s.PutWarehouse(ctx, who, w); err != nil {
			return err
		}
	}
	for _, p := range products {
		if _, _, err := s.PutProduct(ctx, who, allot.Product{SKU: p.sku, Name: p.name, Barcode: p.barcode}); err != nil {
			return err
		}
		for w, n := range map[string]int{"main": p.main, "east": p.east} {
			if _, err := s.ReportStock(ctx, who, allot.StockReport{Warehouse: w, SKU: p.sku, InWarehouse: n, Damaged: min(n, 2)}); err != nil {
				return err
			}
		}
	}
	kit := allot.Product{SKU: "starter-kit", Name: "Starter kit (tee + cap)",
		Components: []allot.Component{{SKU: "tee-black-m", Quantity: 1}, {SKU: "cap-navy", Quantity: 1}}}
	if _, _, err := s.PutProduct(ctx, who, kit); err != nil {
		return err
	}
	channels := []allot.Channel{
		{Code: "b2c", Name: "Web store (B2C)", Platform: allot.API},
		{Code: "b2b", Name: "Wholesale store (B2B)", Platform: allot.API, CountUnpaid: true, Warehouses: []string{"main"}},
		{Code: "manual", Name: "Manual orders", Platform: allot.Manual},
	}
	for _, c := range channels {
		if _, _, err := s.PutChannel(ctx, who, c); err != nil {
			return err
		}
	}
	// One allocation of each kind.
	if _, err := s.CreateAllocation(ctx, who, service.AllocationParams{Name: "Wholesale T-shirts", Purpose: allot.Reserve,
		Channels: []allot.AllocationChannel{{Channel: "b2b", Rule: allot.UseAvailable}},
		Lines:    []allot.Line{{SKU: "tee-black-m", Quantity: 40}, {SKU: "tee-black-l", Quantity: 30}}}); err != nil {
		return err
	}
	if _, err := s.CreateBuffer(ctx, who, service.BufferParams{Name: "Mug safety margin", Channel: "manual",
		Lines: []allot.Line{{SKU: "mug-white", Quantity: 5}}}); err != nil {
		return err
	}
	if _, err := s.CreateStop(ctx, who, service.StopParams{Name: "No caps for wholesale", Channels: []string{"b2b"},
		SKUs: []string{"cap-navy"}}); err != nil {
		return err
	}
	expected := time.Now().Add(14 * 24 * time.Hour)
	in, err := s.CreateInbound(ctx, who, allot.Inbound{Warehouse: "main", ExpectedAt: &expected,
		Lines: []allot.Line{{SKU: "hoodie-grey-m", Quantity: 200}}})
	if err != nil {
		return err
	}
	_, err = s.CreateAllocation(ctx, who, service.AllocationParams{Name: "Hoodie pre-order", Purpose: allot.Presell,
		Channels: []allot.AllocationChannel{{Channel: "b2c", Rule: allot.FollowAllocation}},
		Lines:    []allot.Line{{SKU: "hoodie-grey-m", Quantity: 150}}, Inbound: &in.ID})
	return err
}

// trickle sends a light stream of orders, cancellations, shipments and
// stock reports until ctx ends.
func (d *Demo) trickle(ctx context.Context, every time.Duration, log *slog.Logger) {
	s, who := d.Server.Service, d.who
	r := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	var open []service.OrderParams
	n := 0
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n++
		var err error
		switch k := r.IntN(100); {
		case k < 55:
			p := service.OrderParams{Channel: "b2c", ExternalID: fmt.Sprintf("B2C-%05d", n), Payment: allot.Paid,
				Lines: []allot.Line{{SKU: products[r.IntN(len(products))].sku, Quantity: 1 + r.IntN(2)}}}
			if r.IntN(5) == 0 {
				p.Lines = []allot.Line{{SKU: "starter-kit", Quantity: 1}}
			}
			_, _, err = s.ImportOrder(ctx, who, p)
			open = append(open, p)
		case k < 70:
			p := service.OrderParams{Channel: "b2b", ExternalID: fmt.Sprintf("B2B-%05d", n), Payment: allot.Terms,
				Lines: []allot.Line{{SKU: "tee-black-m", Quantity: 2 + r.IntN(5)}, {SKU: "socks-3pack", Quantity: 5}}}
			if _, _, err = s.PlaceOrder(ctx, who, p); err == nil {
				open = append(open, p)
			}
		case k < 80:
			p := service.OrderParams{Channel: "manual", ExternalID: fmt.Sprintf("MAN-%05d", n), Payment: allot.Paid,
				Lines: []allot.Line{{SKU: "mug-white", Quantity: 1 + r.IntN(3)}}}
			if _, _, err = s.PlaceOrder(ctx, who, p); err == nil {
				open = append(open, p)
			}
		case k < 88 && len(open) > 0:
			i := r.IntN(len(open))
			_, err = s.CancelOrder(ctx, who, open[i].Channel, open[i].ExternalID, nil)
			open = append(open[:i], open[i+1:]...)
		case len(open) > 3:
			_, err = s.ShipOrder(ctx, who, open[0].Channel, open[0].ExternalID, nil)
			open = open[1:]
		default:
			p := products[r.IntN(len(products))]
			st, lerr := s.ListStock(ctx, who, p.sku)
			if lerr == nil && len(st) > 0 {
				_, err = s.ReportStock(ctx, who, allot.StockReport{Warehouse: st[0].Warehouse, SKU: p.sku,
					InWarehouse: st[0].InWarehouse + 10 + r.IntN(20), Damaged: st[0].Damaged})
			}
		}
		if err != nil && allot.ErrorCode(err) != allot.InsufficientStock && ctx.Err() == nil {
			log.Warn("demo event", "err", err)
		}
	}
}
