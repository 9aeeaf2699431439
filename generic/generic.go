// Package generic connects allot to any other platform: quantities are
// pushed as signed JSON to a URL of the merchant's, and orders are
// received as signed JSON at POST /webhooks/generic/{channel}. The format
// is in docs/CONNECTORS.md.
//
// Signature: the header X-Allot-Signature is "sha256=" and the hex
// HMAC-SHA256, keyed with the channel's secret, of the X-Allot-Timestamp
// header (Unix seconds), a dot, and the raw body. A timestamp more than
// five minutes away is refused, so a captured request cannot be replayed
// later.
package generic

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	"github.com/allot/allot/store"
	"github.com/allot/allot/syncer"
)

// Headers of a signed request.
const (
	SignatureHeader = "X-Allot-Signature"
	TimestampHeader = "X-Allot-Timestamp"
	// DeliveryHeader, on an order, identifies the delivery: a repeated one
	// counts once.
	DeliveryHeader = "X-Allot-Delivery"
	// MaxSkew is how far a signed request's timestamp may be from now.
	MaxSkew = 5 * time.Minute
)

// Sign returns the signature header value of body sent at ts.
func Sign(secret string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", ts.Unix())
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a signature header against body and the timestamp header,
// in constant time, and that the timestamp is within MaxSkew of now.
func Verify(secret, signature, timestamp string, body []byte, now time.Time) bool {
	if secret == "" {
		return false
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	ts := time.Unix(sec, 0)
	if ts.Before(now.Add(-MaxSkew)) || ts.After(now.Add(MaxSkew)) {
		return false
	}
	want := Sign(secret, ts, body)
	return hmac.Equal([]byte(want), []byte(signature))
}

// Quantity is one quantity in a push.
type Quantity struct {
	Listing  string `json:"listing"`
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
	// Previous is the quantity allot last saw confirmed: a platform that
	// shows another may refuse the item with its actual quantity.
	Previous *int `json:"previous"`
	// Key identifies this value of this listing: the same key twice is the
	// same change.
	Key string `json:"key"`
}

// PushBody is what allot POSTs to the push URL.
type PushBody struct {
	Channel    string     `json:"channel"`
	SentAt     time.Time  `json:"sent_at"`
	Quantities []Quantity `json:"quantities"`
}

// PushAnswer is what the push URL may answer. An empty 2xx answer means
// every quantity was applied.
type PushAnswer struct {
	Results []ItemResult `json:"results"`
}

// ItemResult is the platform's outcome for one quantity.
type ItemResult struct {
	Listing string `json:"listing"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
	// Actual, with OK false, is what the platform shows: it did not match
	// previous.
	Actual *int `json:"actual,omitempty"`
}

// ReadBody is what allot POSTs to the read URL to learn what the platform
// shows; the answer is ReadAnswer.
type ReadBody struct {
	Channel  string   `json:"channel"`
	Listings []string `json:"listings"`
}

// ReadAnswer maps listings to the quantity the platform shows.
type ReadAnswer struct {
	Quantities map[string]int `json:"quantities"`
}

// Connector pushes to one generic channel.
type Connector struct {
	Channel  string
	PushURL  string
	ReadURL  string // optional: without it, drift cannot be read back
	Secret   string
	Batch    int
	Client   *http.Client
	Now      func() time.Time
	MaxBytes int64
}

// New builds the connector of a channel from its settings: push_url,
// secret, and optionally read_url and batch_size.
func New(ch store.ChannelRow) (syncer.Connector, error) {
	s := func(k string) string { v, _ := ch.Settings[k].(string); return v }
	// A transport of its own: its connections are closed with it.
	c := &Connector{Channel: ch.Code, PushURL: s("push_url"), ReadURL: s("read_url"), Secret: s("secret"), Batch: 500,
		Client: &http.Client{Timeout: 30 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}, Now: time.Now, MaxBytes: 8 << 20}
	if n, ok := ch.Settings["batch_size"].(float64); ok && n >= 1 && n <= 10000 {
		c.Batch = int(n)
	}
	if c.PushURL == "" || c.Secret == "" {
		return nil, fmt.Errorf("channel %s needs settings push_url and secret", ch.Code)
	}
	return c, nil
}

// CloseIdleConnections closes the connections kept open to the platform.
func (c *Connector) CloseIdleConnections() { c.Client.CloseIdleConnections() }

// MaxBatch is the batch_size setting, 500 by default.
func (c *Connector) MaxBatch() int { return c.Batch }

// post sends a signed JSON body and decodes a JSON answer, if any, into out.
func (c *Connector) post(ctx context.Context, url string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	now := c.Now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(TimestampHeader, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(SignatureHeader, Sign(c.Secret, now, raw))
	resp, err := c.Client.Do(req)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			ue.URL = shown(ue.URL)
		}
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, c.MaxBytes))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s: %s", shown(url), resp.Status, strings.TrimSpace(string(answer[:min(len(answer), 300)])))
	}
	if out == nil || len(bytes.TrimSpace(answer)) == 0 {
		return nil
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("%s answered something other than the documented JSON: %w", shown(url), err)
	}
	return nil
}

// shown is a URL as errors name it: errors are logged and shown in the
// channel's sync status, so they leave out the user info and the query,
// where a platform may want a key.
func shown(raw string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return "the channel's URL"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment = nil, "", false, ""
	return u.String()
}

// Push sends the quantities in one signed POST.
func (c *Connector) Push(ctx context.Context, items []syncer.Item) ([]syncer.Result, error) {
	body := PushBody{Channel: c.Channel, SentAt: c.Now().UTC(), Quantities: make([]Quantity, len(items))}
	for i, it := range items {
		body.Quantities[i] = Quantity{Listing: it.ExternalID, SKU: it.SKU, Quantity: it.Quantity, Previous: it.Previous, Key: it.Key}
	}
	var answer PushAnswer
	if err := c.post(ctx, c.PushURL, body, &answer); err != nil {
		return nil, err
	}
	results := make([]syncer.Result, len(items))
	byListing := map[string]ItemResult{}
	for _, r := range answer.Results {
		byListing[r.Listing] = r
	}
	for i, it := range items {
		r, ok := byListing[it.ExternalID]
		if !ok || r.OK {
			continue // not mentioned in a 2xx answer: applied
		}
		msg := r.Error
		if msg == "" {
			msg = "refused by the platform"
		}
		results[i] = syncer.Result{Err: fmt.Errorf("%s", msg), Actual: r.Actual}
	}
	return results, nil
}

// Read asks the read URL what the platform shows; without one, nothing.
func (c *Connector) Read(ctx context.Context, items []syncer.Item) (map[string]int, error) {
	if c.ReadURL == "" {
		return map[string]int{}, nil
	}
	body := ReadBody{Channel: c.Channel, Listings: make([]string, len(items))}
	for i, it := range items {
		body.Listings[i] = it.ExternalID
	}
	var answer ReadAnswer
	if err := c.post(ctx, c.ReadURL, body, &answer); err != nil {
		return nil, err
	}
	return answer.Quantities, nil
}

// Check sends an empty push: the platform answers 2xx if it takes ours.
func (c *Connector) Check(ctx context.Context) error {
	return c.post(ctx, c.PushURL, PushBody{Channel: c.Channel, SentAt: c.Now().UTC(), Quantities: []Quantity{}}, nil)
}
