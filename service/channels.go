package service

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/allot/allot"
	"github.com/allot/allot/store"
)

// Redacted stands for a secret setting in what allot shows; sent back
// unchanged, it keeps the stored secret.
const Redacted = "********"

// secret reports whether a channel setting holds a secret, never shown.
func secret(key string) bool {
	k := strings.ToLower(key)
	return strings.Contains(k, "token") || strings.Contains(k, "secret") || strings.Contains(k, "password")
}

func redact(c allot.Channel) allot.Channel {
	if len(c.Settings) == 0 {
		return c
	}
	out := make(map[string]any, len(c.Settings))
	for k, v := range c.Settings {
		if secret(k) && v != "" && v != nil {
			v = Redacted
		}
		out[k] = v
	}
	c.Settings = out
	return c
}

// PutChannel creates or updates a channel. Changing its warehouses or its
// count_unpaid setting recomputes what its orders commit.
func (s *Service) PutChannel(ctx context.Context, who Actor, c allot.Channel) (allot.Channel, bool, error) {
	if err := checkCode("code", c.Code); err != nil {
		return c, false, err
	}
	if c.Name == "" {
		c.Name = c.Code
	}
	if err := checkText("name", c.Name, MaxNameLen); err != nil {
		return c, false, err
	}
	if !slices.Contains(allot.Platforms, c.Platform) {
		return c, false, allot.FieldError("platform", "must be one of shopify, generic, manual, api, file; not %q", c.Platform)
	}
	if len(c.Warehouses) > 100 {
		return c, false, allot.FieldError("warehouses", "at most 100 warehouses")
	}
	if raw, err := json.Marshal(c.Settings); err != nil || len(raw) > 16<<10 {
		return c, false, allot.FieldError("settings", "must be a JSON object of at most 16 KiB")
	}
	var created bool
	var out allot.Channel
	err := s.write(ctx, who, func(tx *store.Tx) error {
		var ids []int64
		seen := map[string]bool{}
		for i, code := range c.Warehouses {
			f := fmt.Sprintf("warehouses[%d]", i)
			if err := checkCode(f, code); err != nil {
				return err
			}
			if seen[code] {
				return allot.FieldError(f, "%q appears twice", code)
			}
			seen[code] = true
			id, err := tx.WarehouseID(code)
			if err != nil {
				return ifMissing(err, f, "unknown warehouse %q", code)
			}
			ids = append(ids, id)
		}
		prev, err := tx.Channel(c.Code)
		exists := err == nil
		if err != nil && allot.ErrorCode(err) != allot.NotFound {
			return err
		}
		if exists {
			c.Rules = prev.Rules
			for k, v := range c.Settings {
				if v == Redacted && secret(k) {
					c.Settings[k] = prev.Settings[k]
				}
			}
		}
		id, isNew, err := tx.PutChannel(c, ids)
		if err != nil {
			return err
		}
		created = isNew
		tx.Record("channel.put", "", c.Code, fmt.Sprintf("channel %s %q (%s)", c.Code, c.Name, c.Platform), redact(c))
		tx.TouchAll()
		if exists && prev.CountUnpaid != c.CountUnpaid {
			orders, err := tx.OrdersWithTerms(id)
			if err != nil {
				return err
			}
			if err := recount(tx, orders); err != nil {
				return err
			}
		}
		row, err := tx.Channel(c.Code)
		out = redact(row.Channel)
		return err
	})
	return out, created, err
}

// GetChannel reads one channel, secrets redacted.
func (s *Service) GetChannel(ctx context.Context, who Actor, code string) (allot.Channel, error) {
	var out allot.Channel
	err := s.read(ctx, who, func(tx *store.Tx) error {
		row, err := tx.Channel(code)
		out = redact(row.Channel)
		return err
	})
	return out, err
}

