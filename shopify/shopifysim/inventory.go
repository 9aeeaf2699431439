package shopifysim

import (
	"encoding/json"
	"net/url"
	"strconv"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
)

// validReasons are the reasons Shopify accepts for a quantity change.
var validReasons = map[string]bool{
	"correction": true, "cycle_count_available": true, "damaged": true,
	"movement_canceled": true, "movement_created": true, "movement_received": true,
	"movement_updated": true, "other": true, "promotion": true, "quality_control": true,
	"received": true, "reservation_created": true, "reservation_deleted": true,
	"reservation_updated": true, "restock": true, "safety_stock": true, "shrinkage": true,
}

const maxQuantity = 1_000_000_000

// inventorySetQuantities runs the mutation with Shopify's rules: the
// @idempotent key is required and replays the first result; every quantity
// must say changeFromQuantity (a number to compare, or null to skip the
// check); the call is all or nothing — one stale or invalid quantity and
// nothing is applied.
func (r *request) inventorySetQuantities(f *ast.Field, args map[string]any) (any, *GraphQLError) {
	s := r.s
	key := ""
	if d := f.Directives.ForName("idempotent"); d != nil {
		if a := d.Arguments.ForName("key"); a != nil {
			v, _ := a.Value.Value(r.vars)
			key, _ = v.(string)
		}
	}
	if key == "" {
		e := missingIdempotentError(f)
		return nil, &e
	}
	input, _ := args["input"].(map[string]any)
	params, _ := json.Marshal(input)

	if rec, ok := s.idem[key]; ok {
		if rec.params != string(params) {
			return &setPayload{userErrors: []userError{{
				code:    "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
				message: "The same idempotency key cannot be used with different operation parameters.",
			}}}, nil
		}
		s.stats.IdempotentReplays++
		return rec.payload, nil
	}

	if e := missingChangeFrom(input); e != nil {
		return nil, e
	}
	quantities, _ := input["quantities"].([]any)

	payload := s.setQuantities(input, quantities, key, r.now)
	s.idem[key] = &idemRecord{params: string(params), payload: payload}
	return payload, nil
}

type plannedSet struct {
	item       *itemRec
	quantity   int
	changeFrom *int
}

