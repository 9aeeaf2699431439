package service

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/store"
)

// AllocationParams creates an allocation: see the spec, section 3.
type AllocationParams struct {
	Name     string                    `json:"name"`
	Note     string                    `json:"note"`
	Purpose  allot.Purpose             `json:"purpose"`
	Channels []allot.AllocationChannel `json:"channels"`
	Lines    []allot.Line              `json:"lines"`
	AllSKUs  *allot.AllSKUs            `json:"all_skus"`
	Priority int                       `json:"priority"`
	StartsAt *time.Time                `json:"starts_at"`
	EndsAt   *time.Time                `json:"ends_at"`
	// Inbound ties a presell to a shipment: it ends when that is received.
	Inbound *int64 `json:"inbound"`
}

// CreateAllocation creates an allocation. A (channel, SKU) pair is covered
// by at most one allocation at a time: a conflicting one is refused with
// an error that names the allocation in the way.
func (s *Service) CreateAllocation(ctx context.Context, who Actor, p AllocationParams) (allot.Allocation, error) {
	var out allot.Allocation
	err := s.write(ctx, who, func(tx *store.Tx) error {
		id, err := createAllocation(tx, p, "")
		if err != nil {
			return err
		}
		out, err = getAllocation(tx, id)
		return err
	})
	return out, err
}

func checkAllocation(p *AllocationParams, prefix string, now time.Time) error {
	switch p.Purpose {
	case allot.Reserve, allot.Presell:
	case "":
		return allot.FieldError(prefix+"purpose", "is required: reserve or presell")
	default:
		return allot.FieldError(prefix+"purpose", "must be reserve or presell, not %q", p.Purpose)
	}
	if err := checkText(prefix+"name", p.Name, MaxNameLen); err != nil {
		return err
	}
	if err := checkText(prefix+"note", p.Note, MaxNoteLen); err != nil {
		return err
	}
	if len(p.Channels) == 0 && p.Purpose == allot.Presell {
		return allot.FieldError(prefix+"channels", "a presell needs at least one channel")
	}
	if len(p.Channels) > 100 {
		return allot.FieldError(prefix+"channels", "at most 100 channels")
	}
	for i := range p.Channels {
		c := &p.Channels[i]
		f := fmt.Sprintf("%schannels[%d]", prefix, i)
		if err := checkCode(f+".channel", c.Channel); err != nil {
			return err
		}
		switch c.Rule {
		case "":
			c.Rule = allot.FollowAllocation
		case allot.FollowAllocation, allot.UseAvailable:
		default:
			return allot.FieldError(f+".rule", "must be follow_allocation or use_available, not %q", c.Rule)
		}
	}
	switch {
	case p.AllSKUs != nil && len(p.Lines) > 0:
		return allot.FieldError(prefix+"all_skus", "give lines or all_skus, not both")
	case p.AllSKUs != nil:
		if err := checkQuantity(prefix+"all_skus.quantity", p.AllSKUs.Quantity, 0); err != nil {
			return err
		}
	default:
		if err := checkLines(p.Lines, false, 0); err != nil {
			return prefixed(err, prefix)
		}
	}
	if p.Priority < -MaxPriority || p.Priority > MaxPriority {
		return allot.FieldError(prefix+"priority", "must be between %d and %d", -MaxPriority, MaxPriority)
	}
	if p.EndsAt != nil {
		if !p.EndsAt.After(now) {
			return allot.FieldError(prefix+"ends_at", "must be in the future")
		}
		if p.StartsAt != nil && !p.EndsAt.After(*p.StartsAt) {
			return allot.FieldError(prefix+"ends_at", "must be after starts_at")
		}
	}
	if p.Inbound != nil && p.Purpose != allot.Presell {
		return allot.FieldError(prefix+"inbound", "only a presell can be tied to an inbound shipment")
	}
	return nil
}

