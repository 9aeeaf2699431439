package shopifysim

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
)

// connection is a page of a Relay connection.
type connection struct {
	edges   []*edgeRec
	hasNext bool
	hasPrev bool
}

type edgeRec struct {
	node   any
	cursor string
}

type pageInfoRec struct{ c *connection }

// typeOf names the GraphQL object type of a resolved value, for fields
// typed by an interface (node, nodes).
func typeOf(v any) string {
	switch v.(type) {
	case *shopRec:
		return "Shop"
	case *locationRec:
		return "Location"
	case *productRec:
		return "Product"
	case *variantRec:
		return "ProductVariant"
	case *itemRec:
		return "InventoryItem"
	case *levelRec:
		return "InventoryLevel"
	case *quantityRec:
		return "InventoryQuantity"
	case *adjustmentGroup:
		return "InventoryAdjustmentGroup"
	}
	return ""
}

func dateTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// cursorFor encodes a position the way Shopify's cursors look: base64 JSON
// naming the last id.
func cursorFor(id int64) string {
	b, _ := json.Marshal(map[string]any{"last_id": id, "last_value": strconv.FormatInt(id, 10)})
	return base64.StdEncoding.EncodeToString(b)
}

func cursorID(c string) (int64, bool) {
	b, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	var v struct {
		LastID int64 `json:"last_id"`
	}
	if json.Unmarshal(b, &v) != nil || v.LastID == 0 {
		return 0, false
	}
	return v.LastID, true
}

func idOf(v any) int64 {
	switch x := v.(type) {
	case *productRec:
		return x.id
	case *variantRec:
		return x.id
	case *itemRec:
		return x.id
	case *levelRec:
		return x.item.id
	case *locationRec:
		return x.id
	}
	return 0
}

// paginate cuts an already sorted list into the page first/after or
// last/before ask for.
func paginate(items []any, args map[string]any) (*connection, *GraphQLError) {
	if rev, _ := args["reverse"].(bool); rev {
		r := make([]any, len(items))
		for i, it := range items {
			r[len(items)-1-i] = it
		}
		items = r
	}
	start, end := 0, len(items)
	find := func(c string) (int, bool) {
		id, ok := cursorID(c)
		if !ok {
			return 0, false
		}
		for i, it := range items {
			if idOf(it) == id {
				return i, true
			}
		}
		return 0, false
	}
	if after, ok := args["after"].(string); ok {
		i, found := find(after)
		if !found {
			return nil, &GraphQLError{Message: "Invalid cursor for current pagination sort.", Extensions: map[string]any{"code": "BAD_REQUEST"}}
		}
		start = i + 1
	}
	if before, ok := args["before"].(string); ok {
		i, found := find(before)
		if !found {
			return nil, &GraphQLError{Message: "Invalid cursor for current pagination sort.", Extensions: map[string]any{"code": "BAD_REQUEST"}}
		}
		end = i
	}
	if end < start {
		end = start
	}
	c := &connection{hasPrev: start > 0, hasNext: end < len(items)}
	if n, ok := toInt(args["first"]); ok && end-start > n {
		end = start + n
		c.hasNext = true
	}
	if n, ok := toInt(args["last"]); ok && end-start > n {
		start = end - n
		c.hasPrev = true
	}
	for _, it := range items[start:end] {
		c.edges = append(c.edges, &edgeRec{node: it, cursor: cursorFor(idOf(it))})
	}
	return c, nil
}

// searchTerms parses Shopify's search syntax as far as the simulator
// supports it: space-separated terms, each "field:value" (value optionally
// quoted) or free text matched against the title, all of which must match.
func searchTerms(q string) [][2]string {
	var out [][2]string
	q = strings.TrimSpace(q)
	for q != "" {
		var term string
		if i := strings.IndexAny(q, " \t"); i >= 0 && !strings.Contains(q[:i], `"`) {
			term, q = q[:i], strings.TrimSpace(q[i:])
		} else if i := strings.Index(q, `:"`); i >= 0 {
			rest := q[i+2:]
			j := strings.Index(rest, `"`)
			if j < 0 {
				j = len(rest)
			}
			term = q[:i+1] + rest[:j]
			if j < len(rest) {
				q = strings.TrimSpace(rest[j+1:])
			} else {
				q = ""
			}
		} else {
			term, q = q, ""
		}
		if strings.EqualFold(term, "AND") {
			continue
		}
		if k, v, ok := strings.Cut(term, ":"); ok {
			out = append(out, [2]string{strings.ToLower(k), strings.Trim(v, `"'`)})
		} else {
			out = append(out, [2]string{"", strings.Trim(term, `"'`)})
		}
	}
	return out
}

