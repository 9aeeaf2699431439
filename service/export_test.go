package service

import "github.com/allot/allot"

// SetBeforeLock runs f in the next order groups between their reads of the
// definitions and their product lock (nil: no more).
func SetBeforeLock(f func()) {
	if f == nil {
		beforeLock.Store(nil)
		return
	}
	beforeLock.Store(&f)
}

// AheadFrom is the fewest orders of a group written ahead of its lock.
const AheadFrom = aheadFrom

// PlaceTogether places the orders as one group, as the group-commit loop
// does with orders that arrive at once, and returns each answer.
func (s *Service) PlaceTogether(who Actor, ps []OrderParams) ([]allot.Order, []error) {
	reqs := make([]*placeRequest, len(ps))
	for i, p := range ps {
		if err := checkOrder(&p, allot.Placed); err != nil {
			panic(err)
		}
		reqs[i] = &placeRequest{who: who, kind: allot.Placed, p: p, done: make(chan placeResult, 1)}
	}
	s.placeGroup(reqs)
	orders, errs := make([]allot.Order, len(ps)), make([]error, len(ps))
	for i, r := range reqs {
		res := <-r.done
		orders[i], errs[i] = res.order, res.err
	}
	return orders, errs
}