func createAllocation(tx *store.Tx, p AllocationParams, prefix string) (int64, error) {
	if err := checkAllocation(&p, prefix, tx.Now); err != nil {
		return 0, err
	}
	if err := tx.LockMerchant(); err != nil {
		return 0, err
	}
	channels := make([]store.AllocationChannel, len(p.Channels))
	channelIDs := make([]int64, len(p.Channels))
	seen := map[string]bool{}
	for i, c := range p.Channels {
		f := fmt.Sprintf("%schannels[%d].channel", prefix, i)
		if seen[c.Channel] {
			return 0, allot.FieldError(f, "%q appears twice", c.Channel)
		}
		seen[c.Channel] = true
		row, err := tx.Channel(c.Channel)
		if err != nil {
			return 0, ifMissing(err, f, "unknown channel %q", c.Channel)
		}
		channels[i] = store.AllocationChannel{ChannelID: row.ID, Rule: c.Rule}
		channelIDs[i] = row.ID
	}
	var lines []store.AllocationLine
	var productIDs []int64
	if p.AllSKUs == nil {
		refs, err := productLines(tx, p.Lines)
		if err != nil {
			return 0, prefixed(err, prefix)
		}
		for i, r := range refs {
			lines = append(lines, store.AllocationLine{ProductID: r.ID, Quantity: p.Lines[i].Quantity})
			productIDs = append(productIDs, r.ID)
		}
	}
	if p.Inbound != nil {
		in, _, _, err := tx.Inbound(*p.Inbound)
		if err != nil {
			return 0, ifMissing(err, prefix+"inbound", "unknown inbound %d", *p.Inbound)
		}
		if in.Received {
			return 0, allot.FieldError(prefix+"inbound", "inbound %d was already received", *p.Inbound)
		}
	}
	conflict, err := tx.FindConflict(0, channelIDs, productIDs, p.AllSKUs != nil, p.StartsAt, p.EndsAt)
	if err != nil {
		return 0, err
	}
	if conflict.Exists {
		return 0, &allot.Error{Code: allot.Conflict, Field: prefix + "channels", Message: conflict.Describe()}
	}
	a := allot.Allocation{Name: p.Name, Note: p.Note, Purpose: p.Purpose, AllSKUs: p.AllSKUs, Priority: p.Priority,
		StartsAt: p.StartsAt, EndsAt: p.EndsAt, Inbound: p.Inbound}
	if a.Name == "" {
		a.Name = defaultName(p)
	}
	id, err := tx.CreateAllocation(a, channels, lines)
	if err != nil {
		return 0, err
	}
	touchAllocation(tx, productIDs, p.AllSKUs != nil)
	who := describeChannels(p.Channels)
	if p.AllSKUs != nil {
		tx.Record("allocation.create", "", firstChannel(p.Channels), fmt.Sprintf("%s %q (%d): %d of every SKU for %s", p.Purpose, a.Name, id,
			p.AllSKUs.Quantity, who), p)
	}
	for _, l := range p.Lines {
		tx.Record("allocation.create", l.SKU, firstChannel(p.Channels), fmt.Sprintf("%s %q (%d): %d of %s for %s", p.Purpose, a.Name, id,
			l.Quantity, l.SKU, who), map[string]any{"allocation": id, "quantity": l.Quantity})
	}
	return id, nil
}

func touchAllocation(tx *store.Tx, productIDs []int64, all bool) {
	if all {
		tx.TouchAll()
	}
	tx.Touch(productIDs...)
}

func defaultName(p AllocationParams) string {
	if len(p.Channels) == 0 {
		return "buffer"
	}
	names := make([]string, len(p.Channels))
	for i, c := range p.Channels {
		names[i] = c.Channel
	}
	return fmt.Sprintf("%s %s", p.Purpose, strings.Join(names, "+"))
}

func describeChannels(cs []allot.AllocationChannel) string {
	if len(cs) == 0 {
		return "no channel (a safety margin)"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("%s (%s)", c.Channel, c.Rule)
	}
	return strings.Join(parts, ", ")
}

func firstChannel(cs []allot.AllocationChannel) string {
	if len(cs) == 1 {
		return cs[0].Channel
	}
	return ""
}

// getAllocation reads an allocation with what each line consumed, live
// holds included.
func getAllocation(tx *store.Tx, id int64) (allot.Allocation, error) {
	row, err := tx.Allocation(id)
	if err != nil {
		return allot.Allocation{}, err
	}
	usage, err := tx.LiveHoldUsage()
	if err != nil {
		return allot.Allocation{}, err
	}
	return withHolds(row, usage), nil
}