func matchVariant(v *variantRec, terms [][2]string) bool {
	for _, t := range terms {
		var ok bool
		switch t[0] {
		case "sku":
			ok = v.sku == t[1]
		case "barcode":
			ok = v.barcode == t[1]
		case "id":
			ok = strconv.FormatInt(v.id, 10) == t[1]
		case "product_id":
			ok = strconv.FormatInt(v.product.id, 10) == t[1]
		case "title":
			ok = strings.Contains(strings.ToLower(v.title), strings.ToLower(t[1]))
		default:
			ok = strings.Contains(strings.ToLower(v.product.title+" "+v.title+" "+v.sku), strings.ToLower(t[1]))
		}
		if !ok {
			return false
		}
	}
	return true
}

func matchProduct(p *productRec, terms [][2]string) bool {
	for _, t := range terms {
		var ok bool
		switch t[0] {
		case "sku", "barcode":
			for _, v := range p.variants {
				if matchVariant(v, [][2]string{t}) {
					ok = true
				}
			}
		case "id":
			ok = strconv.FormatInt(p.id, 10) == t[1]
		case "title":
			ok = strings.Contains(strings.ToLower(p.title), strings.ToLower(t[1]))
		case "handle":
			ok = p.handle == t[1]
		default:
			ok = strings.Contains(strings.ToLower(p.title), strings.ToLower(t[1]))
		}
		if !ok {
			return false
		}
	}
	return true
}

func (s *Store) allVariants() []*variantRec {
	var out []*variantRec
	for _, p := range s.products {
		out = append(out, p.variants...)
	}
	return out
}

func (s *Store) level(it *itemRec) *levelRec { return &levelRec{item: it, loc: s.location} }

func (s *Store) shopName() string {
	name, _, _ := strings.Cut(s.opts.Domain, ".")
	return name
}

// node finds any object by its gid.
func (s *Store) node(id string) any {
	if v, ok := s.byGID[id]; ok {
		return v
	}
	if id == gid("Shop", s.shopID) {
		return &shopRec{}
	}
	if strings.HasPrefix(id, "gid://shopify/InventoryLevel/") {
		for _, v := range s.allVariants() {
			if s.level(v.item).gid() == id {
				return s.level(v.item)
			}
		}
	}
	if n, ok := legacyID(id); ok && strings.HasPrefix(id, "gid://shopify/InventoryAdjustmentGroup/") {
		if g, ok := s.groups[n]; ok {
			return g
		}
	}
	return nil
}

func lookup[T any](s *Store, args map[string]any, key string) any {
	id, _ := toString(args[key])
	if v, ok := s.node(id).(T); ok {
		return v
	}
	return nil
}

func sortVariants(vs []*variantRec, key string) {
	sort.SliceStable(vs, func(i, j int) bool {
		a, b := vs[i], vs[j]
		switch key {
		case "SKU":
			return a.sku < b.sku
		case "TITLE", "NAME":
			return a.title < b.title
		case "FULL_TITLE":
			return a.product.title+a.title < b.product.title+b.title
		case "POSITION":
			return a.position < b.position
		case "INVENTORY_LEVELS_AVAILABLE":
			return a.item.available < b.item.available
		}
		return a.id < b.id
	})
}

