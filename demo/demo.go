// Package demo runs allot with a demo merchant: two warehouses, a few
// products and a bundle, three channels (a B2C and a B2B store on two
// simulated Shopify stores, the B2B one counting unpaid orders with
// payment terms, and manual orders), allocations of each kind, and a light
// trickle of orders placed on the stores (they reach allot by signed
// webhooks) and by hand, so that a newcomer sees it work within a minute.
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
	"github.com/allot/allot/shopify/shopifysim"
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
	// Stores are the simulated Shopify stores, by channel code.
	Stores map[string]*shopifysim.Store
	items  map[string]string // variant gid → inventory item gid
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
	d := &Demo{Server: srv, who: who, Stores: map[string]*shopifysim.Store{}, items: map[string]string{}}
	if err := d.seed(ctx); err != nil {
		d.closeStores()
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
  Metrics     %[1]s/metrics
  Stores      simulated Shopify B2C at %[4]s, B2B at %[5]s

Try, in another terminal:

  export ALLOT_URL=%[1]s ALLOT_TOKEN=%[3]s
  allot quantities b2c
  allot explain b2c tee-black-m
  allot allocations
  allot readiness
  allot history --limit 10
  curl -s -H "Authorization: Bearer %[3]s" %[1]s/v1/quantities/b2b/tee-black-m

Orders arrive every few seconds; press Ctrl-C to stop.
`, srv.URL(), c.DB, Token, d.Stores["b2c"].URL(), d.Stores["b2b"].URL())
	}
	return d, nil
}

// Close stops the trickle, the server and the stores.
func (d *Demo) Close() error {
	d.cancel()
	d.done.Wait()
	err := d.Server.Close()
	d.closeStores()
	return err
}

func (d *Demo) closeStores() {
	for _, st := range d.Stores {
		st.Close()
	}
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
	kit := allot.Product{SKU: "starter-kit", Name: "Starter kit (tee + cap)", Barcode: "5012345000073",
		Components: []allot.Component{{SKU: "tee-black-m", Quantity: 1}, {SKU: "cap-navy", Quantity: 1}}}
	if _, _, err := s.PutProduct(ctx, who, kit); err != nil {
		return err
	}
	// Two simulated Shopify stores: the B2C store's variants carry allot's
	// SKUs; the B2B store's carry their own codes, and link by barcode.
	for _, code := range []string{"b2c", "b2b"} {
		st := shopifysim.New(shopifysim.Options{Domain: code + "-demo.myshopify.com", AccessToken: "shpat_demo_" + code,
			WebhookSecret: "demo_webhook_secret_" + code})
		if _, err := st.Start(); err != nil {
			return err
		}
		d.Stores[code] = st
		for i, p := range products {
			v := shopifysim.Variant{SKU: p.sku, Barcode: p.barcode}
			if code == "b2b" {
				v.SKU = fmt.Sprintf("WS-%03d", i+1)
			}
			d.remember(st.AddProduct(p.name, v))
		}
		kit := shopifysim.Variant{SKU: "starter-kit", Barcode: "5012345000073"}
		if code == "b2b" {
			kit.SKU = "WS-KIT"
		}
		d.remember(st.AddProduct("Starter kit", kit))
		st.SetWebhook(d.Server.URL() + "/webhooks/shopify/" + code)
	}
	channels := []allot.Channel{
		{Code: "b2c", Name: "Web store (B2C)", Platform: allot.Shopify, Settings: d.settings("b2c")},
		{Code: "b2b", Name: "Wholesale store (B2B)", Platform: allot.Shopify, CountUnpaid: true, Warehouses: []string{"main"},
			Settings: d.settings("b2b")},
		{Code: "manual", Name: "Manual orders", Platform: allot.Manual},
	}
	for _, c := range channels {
		if _, _, err := s.PutChannel(ctx, who, c); err != nil {
			return err
		}
		if c.Platform == allot.Shopify {
			if _, err := d.Server.Sync.Link(ctx, who.Merchant, c.Code); err != nil {
				return err
			}
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
			// A shopper buys on the B2C store; the order reaches allot by
			// its webhook.
			sku := products[r.IntN(len(products))].sku
			if r.IntN(5) == 0 {
				sku = "starter-kit"
			}
			if v := d.variantOf(ctx, "b2c", sku); v != "" && d.Stores["b2c"].Available(d.inventoryItem("b2c", v)) > 0 {
				o, perr := d.Stores["b2c"].PlaceOrder(shopifysim.OrderParams{LineItems: []shopifysim.OrderLine{{VariantID: v, Quantity: 1}}})
				if perr == nil {
					open = append(open, service.OrderParams{Channel: "b2c", ExternalID: fmt.Sprint(o.ID)})
				}
			}
		case k < 70:
			// A retailer orders on the B2B store with payment terms.
			v := d.variantOf(ctx, "b2b", "tee-black-m")
			if v != "" && d.Stores["b2b"].Available(d.inventoryItem("b2b", v)) >= 6 {
				o, perr := d.Stores["b2b"].PlaceOrder(shopifysim.OrderParams{FinancialStatus: "pending", PaymentTermsName: "Net 30",
					LineItems: []shopifysim.OrderLine{{VariantID: v, Quantity: 2 + r.IntN(5)}}})
				if perr == nil {
					open = append(open, service.OrderParams{Channel: "b2b", ExternalID: fmt.Sprint(o.ID)})
				}
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

func (d *Demo) settings(code string) map[string]any {
	return map[string]any{"shop_url": d.Stores[code].URL(), "access_token": "shpat_demo_" + code,
		"location_id": "gid://shopify/Location/1", "webhook_secret": "demo_webhook_secret_" + code}
}

// variantOf returns the variant of a store that carries sku or, on the B2B
// store, the variant linked to it.
func (d *Demo) variantOf(ctx context.Context, channel, sku string) string {
	ls, err := d.Server.Service.ListListings(ctx, d.who, channel)
	if err != nil {
		return ""
	}
	for _, l := range ls {
		if l.SKU == sku {
			return l.ExternalID
		}
	}
	return ""
}

func (d *Demo) remember(p shopifysim.Product) {
	for _, v := range p.Variants {
		d.items[v.ID] = v.InventoryItemID
	}
}

func (d *Demo) inventoryItem(_, variant string) string { return d.items[variant] }