func withHolds(row store.AllocationRow, usage map[int64]map[string]int) allot.Allocation {
	a := row.Allocation
	held := usage[a.ID]
	for i := range a.Lines {
		a.Lines[i].Consumed += held[a.Lines[i].SKU]
		a.Lines[i].Remaining = a.Lines[i].Quantity - a.Lines[i].Consumed
		delete(held, a.Lines[i].SKU)
	}
	if a.AllSKUs != nil {
		for sku, n := range held {
			a.Lines = append(a.Lines, allot.AllocationLine{SKU: sku, Quantity: a.AllSKUs.Quantity, Consumed: n, Remaining: a.AllSKUs.Quantity - n})
		}
	}
	return a
}

// GetAllocation reads one allocation.
func (s *Service) GetAllocation(ctx context.Context, who Actor, id int64) (allot.Allocation, error) {
	var out allot.Allocation
	err := s.read(ctx, who, func(tx *store.Tx) error {
		var err error
		out, err = getAllocation(tx, id)
		return err
	})
	return out, err
}

// ListAllocations lists allocations newest first; current: not yet ended.
func (s *Service) ListAllocations(ctx context.Context, who Actor, current bool) ([]allot.Allocation, error) {
	var out []allot.Allocation
	err := s.read(ctx, who, func(tx *store.Tx) error {
		rows, err := tx.Allocations(current)
		if err != nil {
			return err
		}
		usage, err := tx.LiveHoldUsage()
		if err != nil {
			return err
		}
		out = make([]allot.Allocation, len(rows))
		for i, r := range rows {
			out[i] = withHolds(r, usage)
		}
		return nil
	})
	return out, err
}

// AllocationPatch changes an allocation. Lines set the quantity of the
// SKUs they name (adding SKUs not yet covered); what each line consumed is
// kept.
type AllocationPatch struct {
	Name     *string        `json:"name"`
	Note     *string        `json:"note"`
	Priority *int           `json:"priority"`
	EndsAt   *time.Time     `json:"ends_at"`
	Lines    []allot.Line   `json:"lines"`
	AllSKUs  *allot.AllSKUs `json:"all_skus"`
}

// PatchAllocation changes an allocation that has not ended.
func (s *Service) PatchAllocation(ctx context.Context, who Actor, id int64, p AllocationPatch) (allot.Allocation, error) {
	var out allot.Allocation
	err := s.write(ctx, who, func(tx *store.Tx) error {
		if err := tx.LockMerchant(); err != nil {
			return err
		}
		row, err := tx.Allocation(id)
		if err != nil {
			return err
		}
		if row.EndsAt != nil && !tx.Now.Before(*row.EndsAt) {
			return allot.Errorf(allot.Conflict, "allocation %d ended at %s; create a new one", id, row.EndsAt.Format(time.RFC3339))
		}
		a := row.Allocation
		if p.Name != nil {
			if err := checkText("name", *p.Name, MaxNameLen); err != nil {
				return err
			}
			if *p.Name != "" {
				a.Name = *p.Name
			}
		}
		if p.Note != nil {
			if err := checkText("note", *p.Note, MaxNoteLen); err != nil {
				return err
			}
			a.Note = *p.Note
		}
		if p.Priority != nil {
			if *p.Priority < -MaxPriority || *p.Priority > MaxPriority {
				return allot.FieldError("priority", "must be between %d and %d", -MaxPriority, MaxPriority)
			}
			a.Priority = *p.Priority
		}
		if p.EndsAt != nil {
			if !p.EndsAt.After(tx.Now) {
				return allot.FieldError("ends_at", "must be in the future; to end it now, DELETE it")
			}
			if a.StartsAt != nil && !p.EndsAt.After(*a.StartsAt) {
				return allot.FieldError("ends_at", "must be after starts_at")
			}
			a.EndsAt = p.EndsAt
		}
		if p.AllSKUs != nil {
			if a.AllSKUs == nil {
				return allot.FieldError("all_skus", "allocation %d has lines per SKU; set their quantities with lines", id)
			}
			if err := checkQuantity("all_skus.quantity", p.AllSKUs.Quantity, 0); err != nil {
				return err
			}
			a.AllSKUs = p.AllSKUs
			tx.TouchAll()
		}
		var newIDs, changed []int64
		if len(p.Lines) > 0 {
			if a.AllSKUs != nil {
				return allot.FieldError("lines", "allocation %d covers every SKU; change all_skus.quantity instead", id)
			}
			if err := checkLines(p.Lines, false, 0); err != nil {
				return err
			}
			refs, err := productLines(tx, p.Lines)
			if err != nil {
				return err
			}
			for _, r := range refs {
				if _, ok := row.Lines[r.ID]; !ok {
					newIDs = append(newIDs, r.ID)
				}
				changed = append(changed, r.ID)
			}
			channelIDs := make([]int64, len(row.Channels))
			for i, c := range row.Channels {
				channelIDs[i] = c.ChannelID
			}
			if len(newIDs) > 0 {
				conflict, err := tx.FindConflict(id, channelIDs, newIDs, false, a.StartsAt, a.EndsAt)
				if err != nil {
					return err
				}
				if conflict.Exists {
					return &allot.Error{Code: allot.Conflict, Field: "lines", Message: conflict.Describe()}
				}
			}
			for i, r := range refs {
				if err := tx.SetAllocationLine(id, r.ID, p.Lines[i].Quantity); err != nil {
					return err
				}
				tx.Record("allocation.update", p.Lines[i].SKU, firstChannel(a.Channels), fmt.Sprintf("%s %q (%d): %s now %d",
					a.Purpose, a.Name, id, p.Lines[i].SKU, p.Lines[i].Quantity), map[string]any{"allocation": id, "quantity": p.Lines[i].Quantity})
			}
		}
		if err := tx.UpdateAllocation(a); err != nil {
			return err
		}
		touchAllocation(tx, append(changed, lineProducts(row)...), a.AllSKUs != nil && (p.EndsAt != nil || p.Priority != nil))
		if p.Name != nil || p.Note != nil || p.Priority != nil || p.EndsAt != nil || p.AllSKUs != nil {
			tx.Record("allocation.update", "", firstChannel(a.Channels), fmt.Sprintf("%s %q (%d) changed", a.Purpose, a.Name, id), p)
		}
		out, err = getAllocation(tx, id)
		return err
	})
	return out, err
}

