package service

import (
	"context"
	"errors"

	"github.com/allot/allot"
	"github.com/allot/allot/store"
)

// Preview is what every channel would show of some SKUs before and after a
// change that was computed and then rolled back.
type Preview struct {
	SKUs     []string // the SKUs shown, in order
	Channels []string // every channel's code, in the order they were created
	Before   map[string]map[string]int
	After    map[string]map[string]int
	// More is how many SKUs the change covers beyond those shown (an
	// allocation for every SKU shows the first PreviewSKUs).
	More int
}

// Changed reports whether the change moves what channel shows of sku.
func (p Preview) Changed(sku, channel string) bool {
	return p.Before[sku][channel] != p.After[sku][channel]
}

// PreviewSKUs bounds the SKUs a preview of an allocation for every SKU
// shows.
const PreviewSKUs = 50

// errRollback ends a dry run's transaction once the preview is computed.
var errRollback = errors.New("preview: rolled back")

// dryRun is carried by the context of a change being previewed: Service.write
// runs the change's own transaction through it, so that the preview runs
// exactly the code that saving runs, and nothing is committed.
type dryRun struct {
	skus []string // the SKUs to show; nil with all: the first PreviewSKUs
	all  bool
	ran  bool
	out  Preview
}

type dryRunKey struct{}

func dryRunOf(ctx context.Context) *dryRun {
	d, _ := ctx.Value(dryRunKey{}).(*dryRun)
	return d
}

// wrap computes the quantities before and after fn, in fn's transaction,
// then rolls it back.
func (d *dryRun) wrap(fn func(*store.Tx) error) func(*store.Tx) error {
	return func(tx *store.Tx) error {
		d.ran = true
		ids, skus, more, err := d.scope(tx)
		if err != nil {
			return err
		}
		before, err := previewQuantities(tx, ids, skus)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		after, err := previewQuantities(tx, ids, skus)
		if err != nil {
			return err
		}
		channels, err := tx.Channels()
		if err != nil {
			return err
		}
		d.out = Preview{SKUs: skus, Before: before, After: after, More: more}
		for _, c := range channels {
			d.out.Channels = append(d.out.Channels, c.Code)
		}
		return errRollback
	}
}

// scope resolves the SKUs to show; unknown ones are left out, since the
// change itself refuses them with the field at fault.
func (d *dryRun) scope(tx *store.Tx) ([]int64, []string, int, error) {
	if d.all {
		matches, total, err := tx.SearchProducts("", 0, PreviewSKUs)
		if err != nil {
			return nil, nil, 0, err
		}
		var ids []int64
		var skus []string
		for _, m := range matches {
			ids, skus = append(ids, m.ID), append(skus, m.SKU)
		}
		return ids, skus, total - len(matches), nil
	}
	refs, err := tx.ProductRefs(d.skus)
	if err != nil {
		return nil, nil, 0, err
	}
	var ids []int64
	var skus []string
	seen := map[string]bool{}
	for _, sku := range d.skus {
		if r, ok := refs[sku]; ok && !seen[sku] {
			seen[sku] = true
			ids, skus = append(ids, r.ID), append(skus, sku)
		}
	}
	return ids, skus, 0, nil
}

func previewQuantities(tx *store.Tx, ids []int64, skus []string) (map[string]map[string]int, error) {
	out := map[string]map[string]int{}
	if len(ids) == 0 {
		return out, nil
	}
	snap, err := tx.Snapshot(ids)
	if err != nil {
		return nil, err
	}
	for _, sku := range skus {
		row := map[string]int{}
		for c := range snap.Channels {
			row[c] = snap.Published(c, sku)
		}
		out[sku] = row
	}
	return out, nil
}

// preview runs change as a dry run: its transaction computes what every
// channel shows of the SKUs before and after, and is rolled back. An
// error of the change (bad input, a conflict) is returned as saving
// would return it.
func (s *Service) preview(ctx context.Context, skus []string, all bool, change func(context.Context) error) (Preview, error) {
	d := &dryRun{skus: skus, all: all}
	err := change(context.WithValue(ctx, dryRunKey{}, d))
	switch {
	case errors.Is(err, errRollback):
		return d.out, nil
	case err != nil:
		return Preview{}, err
	case !d.ran:
		return Preview{}, errors.New("preview: the change ran no transaction")
	}
	return Preview{}, errors.New("preview: the change was not rolled back")
}

func lineSKUs(lines []allot.Line) []string {
	skus := make([]string, len(lines))
	for i, l := range lines {
		skus[i] = l.SKU
	}
	return skus
}

// PreviewAllocation computes what every channel would show of the
// allocation's SKUs before and after creating it, without creating it.
func (s *Service) PreviewAllocation(ctx context.Context, who Actor, p AllocationParams) (Preview, error) {
	return s.preview(ctx, lineSKUs(p.Lines), p.AllSKUs != nil, func(ctx context.Context) error {
		_, err := s.CreateAllocation(ctx, who, p)
		return err
	})
}

// PreviewBuffer is PreviewAllocation for a buffer.
func (s *Service) PreviewBuffer(ctx context.Context, who Actor, p BufferParams) (Preview, error) {
	return s.preview(ctx, lineSKUs(p.Lines), p.AllSKUs != nil, func(ctx context.Context) error {
		_, err := s.CreateBuffer(ctx, who, p)
		return err
	})
}

// PreviewStop is PreviewAllocation for stopping sales.
func (s *Service) PreviewStop(ctx context.Context, who Actor, p StopParams) (Preview, error) {
	return s.preview(ctx, p.SKUs, p.AllSKUs, func(ctx context.Context) error {
		_, err := s.CreateStop(ctx, who, p)
		return err
	})
}

// PreviewPatch computes what every channel would show of the allocation's
// SKUs before and after changing it, without changing it.
func (s *Service) PreviewPatch(ctx context.Context, who Actor, id int64, p AllocationPatch) (Preview, error) {
	a, err := s.GetAllocation(ctx, who, id)
	if err != nil {
		return Preview{}, err
	}
	skus := lineSKUs(p.Lines)
	for _, l := range a.Lines {
		skus = append(skus, l.SKU)
	}
	return s.preview(ctx, skus, a.AllSKUs != nil, func(ctx context.Context) error {
		_, err := s.PatchAllocation(ctx, who, id, p)
		return err
	})
}
