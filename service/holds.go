package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/store"
)

// HoldParams keeps units for a channel for a while: a checkout, a quote.
type HoldParams struct {
	Channel    string       `json:"channel"`
	Lines      []allot.Line `json:"lines"`
	TTLSeconds int          `json:"ttl_seconds"`
}

// Hold is a live or ended hold.
type Hold struct {
	ID        int64        `json:"id"`
	Channel   string       `json:"channel"`
	State     string       `json:"state"` // live, confirmed, released, expired
	Lines     []allot.Line `json:"lines"`
	ExpiresAt *time.Time   `json:"expires_at,omitempty"` // nil once released
	Order     *allot.Order `json:"order,omitempty"`
}

func holdOf(o *store.OrderRow, now time.Time) Hold {
	h := Hold{ID: o.ID, Channel: o.Channel, State: "live"}
	h.ExpiresAt = o.ExpiresAt
	for _, l := range o.Lines {
		h.Lines = append(h.Lines, allot.Line{SKU: l.SKU, Listing: l.Listing, Quantity: l.Quantity})
	}
	switch {
	case o.Kind != allot.Hold:
		h.State = "confirmed"
		pub := o.Public()
		h.Order = &pub
	case o.State == allot.Cancelled && o.ExpiresAt == nil:
		h.State = "released" // release clears expires_at; expiry keeps it
	case o.State == allot.Cancelled:
		h.State = "expired"
	case o.ExpiresAt != nil && !now.Before(*o.ExpiresAt):
		h.State = "expired"
	}
	return h
}

