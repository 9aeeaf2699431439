// Package shopify connects allot to Shopify stores through the Admin
// GraphQL API (version APIVersion), spoken over net/http: it sets the
// `available` quantity at the channel's location with
// inventorySetQuantities (compare-and-set with changeFromQuantity, an
// @idempotent key on every call, at most 250 quantities a call), throttles
// itself from the cost information of every response, reads variants to
// link listings to products, and receives order webhooks.
//
// Channel settings: shop_url (the store's base URL, such as
// https://example.myshopify.com, or a simulator's), access_token,
// location_id (a Location gid) and webhook_secret.
package shopify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/allot/allot/service"
	"github.com/allot/allot/store"
	"github.com/allot/allot/syncer"
)

// APIVersion is the Admin API version the connector speaks.
const APIVersion = "2026-10"

// MaxQuantities is how many quantities one inventorySetQuantities takes.
const MaxQuantities = 250

// The documents the connector sends. A test checks each against the
// schema of APIVersion.
const (
	ShopQuery = `query Shop { shop { name myshopifyDomain } }`

	SetMutation = `mutation SetAvailable($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}`

	LevelsQuery = `query Levels($ids: [ID!]!, $location: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id
      inventoryLevel(locationId: $location) { quantities(names: ["available"]) { name quantity } }
    }
  }
}`

	VariantsQuery = `query Variants($first: Int!, $after: String) {
  productVariants(first: $first, after: $after) {
    nodes { id sku barcode inventoryItem { id } }
    pageInfo { hasNextPage endCursor }
  }
}`
)

// Connector talks to one Shopify store.
type Connector struct {
	ShopURL    string
	Token      string
	LocationID string
	Client     *http.Client
	Now        func() time.Time
	Sleep      func(context.Context, time.Duration) error

	mu        sync.Mutex
	available float64 // points in the bucket at seen, as the last answer said
	maximum   float64
	restore   float64 // points per second
	seen      time.Time
}

// New builds the connector of a channel from its settings.
func New(ch store.ChannelRow) (syncer.Connector, error) {
	s := func(k string) string { v, _ := ch.Settings[k].(string); return v }
	c := &Connector{ShopURL: strings.TrimRight(s("shop_url"), "/"), Token: s("access_token"), LocationID: s("location_id"),
		Client: &http.Client{Timeout: 30 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}, Now: time.Now, Sleep: sleep}
	var missing []string
	for _, k := range []string{"shop_url", "access_token", "location_id"} {
		if s(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("channel %s needs the settings %s", ch.Code, strings.Join(missing, ", "))
	}
	return c, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// CloseIdleConnections closes the connections kept open to the store.
func (c *Connector) CloseIdleConnections() { c.Client.CloseIdleConnections() }

// MaxBatch is Shopify's limit on one inventorySetQuantities.
func (c *Connector) MaxBatch() int { return MaxQuantities }

// Error is an error Shopify answered.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("shopify: %s (%s)", e.Message, e.Code)
	}
	return fmt.Sprintf("shopify: HTTP %d: %s", e.Status, e.Message)
}

type cost struct {
	RequestedQueryCost float64 `json:"requestedQueryCost"`
	ThrottleStatus     struct {
		MaximumAvailable   float64 `json:"maximumAvailable"`
		CurrentlyAvailable float64 `json:"currentlyAvailable"`
		RestoreRate        float64 `json:"restoreRate"`
	} `json:"throttleStatus"`
}

type answer struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	Extensions struct {
		Cost *cost `json:"cost"`
	} `json:"extensions"`
}

// wait holds a call back until the bucket, as the last answer left it and
// refilled since, holds the points it needs: the store is never asked for
// more than it gives, and throttled answers stay rare. A background call
// (reading the catalogue or checking drift) also leaves half the bucket to
// pushes, which must not wait behind it.
func (c *Connector) wait(ctx context.Context, need float64, background bool) error {
	c.mu.Lock()
	var d time.Duration
	if c.restore > 0 {
		now := c.Now()
		have := min(c.maximum, c.available+now.Sub(c.seen).Seconds()*c.restore)
		if background {
			need = min(c.maximum, need+c.maximum/2)
		}
		if need > have {
			d = time.Duration((need - have) / c.restore * float64(time.Second))
		}
	}
	c.mu.Unlock()
	if d > 0 {
		return c.Sleep(ctx, d)
	}
	return nil
}