func variantsAny(vs []*variantRec) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// resolve returns the value of field f on obj, an object of type typeName.
func (r *request) resolve(typeName string, f *ast.Field, args map[string]any, obj any) (any, *GraphQLError) {
	s := r.s
	switch {
	case strings.HasSuffix(typeName, "Connection"):
		c := obj.(*connection)
		switch f.Name {
		case "edges":
			out := make([]any, len(c.edges))
			for i, e := range c.edges {
				out[i] = e
			}
			return out, nil
		case "nodes":
			out := make([]any, len(c.edges))
			for i, e := range c.edges {
				out[i] = e.node
			}
			return out, nil
		case "pageInfo":
			return &pageInfoRec{c: c}, nil
		}
	case strings.HasSuffix(typeName, "Edge"):
		e := obj.(*edgeRec)
		if f.Name == "cursor" {
			return e.cursor, nil
		}
		return e.node, nil
	case typeName == "PageInfo":
		c := obj.(*pageInfoRec).c
		switch f.Name {
		case "hasNextPage":
			return c.hasNext, nil
		case "hasPreviousPage":
			return c.hasPrev, nil
		case "startCursor":
			if len(c.edges) == 0 {
				return nil, nil
			}
			return c.edges[0].cursor, nil
		case "endCursor":
			if len(c.edges) == 0 {
				return nil, nil
			}
			return c.edges[len(c.edges)-1].cursor, nil
		}
	}

	switch typeName + "." + f.Name {
	// Query root.
	case "QueryRoot.shop":
		return &shopRec{}, nil
	case "QueryRoot.location":
		if _, ok := args["id"]; !ok || args["id"] == nil {
			return s.location, nil
		}
		return lookup[*locationRec](s, args, "id"), nil
	case "QueryRoot.locations":
		return paginate([]any{s.location}, args)
	case "QueryRoot.product":
		return lookup[*productRec](s, args, "id"), nil
	case "QueryRoot.productVariant":
		return lookup[*variantRec](s, args, "id"), nil
	case "QueryRoot.inventoryItem":
		return lookup[*itemRec](s, args, "id"), nil
	case "QueryRoot.node":
		id, _ := toString(args["id"])
		return s.node(id), nil
	case "QueryRoot.nodes":
		ids, _ := args["ids"].([]any)
		out := make([]any, len(ids))
		for i, id := range ids {
			sid, _ := toString(id)
			out[i] = s.node(sid)
		}
		return out, nil
	case "QueryRoot.products":
		q, _ := args["query"].(string)
		terms := searchTerms(q)
		ps := make([]*productRec, 0, len(s.products))
		for _, p := range s.products {
			if matchProduct(p, terms) {
				ps = append(ps, p)
			}
		}
		key, _ := args["sortKey"].(string)
		sort.SliceStable(ps, func(i, j int) bool {
			switch key {
			case "TITLE":
				return ps[i].title < ps[j].title
			case "INVENTORY_TOTAL":
				return totalInventory(ps[i]) < totalInventory(ps[j])
			}
			return ps[i].id < ps[j].id
		})
		items := make([]any, len(ps))
		for i, p := range ps {
			items[i] = p
		}
		return paginate(items, args)
	case "QueryRoot.productVariants":
		q, _ := args["query"].(string)
		terms := searchTerms(q)
		var vs []*variantRec
		for _, v := range s.allVariants() {
			if matchVariant(v, terms) {
				vs = append(vs, v)
			}
		}
		key, _ := args["sortKey"].(string)
		sortVariants(vs, key)
		return paginate(variantsAny(vs), args)
	case "QueryRoot.inventoryItems":
		q, _ := args["query"].(string)
		terms := searchTerms(q)
		var items []any
		for _, v := range s.allVariants() {
			if matchVariant(v, terms) {
				items = append(items, v.item)
			}
		}
		sort.SliceStable(items, func(i, j int) bool { return idOf(items[i]) < idOf(items[j]) })
		return paginate(items, args)

	// Shop.
	case "Shop.id":
		return gid("Shop", s.shopID), nil
	case "Shop.name":
		return s.shopName(), nil
	case "Shop.myshopifyDomain":
		return s.opts.Domain, nil
	case "Shop.email":
		return "owner@" + s.opts.Domain, nil

	// Location.
	case "Location.id":
		return obj.(*locationRec).gid, nil
	case "Location.name":
		return obj.(*locationRec).name, nil
	case "Location.isActive":
		return true, nil
	case "Location.legacyResourceId":
		return strconv.FormatInt(obj.(*locationRec).id, 10), nil
	case "Location.inventoryLevel":
		it, ok := lookup[*itemRec](s, args, "inventoryItemId").(*itemRec)
		if !ok {
			return nil, nil
		}
		return s.level(it), nil
	case "Location.inventoryLevels":
		var items []any
		for _, v := range s.allVariants() {
			items = append(items, s.level(v.item))
		}
		sort.SliceStable(items, func(i, j int) bool { return idOf(items[i]) < idOf(items[j]) })
		return paginate(items, args)

	// Product.
	case "Product.id":
		return obj.(*productRec).gid(), nil
	case "Product.title":
		return obj.(*productRec).title, nil
	case "Product.handle":
		return obj.(*productRec).handle, nil
	case "Product.status":
		return "ACTIVE", nil
	case "Product.vendor":
		return s.shopName(), nil
	case "Product.legacyResourceId":
		return strconv.FormatInt(obj.(*productRec).id, 10), nil
	case "Product.createdAt":
		return dateTime(obj.(*productRec).createdAt), nil
	case "Product.updatedAt":
		return dateTime(obj.(*productRec).updatedAt), nil
	case "Product.totalInventory":
		return totalInventory(obj.(*productRec)), nil
	case "Product.tracksInventory":
		return true, nil
	case "Product.variants":
		vs := append([]*variantRec(nil), obj.(*productRec).variants...)
		key, _ := args["sortKey"].(string)
		sortVariants(vs, key)
		return paginate(variantsAny(vs), args)

	// ProductVariant.
	case "ProductVariant.id":
		return obj.(*variantRec).gid(), nil
	case "ProductVariant.title":
		return obj.(*variantRec).title, nil
	case "ProductVariant.displayName":
		v := obj.(*variantRec)
		return v.product.title + " - " + v.title, nil
	case "ProductVariant.sku":
		return obj.(*variantRec).sku, nil
	case "ProductVariant.barcode":
		if b := obj.(*variantRec).barcode; b != "" {
			return b, nil
		}
		return nil, nil
	case "ProductVariant.price":
		return obj.(*variantRec).price, nil
	case "ProductVariant.position":
		return obj.(*variantRec).position, nil
	case "ProductVariant.inventoryQuantity":
		return obj.(*variantRec).item.available, nil
	case "ProductVariant.inventoryItem":
		return obj.(*variantRec).item, nil
	case "ProductVariant.product":
		return obj.(*variantRec).product, nil
	case "ProductVariant.legacyResourceId":
		return strconv.FormatInt(obj.(*variantRec).id, 10), nil
	case "ProductVariant.createdAt":
		return dateTime(obj.(*variantRec).createdAt), nil
	case "ProductVariant.updatedAt":
		return dateTime(obj.(*variantRec).updatedAt), nil

	// InventoryItem.
	case "InventoryItem.id":
		return obj.(*itemRec).gid(), nil
	case "InventoryItem.sku":
		return obj.(*itemRec).variant.sku, nil
	case "InventoryItem.tracked", "InventoryItem.requiresShipping":
		return true, nil
	case "InventoryItem.legacyResourceId":
		return strconv.FormatInt(obj.(*itemRec).id, 10), nil
	case "InventoryItem.createdAt":
		return dateTime(obj.(*itemRec).createdAt), nil
	case "InventoryItem.updatedAt":
		return dateTime(obj.(*itemRec).updatedAt), nil
	case "InventoryItem.variant":
		return obj.(*itemRec).variant, nil
	case "InventoryItem.variants":
		return paginate([]any{obj.(*itemRec).variant}, args)
	case "InventoryItem.inventoryLevel":
		id, _ := toString(args["locationId"])
		if id != s.location.gid {
			return nil, nil
		}
		return s.level(obj.(*itemRec)), nil
	case "InventoryItem.inventoryLevels":
		return paginate([]any{s.level(obj.(*itemRec))}, args)

	// InventoryLevel.
	case "InventoryLevel.id":
		return obj.(*levelRec).gid(), nil
	case "InventoryLevel.item":
		return obj.(*levelRec).item, nil
	case "InventoryLevel.location":
		return obj.(*levelRec).loc, nil
	case "InventoryLevel.createdAt":
		return dateTime(obj.(*levelRec).item.createdAt), nil
	case "InventoryLevel.updatedAt":
		return dateTime(obj.(*levelRec).item.updatedAt), nil
	case "InventoryLevel.quantities":
		l := obj.(*levelRec)
		names, _ := args["names"].([]any)
		out := make([]any, 0, len(names))
		for _, n := range names {
			name, _ := n.(string)
			q, ok := quantityByName(l.item, name)
			if !ok {
				return nil, &GraphQLError{Message: "The quantity name '" + name + "' is not valid.", Extensions: map[string]any{"code": "BAD_REQUEST"}}
			}
			out = append(out, &quantityRec{level: l, name: name, qty: q})
		}
		return out, nil

	// InventoryQuantity.
	case "InventoryQuantity.id":
		q := obj.(*quantityRec)
		return "gid://shopify/InventoryQuantity/" + strconv.FormatInt(q.level.item.levelID, 10) +
			"?inventory_item_id=" + strconv.FormatInt(q.level.item.id, 10) + "&name=" + q.name, nil
	case "InventoryQuantity.name":
		return obj.(*quantityRec).name, nil
	case "InventoryQuantity.quantity":
		return obj.(*quantityRec).qty, nil
	case "InventoryQuantity.updatedAt":
		return dateTime(obj.(*quantityRec).level.item.updatedAt), nil

	// Mutations and their payloads.
	case "Mutation.inventorySetQuantities":
		return r.inventorySetQuantities(f, args)
	case "InventorySetQuantitiesPayload.inventoryAdjustmentGroup":
		if g := obj.(*setPayload).group; g != nil {
			return g, nil
		}
		return nil, nil
	case "InventorySetQuantitiesPayload.userErrors":
		ues := obj.(*setPayload).userErrors
		out := make([]any, len(ues))
		for i := range ues {
			out[i] = &ues[i]
		}
		return out, nil
	case "InventorySetQuantitiesUserError.code":
		return obj.(*userError).code, nil
	case "InventorySetQuantitiesUserError.field":
		fl := obj.(*userError).field
		if fl == nil {
			return nil, nil
		}
		out := make([]any, len(fl))
		for i, x := range fl {
			out[i] = x
		}
		return out, nil
	case "InventorySetQuantitiesUserError.message":
		return obj.(*userError).message, nil
	case "InventoryAdjustmentGroup.id":
		return gid("InventoryAdjustmentGroup", obj.(*adjustmentGroup).id), nil
	case "InventoryAdjustmentGroup.createdAt":
		return dateTime(obj.(*adjustmentGroup).createdAt), nil
	case "InventoryAdjustmentGroup.reason":
		return obj.(*adjustmentGroup).reason, nil
	case "InventoryAdjustmentGroup.referenceDocumentUri":
		if ref := obj.(*adjustmentGroup).reference; ref != nil {
			return *ref, nil
		}
		return nil, nil
	case "InventoryAdjustmentGroup.changes":
		return filterChanges(obj.(*adjustmentGroup).changes, args), nil
	case "InventoryChange.delta":
		return obj.(*changeRec).delta, nil
	case "InventoryChange.name":
		return obj.(*changeRec).name, nil
	case "InventoryChange.quantityAfterChange":
		return obj.(*changeRec).after, nil
	case "InventoryChange.item":
		return obj.(*changeRec).item, nil
	case "InventoryChange.location":
		return obj.(*changeRec).loc, nil
	case "InventoryChange.ledgerDocumentUri":
		return nil, nil
	}
	return nil, nil
}

func totalInventory(p *productRec) int {
	n := 0
	for _, v := range p.variants {
		n += v.item.available
	}
	return n
}

// quantityByName reads one of Shopify's quantity names. The simulator
// tracks available and committed; on_hand is their sum, the other states
// are always 0.
func quantityByName(it *itemRec, name string) (int, bool) {
	switch name {
	case "available":
		return it.available, true
	case "committed":
		return it.committed, true
	case "on_hand":
		return it.available + it.committed, true
	case "incoming", "reserved", "damaged", "safety_stock", "quality_control":
		return 0, true
	}
	return 0, false
}

func filterChanges(cs []changeRec, args map[string]any) []any {
	in := func(list any, v string) bool {
		l, ok := list.([]any)
		if !ok {
			return true
		}
		for _, x := range l {
			if s, _ := toString(x); s == v {
				return true
			}
		}
		return false
	}
	out := []any{}
	for i := range cs {
		c := &cs[i]
		if in(args["inventoryItemIds"], c.item.gid()) && in(args["locationIds"], c.loc.gid) && in(args["quantityNames"], c.name) {
			out = append(out, c)
		}
	}
	return out
}
