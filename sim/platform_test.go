package sim_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/allot/allot/syncer"
)

// fault is what a platform does to the next calls it receives.
type fault string

const (
	healthy fault = ""
	down    fault = "down"    // unreachable: nothing applied, an error
	timeout fault = "timeout" // no answer in time: nothing applied, an error
	lost    fault = "lost"    // applied, but the answer is lost: an error
	partial fault = "partial" // some quantities refused one by one
	slow    fault = "slow"    // other things happen while the call is on its way
)

var faults = []fault{down, timeout, lost, partial, slow}

// platform is a channel's platform and its connector in one: it shows a
// quantity per listing, applies what allot pushes (comparing the previous
// quantity if it can), records every value it applied, and fails as the
// simulation tells it. It outlives restarts of allot.
type platform struct {
	w       *world
	code    string
	compare bool // refuses a push whose previous differs from what it shows
	batch   int
	shown   map[string]int
	version map[string]int64 // the version of the last value applied, by listing
	fault   fault
	faultN  int // calls left with the fault
	edited  bool
}

var _ syncer.Connector = (*platform)(nil)

func (p *platform) MaxBatch() int { return p.batch }

// take returns the fault of this call, counting it down.
func (p *platform) take() fault {
	if p.faultN == 0 {
		return healthy
	}
	p.faultN--
	return p.fault
}

func (p *platform) Push(ctx context.Context, items []syncer.Item) ([]syncer.Result, error) {
	f := p.take()
	p.w.logf("    %s receives %s (%s)", p.code, describeItems(items), orHealthy(f))
	switch f {
	case down:
		return nil, errors.New("connection refused")
	case timeout:
		return nil, context.DeadlineExceeded
	case slow:
		p.w.interleave(p.code)
	}
	results := make([]syncer.Result, len(items))
	for i, it := range items {
		if f == partial && p.w.chance(0.5) {
			results[i] = syncer.Result{Err: errors.New("busy, try again")}
			continue
		}
		shown, known := p.shown[it.ExternalID]
		if p.compare && known && it.Previous != nil && *it.Previous != shown {
			actual := shown
			results[i] = syncer.Result{Err: fmt.Errorf("previous is %d", shown), Actual: &actual}
			continue
		}
		p.apply(it)
	}
	if f == lost {
		return nil, errors.New("connection closed before the answer")
	}
	return results, nil
}

// apply shows an item's quantity, checking that allot never sends a
// negative quantity nor a value older than one already applied.
func (p *platform) apply(it syncer.Item) {
	if it.Quantity < 0 {
		p.w.failf("%s was pushed %d for %s: a negative quantity", p.code, it.Quantity, it.ExternalID)
	}
	listing, version, err := parseKey(it.Key)
	if err != nil {
		p.w.failf("%s was pushed key %q: %v", p.code, it.Key, err)
	}
	if last, ok := p.version[it.ExternalID]; ok && version < last {
		p.w.failf("%s: value %d of %s (listing %d, version %d) applied after version %d: an older value over a newer one",
			p.code, it.Quantity, it.ExternalID, listing, version, last)
	}
	p.version[it.ExternalID] = version
	p.shown[it.ExternalID] = it.Quantity
}

func (p *platform) Read(ctx context.Context, items []syncer.Item) (map[string]int, error) {
	if p.faultN > 0 && (p.fault == down || p.fault == timeout) {
		p.faultN--
		return nil, errors.New("connection refused")
	}
	out := map[string]int{}
	for _, it := range items {
		if q, ok := p.shown[it.ExternalID]; ok {
			out[it.ExternalID] = q
		}
	}
	return out, nil
}

func (p *platform) Check(ctx context.Context) error {
	if p.faultN > 0 && p.fault == down {
		return errors.New("connection refused")
	}
	return nil
}

// parseKey reads a push key: listing id, a dash, version.
func parseKey(key string) (int64, int64, error) {
	a, b, ok := strings.Cut(key, "-")
	if !ok {
		return 0, 0, errors.New("no dash")
	}
	listing, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, 0, err
	}
	version, err := strconv.ParseInt(b, 10, 64)
	return listing, version, err
}

func describeItems(items []syncer.Item) string {
	parts := make([]string, len(items))
	for i, it := range items {
		prev := "-"
		if it.Previous != nil {
			prev = strconv.Itoa(*it.Previous)
		}
		parts[i] = fmt.Sprintf("%s=%d(prev %s, key %s)", it.ExternalID, it.Quantity, prev, it.Key)
	}
	return strings.Join(parts, " ")
}

func orHealthy(f fault) string {
	if f == healthy {
		return "healthy"
	}
	return string(f)
}