func (c *Connector) learn(k *cost) {
	if k == nil {
		return
	}
	c.mu.Lock()
	c.available, c.maximum, c.restore = k.ThrottleStatus.CurrentlyAvailable, k.ThrottleStatus.MaximumAvailable, k.ThrottleStatus.RestoreRate
	c.seen = c.Now()
	c.mu.Unlock()
}

// call sends one GraphQL document, estimated to cost need points, and
// decodes its data into out. A THROTTLED answer waits for the points and
// tries again; other failures are returned for the caller to retry later.
func (c *Connector) call(ctx context.Context, query string, vars map[string]any, need float64, out any) error {
	return c.send(ctx, query, vars, need, false, out)
}

// background is call for reads that can wait: see wait.
func (c *Connector) background(ctx context.Context, query string, vars map[string]any, need float64, out any) error {
	return c.send(ctx, query, vars, need, true, out)
}

func (c *Connector) send(ctx context.Context, query string, vars map[string]any, need float64, background bool, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		if err := c.wait(ctx, need, background); err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.ShopURL+"/admin/api/"+APIVersion+"/graphql.json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Shopify-Access-Token", c.Token)
		resp, err := c.Client.Do(req)
		if err != nil {
			return err
		}
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			msg := strings.TrimSpace(string(raw[:min(len(raw), 300)]))
			if resp.StatusCode == http.StatusTooManyRequests && attempt < 3 {
				if s, err := strconv.ParseFloat(resp.Header.Get("Retry-After"), 64); err == nil && s > 0 && s < 60 {
					if err := c.Sleep(ctx, time.Duration(s*float64(time.Second))); err != nil {
						return err
					}
					continue
				}
			}
			return &Error{Status: resp.StatusCode, Message: msg}
		}
		var a answer
		if err := json.Unmarshal(raw, &a); err != nil {
			return fmt.Errorf("shopify: an answer that is not JSON: %w", err)
		}
		c.learn(a.Extensions.Cost)
		if len(a.Errors) > 0 {
			code, _ := a.Errors[0].Extensions["code"].(string)
			if code == "THROTTLED" && attempt < 5 {
				if a.Extensions.Cost != nil {
					need = max(need, a.Extensions.Cost.RequestedQueryCost)
				}
				continue // wait() now knows how long
			}
			return &Error{Status: resp.StatusCode, Code: code, Message: a.Errors[0].Message}
		}
		if out != nil {
			return json.Unmarshal(a.Data, out)
		}
		return nil
	}
}

// Check asks the store its name: it proves the token works.
func (c *Connector) Check(ctx context.Context) error {
	return c.call(ctx, ShopQuery, nil, 1, nil)
}

type userError struct {
	Code    string   `json:"code"`
	Field   []string `json:"field"`
	Message string   `json:"message"`
}

// Push sets the available quantity of each item at the channel's
// location. inventorySetQuantities applies all of a call or nothing, so
// when some quantities are refused the others are sent again at once
// without them. A quantity refused because the store shows another number
// than allot last confirmed comes back with what the store shows.
func (c *Connector) Push(ctx context.Context, items []syncer.Item) ([]syncer.Result, error) {
	results := make([]syncer.Result, len(items))
	todo := make([]int, 0, len(items))
	for i, it := range items {
		if it.PushRef == "" {
			results[i].Err = fmt.Errorf("listing %s has no inventory item: link it again", it.ExternalID)
			continue
		}
		todo = append(todo, i)
	}
	for len(todo) > 0 {
		quantities := make([]map[string]any, len(todo))
		keys := make([]string, len(todo))
		for j, i := range todo {
			it := items[i]
			q := map[string]any{"inventoryItemId": it.PushRef, "locationId": c.LocationID, "quantity": it.Quantity, "changeFromQuantity": nil}
			if it.Previous != nil {
				q["changeFromQuantity"] = *it.Previous
			}
			quantities[j] = q
			keys[j] = it.Key
		}
		vars := map[string]any{"key": idempotencyKey(keys), "input": map[string]any{"name": "available", "reason": "correction",
			"referenceDocumentUri": "allot://sync", "quantities": quantities}}
		var data struct {
			Set struct {
				UserErrors []userError `json:"userErrors"`
			} `json:"inventorySetQuantities"`
		}
		if err := c.call(ctx, SetMutation, vars, 10, &data); err != nil {
			return nil, err
		}
		if len(data.Set.UserErrors) == 0 {
			return results, nil // all of todo applied
		}
		refused := map[int]bool{}
		var stale []int
		for _, ue := range data.Set.UserErrors {
			j := -1
			if len(ue.Field) >= 3 && ue.Field[1] == "quantities" {
				j, _ = strconv.Atoi(ue.Field[2])
			}
			if j < 0 || j >= len(todo) {
				return nil, &Error{Code: ue.Code, Message: ue.Message} // about the whole call
			}
			i := todo[j]
			refused[i] = true
			results[i].Err = &Error{Code: ue.Code, Message: ue.Message}
			if ue.Code == "CHANGE_FROM_QUANTITY_STALE" {
				stale = append(stale, i)
			}
		}
		if len(stale) > 0 {
			asked := make([]syncer.Item, len(stale))
			for k, i := range stale {
				asked[k] = items[i]
			}
			shown, err := c.read(ctx, asked, false) // part of a push
			if err != nil {
				return nil, err
			}
			for _, i := range stale {
				if q, ok := shown[items[i].ExternalID]; ok {
					results[i].Actual = &q
				}
			}
		}
		var rest []int
		for _, i := range todo {
			if !refused[i] {
				rest = append(rest, i)
			}
		}
		todo = rest
	}
	return results, nil
}