// ChannelSecrets reads one channel with its secrets, for the connectors.
func (s *Service) ChannelSecrets(ctx context.Context, who Actor, code string) (allot.Channel, error) {
	var out allot.Channel
	err := s.read(ctx, who, func(tx *store.Tx) error {
		row, err := tx.Channel(code)
		out = row.Channel
		return err
	})
	return out, err
}

// ListChannels lists the merchant's channels, secrets redacted.
func (s *Service) ListChannels(ctx context.Context, who Actor) ([]allot.Channel, error) {
	var out []allot.Channel
	err := s.read(ctx, who, func(tx *store.Tx) error {
		rows, err := tx.Channels()
		for _, r := range rows {
			out = append(out, redact(r.Channel))
		}
		return err
	})
	return out, err
}

// Optional is a JSON field that may be absent (keep), null (remove) or a
// number (set).
type Optional struct {
	Set   bool
	Value *int
}

// UnmarshalJSON is only called when the field is present.
func (o *Optional) UnmarshalJSON(b []byte) error {
	o.Set = true
	return json.Unmarshal(b, &o.Value)
}

// RulesPatch changes a channel's rules, or a (channel, SKU) pair's.
type RulesPatch struct {
	Percent Optional `json:"percent"`
	ZeroAt  Optional `json:"zero_at"`
	Max     Optional `json:"max"`
}

func (p RulesPatch) apply(r allot.ChannelRules) (allot.ChannelRules, error) {
	set := func(field string, o Optional, dst **int, hi int) error {
		if !o.Set {
			return nil
		}
		if o.Value != nil {
			if *o.Value < 0 || *o.Value > hi {
				return allot.FieldError(field, "must be between 0 and %d, not %d", hi, *o.Value)
			}
		}
		*dst = o.Value
		return nil
	}
	if err := set("percent", p.Percent, &r.Percent, 100); err != nil {
		return r, err
	}
	if err := set("zero_at", p.ZeroAt, &r.ZeroAt, allot.MaxQuantity); err != nil {
		return r, err
	}
	return r, set("max", p.Max, &r.Max, allot.MaxQuantity)
}

// SetRules changes the rules of a channel (sku empty) or of one (channel,
// SKU) pair, whose rules win over the channel's field by field.
func (s *Service) SetRules(ctx context.Context, who Actor, channel, sku string, p RulesPatch) (allot.ChannelRules, error) {
	var out allot.ChannelRules
	err := s.write(ctx, who, func(tx *store.Tx) error {
		c, err := tx.Channel(channel)
		if err != nil {
			return err
		}
		if sku == "" {
			if out, err = p.apply(c.Rules); err != nil {
				return err
			}
			tx.TouchAll()
			tx.Record("rules.put", "", channel, fmt.Sprintf("rules of channel %s: %s", channel, describeRules(out)), out)
			return tx.SetChannelRules(c.ID, out)
		}
		ref, err := tx.ProductRef(sku)
		if err != nil {
			return err
		}
		cur, err := tx.PairRules(c.ID, ref.ID)
		if err != nil {
			return err
		}
		if out, err = p.apply(cur); err != nil {
			return err
		}
		tx.Touch(ref.ID)
		tx.Record("rules.put", sku, channel, fmt.Sprintf("rules of %s on %s: %s", sku, channel, describeRules(out)), out)
		return tx.SetPairRules(c.ID, ref.ID, out)
	})
	return out, err
}