func (s *Store) setQuantities(input map[string]any, quantities []any, key string, now time.Time) *setPayload {
	name, _ := input["name"].(string)
	reason, _ := input["reason"].(string)
	var errs []userError
	if name != "available" && name != "on_hand" {
		errs = append(errs, userError{code: "INVALID_NAME", field: []string{"input", "name"},
			message: "The quantity name must be either 'available' or 'on_hand'."})
	}
	if !validReasons[reason] {
		errs = append(errs, userError{code: "INVALID_REASON", field: []string{"input", "reason"},
			message: "The specified reason is invalid."})
	}
	var ref *string
	if v, ok := input["referenceDocumentUri"].(string); ok {
		if u, err := url.Parse(v); err != nil || u.Scheme == "" || (u.Host == "" && u.Opaque == "" && u.Path == "") {
			errs = append(errs, userError{code: "INVALID_REFERENCE_DOCUMENT", field: []string{"input", "referenceDocumentUri"},
				message: "The specified reference document is invalid."})
		}
		ref = &v
	}

	seen := map[string]bool{}
	var plan []plannedSet
	for i, q := range quantities {
		m, _ := q.(map[string]any)
		idx := strconv.Itoa(i)
		field := func(f string) []string { return []string{"input", "quantities", idx, f} }
		itemID, _ := toString(m["inventoryItemId"])
		locID, _ := toString(m["locationId"])
		qty, _ := toInt(m["quantity"])
		it, itemOK := s.item(itemID)
		if !itemOK {
			errs = append(errs, userError{code: "INVALID_INVENTORY_ITEM", field: field("inventoryItemId"),
				message: "The specified inventory item could not be found."})
		}
		_, locOK := s.byGID[locID].(*locationRec)
		if !locOK {
			errs = append(errs, userError{code: "INVALID_LOCATION", field: field("locationId"),
				message: "The specified location could not be found."})
		}
		if !itemOK || !locOK {
			continue
		}
		if locID != s.location.gid {
			errs = append(errs, userError{code: "ITEM_NOT_STOCKED_AT_LOCATION", field: field("locationId"),
				message: "The specified inventory item is not stocked at the location."})
			continue
		}
		if seen[itemID+"|"+locID] {
			errs = append(errs, userError{code: "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR", field: field("inventoryItemId"),
				message: "The combination of inventoryItemId and locationId must be unique."})
			continue
		}
		seen[itemID+"|"+locID] = true
		switch {
		case qty > maxQuantity:
			errs = append(errs, userError{code: "INVALID_QUANTITY_TOO_HIGH", field: field("quantity"),
				message: "The total quantity can't be higher than 1,000,000,000."})
			continue
		case qty < -maxQuantity:
			errs = append(errs, userError{code: "INVALID_QUANTITY_TOO_LOW", field: field("quantity"),
				message: "The total quantity can't be lower than -1,000,000,000."})
			continue
		case qty < 0 && name == "on_hand":
			errs = append(errs, userError{code: "INVALID_QUANTITY_NEGATIVE", field: field("quantity"),
				message: "The quantity can't be negative."})
			continue
		}
		var changeFrom *int
		if v := m["changeFromQuantity"]; v != nil {
			n, _ := toInt(v)
			changeFrom = &n
			current, _ := quantityByName(it, name)
			if n != current {
				errs = append(errs, userError{code: "CHANGE_FROM_QUANTITY_STALE", field: field("changeFromQuantity"),
					message: "The changeFromQuantity value does not match persisted value."})
				continue
			}
		}
		plan = append(plan, plannedSet{item: it, quantity: qty, changeFrom: changeFrom})
	}
	if len(errs) > 0 {
		return &setPayload{userErrors: errs}
	}

	group := &adjustmentGroup{id: s.nextID(), createdAt: now, reason: reason, reference: ref}
	for _, p := range plan {
		prevAvail, prevOnHand := p.item.available, p.item.available+p.item.committed
		prev := prevAvail
		if name == "on_hand" {
			prev = prevOnHand
		}
		delta := p.quantity - prev
		p.item.available += delta
		p.item.updatedAt = now
		if delta != 0 {
			group.changes = append(group.changes,
				changeRec{item: p.item, loc: s.location, name: "available", delta: delta, after: p.item.available},
				changeRec{item: p.item, loc: s.location, name: "on_hand", delta: delta, after: p.item.available + p.item.committed},
			)
		}
		s.setLog = append(s.setLog, SetRecord{
			Seq: len(s.setLog) + 1, InventoryItemID: p.item.gid(), LocationID: s.location.gid, Name: name,
			Quantity: p.quantity, Previous: prev, ChangeFrom: p.changeFrom, IdempotencyKey: key, At: now,
		})
		s.stats.QuantitiesSet++
	}
	s.groups[group.id] = group
	return &setPayload{group: group, userErrors: []userError{}}
}

// missingChangeFrom refuses quantities that leave changeFromQuantity out.
// From 2026-04 the field is mandatory at run time though the schema
// leaves it nullable; Shopify's exact error for it is not documented, so
// the simulator answers with a top-level BAD_REQUEST error.
func missingChangeFrom(input map[string]any) *GraphQLError {
	quantities, _ := input["quantities"].([]any)
	for _, q := range quantities {
		m, _ := q.(map[string]any)
		if _, ok := m["changeFromQuantity"]; !ok {
			return &GraphQLError{
				Message:    "The changeFromQuantity field is required for each quantity: pass the quantity you expect, or null to skip the compare-and-swap check.",
				Extensions: map[string]any{"code": "BAD_REQUEST"},
			}
		}
	}
	return nil
}