// idempotencyKey names a call by the values it carries: the same values
// sent again (a retry after a lost answer) carry the same key, so Shopify
// applies them once.
func idempotencyKey(keys []string) string {
	h := sha256.New()
	for _, k := range keys {
		io.WriteString(h, k)
		h.Write([]byte{0})
	}
	return "allot-" + hex.EncodeToString(h.Sum(nil))[:32]
}

// Read returns the available quantity the store shows of each item at the
// channel's location, by ExternalID. It is a background read (drift
// checks): it leaves room in the bucket to pushes.
func (c *Connector) Read(ctx context.Context, items []syncer.Item) (map[string]int, error) {
	return c.read(ctx, items, true)
}

func (c *Connector) read(ctx context.Context, items []syncer.Item, background bool) (map[string]int, error) {
	out := map[string]int{}
	byRef := map[string][]string{}
	var refs []string
	for _, it := range items {
		if it.PushRef == "" {
			continue
		}
		if _, ok := byRef[it.PushRef]; !ok {
			refs = append(refs, it.PushRef)
		}
		byRef[it.PushRef] = append(byRef[it.PushRef], it.ExternalID)
	}
	for start := 0; start < len(refs); start += 100 {
		part := refs[start:min(len(refs), start+100)]
		var data struct {
			Nodes []*struct {
				ID             string `json:"id"`
				InventoryLevel *struct {
					Quantities []struct {
						Name     string `json:"name"`
						Quantity int    `json:"quantity"`
					} `json:"quantities"`
				} `json:"inventoryLevel"`
			} `json:"nodes"`
		}
		if err := c.send(ctx, LevelsQuery, map[string]any{"ids": part, "location": c.LocationID}, float64(2*len(part)+1), background, &data); err != nil {
			return nil, err
		}
		for _, n := range data.Nodes {
			if n == nil || n.InventoryLevel == nil {
				continue
			}
			for _, q := range n.InventoryLevel.Quantities {
				if q.Name == "available" {
					for _, ext := range byRef[n.ID] {
						out[ext] = q.Quantity
					}
				}
			}
		}
	}
	return out, nil
}

// Catalog reads every variant of the store: the listings allot links to
// its products by SKU, then barcode.
func (c *Connector) Catalog(ctx context.Context) ([]service.RemoteListing, error) {
	var out []service.RemoteListing
	var after any
	for {
		var data struct {
			Variants struct {
				Nodes []struct {
					ID            string `json:"id"`
					SKU           string `json:"sku"`
					Barcode       string `json:"barcode"`
					InventoryItem struct {
						ID string `json:"id"`
					} `json:"inventoryItem"`
				} `json:"nodes"`
				PageInfo struct {
					HasNextPage bool   `json:"hasNextPage"`
					EndCursor   string `json:"endCursor"`
				} `json:"pageInfo"`
			} `json:"productVariants"`
		}
		if err := c.background(ctx, VariantsQuery, map[string]any{"first": 250, "after": after}, 2+250*2, &data); err != nil {
			return nil, err
		}
		for _, v := range data.Variants.Nodes {
			out = append(out, service.RemoteListing{ExternalID: v.ID, PushRef: v.InventoryItem.ID, SKU: v.SKU, Barcode: v.Barcode})
		}
		if !data.Variants.PageInfo.HasNextPage {
			return out, nil
		}
		after = data.Variants.PageInfo.EndCursor
	}
}

// IsThrottled reports whether err is Shopify saying to slow down.
func IsThrottled(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Code == "THROTTLED" || e.Status == http.StatusTooManyRequests)
}