func lineProducts(row store.AllocationRow) []int64 {
	ids := make([]int64, 0, len(row.Lines))
	for id := range row.Lines {
		ids = append(ids, id)
	}
	return ids
}

// EndAllocation ends an allocation now. Its record stays, with what it
// consumed; ending it again changes nothing.
func (s *Service) EndAllocation(ctx context.Context, who Actor, id int64) (allot.Allocation, error) {
	var out allot.Allocation
	err := s.write(ctx, who, func(tx *store.Tx) error {
		if err := endAllocation(tx, id, "ended on request"); err != nil {
			return err
		}
		var err error
		out, err = getAllocation(tx, id)
		return err
	})
	return out, err
}

func endAllocation(tx *store.Tx, id int64, why string) error {
	row, err := tx.Allocation(id)
	if err != nil {
		return err
	}
	if row.EndsAt != nil && !tx.Now.Before(*row.EndsAt) {
		return nil
	}
	a := row.Allocation
	now := tx.Now
	a.EndsAt = &now
	if a.StartsAt != nil && a.StartsAt.After(now) {
		a.StartsAt = &now // never started: an empty window
	}
	if err := tx.UpdateAllocation(a); err != nil {
		return err
	}
	touchAllocation(tx, lineProducts(row), a.AllSKUs != nil)
	tx.Record("allocation.end", "", firstChannel(a.Channels), fmt.Sprintf("%s %q (%d) ended: %s", a.Purpose, a.Name, id, why), nil)
	for _, l := range a.Lines {
		tx.Record("allocation.end", l.SKU, firstChannel(a.Channels), fmt.Sprintf("%s %q (%d) ended: %s", a.Purpose, a.Name, id, why), nil)
	}
	return nil
}

// BufferParams holds units back from every channel: a reserve whose only
// channel is the manual-orders channel (manual orders may use it), or with
// no channel at all (a pure safety margin, never consumed).
type BufferParams struct {
	Name     string         `json:"name"`
	Note     string         `json:"note"`
	Channel  string         `json:"channel"`
	Lines    []allot.Line   `json:"lines"`
	AllSKUs  *allot.AllSKUs `json:"all_skus"`
	Priority int            `json:"priority"`
	StartsAt *time.Time     `json:"starts_at"`
	EndsAt   *time.Time     `json:"ends_at"`
}