// CreateHold keeps units for a channel until confirmed, released or
// expired. It is checked like a placed order and counts like one while it
// lives; when its time runs out it gives everything back by itself, since
// the store counts only live holds.
func (s *Service) CreateHold(ctx context.Context, who Actor, p HoldParams) (Hold, error) {
	if err := checkCode("channel", p.Channel); err != nil {
		return Hold{}, err
	}
	if err := checkLines(p.Lines, true, 1); err != nil {
		return Hold{}, err
	}
	// Compared in seconds: a huge ttl_seconds would overflow a Duration.
	if p.TTLSeconds < 1 || int64(p.TTLSeconds) > int64(MaxTTL/time.Second) {
		return Hold{}, allot.FieldError("ttl_seconds", "must be between 1 and %d seconds, not %d", int(MaxTTL.Seconds()), p.TTLSeconds)
	}
	var out Hold
	err := s.write(ctx, who, func(tx *store.Tx) error {
		ch, err := tx.Channel(p.Channel)
		if err != nil {
			return ifMissing(err, "channel", "unknown channel %q", p.Channel)
		}
		expires := tx.Now.Add(time.Duration(p.TTLSeconds) * time.Second)
		o := &store.OrderRow{ChannelID: ch.ID, Channel: ch.Code, ExternalID: "hold:" + randomID(), Kind: allot.Hold,
			Payment: allot.Paid, ExpiresAt: &expires}
		if err := checkAndCreate(tx, ch, o, p.Lines); err != nil {
			return err
		}
		// A hold is in no counter (the store sums live ones when it
		// reads), so nothing else marks its products for a push.
		tx.Touch(unitProducts(o)...)
		recordOrder(tx, o, "hold.create", fmt.Sprintf("hold %d on %s until %s: %s", o.ID, ch.Code, expires.Format(time.RFC3339), describeLines(o)))
		out = holdOf(o, tx.Now)
		return nil
	})
	return out, err
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func findHold(tx *store.Tx, id int64) (*store.OrderRow, error) {
	o, found, err := tx.OrderByID(id)
	if err != nil {
		return nil, err
	}
	if !found || (o.Kind != allot.Hold && o.ExpiresAt == nil) {
		return nil, allot.Errorf(allot.NotFound, "hold %d not found", id)
	}
	return o, nil
}

// GetHold reads a hold.
func (s *Service) GetHold(ctx context.Context, who Actor, id int64) (Hold, error) {
	var out Hold
	err := s.read(ctx, who, func(tx *store.Tx) error {
		o, err := findHold(tx, id)
		if err == nil {
			out = holdOf(o, tx.Now)
		}
		return err
	})
	return out, err
}

// ConfirmParams turns a hold into an order.
type ConfirmParams struct {
	ExternalID string        `json:"external_id"`
	Payment    allot.Payment `json:"payment"`
}

// ConfirmHold turns a live hold into a placed order that keeps its units:
// they move from the live hold into the order's counters in one
// transaction.
func (s *Service) ConfirmHold(ctx context.Context, who Actor, id int64, p ConfirmParams) (Hold, error) {
	switch p.Payment {
	case "":
		p.Payment = allot.Paid
	case allot.Paid, allot.Terms, allot.Unpaid:
	default:
		return Hold{}, allot.FieldError("payment", "must be paid, terms or unpaid; not %q", p.Payment)
	}
	if p.ExternalID != "" {
		if err := checkKey("external_id", p.ExternalID, MaxSKULen); err != nil {
			return Hold{}, err
		}
	}
	var out Hold
	err := s.write(ctx, who, func(tx *store.Tx) error {
		o, err := findHold(tx, id)
		if err != nil {
			return err
		}
		switch h := holdOf(o, tx.Now); h.State {
		case "confirmed":
			out = h
			return nil
		case "live":
		default:
			return allot.Errorf(allot.Conflict, "hold %d is %s; it can no longer be confirmed", id, h.State)
		}
		ch, err := tx.Channel(o.Channel)
		if err != nil {
			return err
		}
		if p.ExternalID != "" && p.ExternalID != o.ExternalID {
			if _, taken, err := tx.OrderByKey(ch.ID, p.ExternalID); err != nil {
				return err
			} else if taken {
				return &allot.Error{Code: allot.Conflict, Field: "external_id", Message: fmt.Sprintf("channel %s already has an order %q", ch.Code, p.ExternalID)}
			}
			o.ExternalID = p.ExternalID
		}
		if err := tx.LockProducts(unitProducts(o)); err != nil {
			return err
		}
		o.Kind, o.Payment = allot.Placed, p.Payment
		o.Counts = counts(o, ch.CountUnpaid)
		if err := tx.UpdateOrder(o, false); err != nil {
			return err
		}
		if err := applyDelta(tx, contribution{}, contributionOf(o)); err != nil {
			return err
		}
		tx.Touch(unitProducts(o)...)
		recordOrder(tx, o, "hold.confirm", fmt.Sprintf("hold %d confirmed as order %s", id, o.ExternalID))
		out = holdOf(o, tx.Now)
		return nil
	})
	return out, err
}

// ReleaseHold gives a live hold's units back. Releasing it again, or after
// it expired, changes nothing.
func (s *Service) ReleaseHold(ctx context.Context, who Actor, id int64) (Hold, error) {
	var out Hold
	err := s.write(ctx, who, func(tx *store.Tx) error {
		o, err := findHold(tx, id)
		if err != nil {
			return err
		}
		switch h := holdOf(o, tx.Now); h.State {
		case "live":
		case "confirmed":
			return allot.Errorf(allot.Conflict, "hold %d was confirmed as order %s; cancel the order instead", id, o.ExternalID)
		default:
			out = h
			return nil
		}
		if err := endHold(tx, o, false); err != nil {
			return err
		}
		out = holdOf(o, tx.Now)
		return nil
	})
	return out, err
}

// endHold gives a hold's units back. A released hold loses its expires_at;
// an expired one keeps it, which is how holdOf tells them apart.
func endHold(tx *store.Tx, o *store.OrderRow, expired bool) error {
	for i := range o.Lines {
		o.Lines[i].Cancelled = o.Lines[i].Quantity - o.Lines[i].Shipped
	}
	o.State, o.Counts = allot.Cancelled, false
	action, verb := "hold.expire", "expired"
	if !expired {
		action, verb = "hold.release", "released"
		o.ExpiresAt = nil
	}
	if err := tx.UpdateOrder(o, false); err != nil {
		return err
	}
	tx.Touch(unitProducts(o)...)
	tx.Record(action, "", o.Channel, fmt.Sprintf("hold %d %s: %s back", o.ID, verb, describeLines(o)), nil)
	return nil
}

// ExpireHolds marks the holds whose time ran out as expired, for every
// merchant. Their units stopped counting the moment they expired; this
// records it in the history and tells the synchronisation.
func (s *Service) ExpireHolds(ctx context.Context) error {
	now := s.Now()
	merchants, err := s.DB.MerchantsWithExpiredHolds(ctx, now)
	if err != nil {
		return err
	}
	for _, m := range merchants {
		err := s.DB.Write(ctx, m, "allot", now, func(tx *store.Tx) error {
			ids, err := tx.ExpiredHolds()
			if err != nil {
				return err
			}
			for _, id := range ids {
				o, _, err := tx.OrderByID(id)
				if err != nil {
					return err
				}
				if err := endHold(tx, o, true); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
