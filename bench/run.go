package bench

import (
	"context"
	"fmt"
)

// Run runs a scenario (or "all") on the config's engine and prints it.
func Run(ctx context.Context, cfg Config, scenario string, clients int) error {
	known := false
	for _, s := range []string{"flash", "catalogue", "fanout", "all"} {
		known = known || s == scenario
	}
	if !known {
		return fmt.Errorf("unknown scenario %q: flash, catalogue (steady orders, full stock report, recompute), fanout or all", scenario)
	}
	if scenario == "flash" || scenario == "all" {
		stock := cfg.n(50_000)
		rs, err := FlashSale(ctx, cfg, stock, clients)
		if err != nil {
			return err
		}
		PrintFlash(cfg, stock, clients, rs)
	}
	if scenario == "catalogue" || scenario == "all" {
		skus, orders := cfg.n(100_000), cfg.n(20_000)
		r, err := Catalogue(ctx, cfg, skus, orders, 64)
		if err != nil {
			return err
		}
		PrintCatalogue(cfg, orders, r)
	}
	if scenario == "fanout" || scenario == "all" {
		r, err := Fanout(ctx, cfg, cfg.n(10_000), 3)
		if err != nil {
			return err
		}
		PrintFanout(cfg, r)
	}
	return nil
}