// CreateBuffer creates a buffer: a reserve, use_available on the manual
// channel if one is named, so manual orders can take what is really there.
func (s *Service) CreateBuffer(ctx context.Context, who Actor, p BufferParams) (allot.Allocation, error) {
	ap := AllocationParams{Name: p.Name, Note: p.Note, Purpose: allot.Reserve, Lines: p.Lines, AllSKUs: p.AllSKUs,
		Priority: p.Priority, StartsAt: p.StartsAt, EndsAt: p.EndsAt}
	if ap.Name == "" {
		ap.Name = "buffer"
	}
	var out allot.Allocation
	err := s.write(ctx, who, func(tx *store.Tx) error {
		if p.Channel != "" {
			if err := checkCode("channel", p.Channel); err != nil {
				return err
			}
			c, err := tx.Channel(p.Channel)
			if err != nil {
				return ifMissing(err, "channel", "unknown channel %q", p.Channel)
			}
			if c.Platform != allot.Manual {
				return allot.FieldError("channel", "a buffer's channel must be the manual-orders channel; %s is %s", p.Channel, c.Platform)
			}
			ap.Channels = []allot.AllocationChannel{{Channel: p.Channel, Rule: allot.UseAvailable}}
		}
		id, err := createAllocation(tx, ap, "")
		if err != nil {
			return err
		}
		out, err = getAllocation(tx, id)
		return err
	})
	return out, err
}

// StopParams stops selling SKUs (or every SKU) on channels.
type StopParams struct {
	Name     string     `json:"name"`
	Note     string     `json:"note"`
	Channels []string   `json:"channels"`
	SKUs     []string   `json:"skus"`
	AllSKUs  bool       `json:"all_skus"`
	StartsAt *time.Time `json:"starts_at"`
	EndsAt   *time.Time `json:"ends_at"`
}

// CreateStop stops selling: a presell of 0 with follow_allocation on the
// chosen channels, for the chosen SKUs or for every SKU.
func (s *Service) CreateStop(ctx context.Context, who Actor, p StopParams) (allot.Allocation, error) {
	if len(p.Channels) == 0 {
		return allot.Allocation{}, allot.FieldError("channels", "name at least one channel to stop selling on")
	}
	if p.AllSKUs == (len(p.SKUs) > 0) {
		return allot.Allocation{}, allot.FieldError("skus", "give skus or all_skus: true, one of the two")
	}
	ap := AllocationParams{Name: p.Name, Note: p.Note, Purpose: allot.Presell, StartsAt: p.StartsAt, EndsAt: p.EndsAt}
	if ap.Name == "" {
		ap.Name = "stop selling on " + strings.Join(p.Channels, "+")
	}
	for _, c := range p.Channels {
		ap.Channels = append(ap.Channels, allot.AllocationChannel{Channel: c, Rule: allot.FollowAllocation})
	}
	if p.AllSKUs {
		ap.AllSKUs = &allot.AllSKUs{Quantity: 0}
	}
	for _, sku := range p.SKUs {
		ap.Lines = append(ap.Lines, allot.Line{SKU: sku, Quantity: 0})
	}
	var out allot.Allocation
	err := s.write(ctx, who, func(tx *store.Tx) error {
		id, err := createAllocation(tx, ap, "")
		if err != nil {
			// Name the request's own fields: skus[i], not lines[i].sku, and
			// channels[i], not channels[i].channel.
			if e, ok := err.(*allot.Error); ok {
				c := *e
				switch {
				case strings.HasPrefix(e.Field, "lines[") && strings.HasSuffix(e.Field, "].sku"):
					c.Field = "skus[" + strings.TrimPrefix(strings.TrimSuffix(e.Field, "].sku"), "lines[") + "]"
				case strings.HasPrefix(e.Field, "channels[") && strings.HasSuffix(e.Field, "].channel"):
					c.Field = strings.TrimSuffix(e.Field, ".channel")
				case e.Field == "lines":
					c.Field = "skus"
				}
				return &c
			}
			return err
		}
		out, err = getAllocation(tx, id)
		return err
	})
	return out, err
}