func describeRules(r allot.ChannelRules) string {
	var parts []string
	if r.Percent != nil {
		parts = append(parts, fmt.Sprintf("percent %d%%", *r.Percent))
	}
	if r.ZeroAt != nil {
		parts = append(parts, fmt.Sprintf("zero_at %d", *r.ZeroAt))
	}
	if r.Max != nil {
		parts = append(parts, fmt.Sprintf("max %d", *r.Max))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// GetRules reads the rules of a channel (sku empty) or of one pair.
func (s *Service) GetRules(ctx context.Context, who Actor, channel, sku string) (allot.ChannelRules, error) {
	var out allot.ChannelRules
	err := s.read(ctx, who, func(tx *store.Tx) error {
		c, err := tx.Channel(channel)
		if err != nil || sku == "" {
			out = c.Rules
			return err
		}
		ref, err := tx.ProductRef(sku)
		if err != nil {
			return err
		}
		out, err = tx.PairRules(c.ID, ref.ID)
		return err
	})
	return out, err
}

// ListingParams links (or unlinks, with SKU empty) a channel's listing.
type ListingParams struct {
	Channel    string
	ExternalID string
	SKU        string `json:"sku"`
	Enabled    *bool  `json:"enabled"`
}

// PutListing links a listing to a product or bundle (or unlinks it), then
// reprocesses the channel's orders that waited for it. An unknown channel
// is NotFound; an unknown SKU is Invalid.
func (s *Service) PutListing(ctx context.Context, who Actor, p ListingParams) (allot.Listing, error) {
	var out allot.Listing
	err := s.write(ctx, who, func(tx *store.Tx) error {
		var err error
		out, err = putListing(tx, p, "")
		return err
	})
	return out, err
}

func putListing(tx *store.Tx, p ListingParams, prefix string) (allot.Listing, error) {
	if err := checkKey(prefix+"external_id", p.ExternalID, MaxSKULen); err != nil {
		return allot.Listing{}, err
	}
	if err := checkCode(prefix+"channel", p.Channel); err != nil {
		return allot.Listing{}, err
	}
	if p.SKU != "" {
		if err := checkKey(prefix+"sku", p.SKU, MaxSKULen); err != nil {
			return allot.Listing{}, err
		}
	}
	enabled := p.Enabled == nil || *p.Enabled
	c, err := tx.Channel(p.Channel)
	if err != nil {
		return allot.Listing{}, ifMissingAt(err, prefix, "channel", "unknown channel %q", p.Channel)
	}
	var pid *int64
	if p.SKU != "" {
		ref, err := tx.ProductRef(p.SKU)
		if err != nil {
			return allot.Listing{}, ifMissing(err, prefix+"sku", "unknown SKU %q", p.SKU)
		}
		pid = &ref.ID
	}
	prev, existed, err := tx.Listing(c.ID, p.ExternalID)
	if err != nil {
		return allot.Listing{}, err
	}
	if err := tx.PutListing(c.ID, p.ExternalID, pid, enabled); err != nil {
		return allot.Listing{}, err
	}
	if existed && prev.ProductID != nil {
		tx.Touch(*prev.ProductID)
	}
	if pid != nil {
		tx.Touch(*pid)
	}
	l := allot.Listing{Channel: p.Channel, ExternalID: p.ExternalID, SKU: p.SKU, Enabled: enabled}
	summary := fmt.Sprintf("listing %s linked to %s", p.ExternalID, p.SKU)
	if p.SKU == "" {
		summary = fmt.Sprintf("listing %s unlinked", p.ExternalID)
	}
	if !enabled {
		summary += " (disabled)"
	}
	tx.Record("listing.put", p.SKU, p.Channel, summary, l)
	if pid != nil && enabled {
		if err := reprocessChannel(tx, c.ID); err != nil {
			return l, err
		}
	}
	return l, nil
}

// ListListings lists a channel's listings.
func (s *Service) ListListings(ctx context.Context, who Actor, channel string) ([]allot.Listing, error) {
	var out []allot.Listing
	err := s.read(ctx, who, func(tx *store.Tx) error {
		var rows []store.ListingRow
		var err error
		if channel == "" {
			rows, err = tx.AllListings()
		} else {
			c, cerr := tx.Channel(channel)
			if cerr != nil {
				return cerr
			}
			rows, err = tx.Listings(c.ID)
		}
		for _, r := range rows {
			out = append(out, r.Listing)
		}
		return err
	})
	return out, err
}
