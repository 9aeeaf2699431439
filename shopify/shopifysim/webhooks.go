package shopifysim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Delivery is one webhook and what happened to it.
type Delivery struct {
	// WebhookID is X-Shopify-Webhook-Id: the same on every attempt and on
	// a redelivery, which is what receivers deduplicate on.
	WebhookID string
	// EventID is X-Shopify-Event-Id, shared by the topics one change
	// triggered (orders/cancelled and orders/updated, say).
	EventID     string
	Topic       string
	OrderID     int64
	URL         string
	Body        []byte
	Header      http.Header
	TriggeredAt time.Time
	// Redelivery marks a copy sent by Redeliver.
	Redelivery bool
	Attempts   []Attempt
	// Delivered is true once an attempt got a 2xx; Done once no more
	// attempts will be made.
	Delivered bool
	Done      bool
}

// Attempt is one POST of a delivery.
type Attempt struct {
	At     time.Time
	Status int
	Err    string
}

// Sign computes X-Shopify-Hmac-Sha256 for body: the base64 HMAC-SHA256 of
// the raw body keyed with the app's secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// trigger records and queues one delivery per topic for the order's
// current state. Called with s.mu held.
func (s *Store) trigger(o *orderRec, now time.Time, topics ...string) {
	body := s.payload(o)
	event := s.newUUID()
	for _, topic := range topics {
		d := &Delivery{
			WebhookID: s.newUUID(), EventID: event, Topic: topic, OrderID: o.id,
			URL: s.webhook, Body: body, TriggeredAt: now,
		}
		d.Header = http.Header{}
		d.Header.Set("Content-Type", "application/json")
		d.Header.Set("User-Agent", "Shopify-Captain-Hook")
		d.Header.Set("X-Shopify-Topic", topic)
		d.Header.Set("X-Shopify-Hmac-Sha256", Sign(s.opts.WebhookSecret, body))
		d.Header.Set("X-Shopify-Shop-Domain", s.opts.Domain)
		d.Header.Set("X-Shopify-API-Version", APIVersion)
		d.Header.Set("X-Shopify-Webhook-Id", d.WebhookID)
		d.Header.Set("X-Shopify-Event-Id", event)
		d.Header.Set("X-Shopify-Triggered-At", now.UTC().Format(time.RFC3339Nano))
		s.enqueue(d)
	}
}

// enqueue records d and hands it to the delivery worker, unless there is no
// address to deliver to. Called with s.mu held.
func (s *Store) enqueue(d *Delivery) {
	s.hooks.all = append(s.hooks.all, d)
	if d.URL == "" || !s.hooks.push(d) {
		d.Done = true
	}
}

// Deliveries returns a copy of every webhook triggered so far, in order.
func (s *Store) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, len(s.hooks.all))
	for i, d := range s.hooks.all {
		c := *d
		c.Header = d.Header.Clone()
		c.Body = append([]byte(nil), d.Body...)
		c.Attempts = append([]Attempt(nil), d.Attempts...)
		out[i] = c
	}
	return out
}

// Redeliver sends a webhook again, with the same id, body and signature,
// as Shopify does when it delivers a webhook twice. It goes to the current
// webhook address, or the original one if none is set now.
func (s *Store) Redeliver(webhookID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.hooks.all) - 1; i >= 0; i-- {
		d := s.hooks.all[i]
		if d.WebhookID != webhookID {
			continue
		}
		c := &Delivery{
			WebhookID: d.WebhookID, EventID: d.EventID, Topic: d.Topic, OrderID: d.OrderID,
			URL: s.webhook, Body: d.Body, Header: d.Header.Clone(), TriggeredAt: d.TriggeredAt, Redelivery: true,
		}
		if c.URL == "" {
			c.URL = d.URL
		}
		s.enqueue(c)
		return nil
	}
	return fmt.Errorf("shopifysim: no webhook %q", webhookID)
}

// Flush waits until every queued delivery is done (delivered, or out of
// retries).
func (s *Store) Flush(ctx context.Context) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for s.hooks.pending.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// deliveryQueue sends webhooks one at a time, in the order they were
// triggered, so that a run is repeatable. Shopify delivers concurrently and
// in no guaranteed order; receivers must not rely on the order either way.
type deliveryQueue struct {
	s       *Store
	all     []*Delivery // guarded by s.mu
	mu      sync.Mutex
	queue   []*Delivery
	started bool
	stopped bool
	wake    chan struct{}
	quit    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	once    sync.Once
	pending atomic.Int64
	client  *http.Client
}

func newDeliveryQueue(s *Store) *deliveryQueue {
	ctx, cancel := context.WithCancel(context.Background())
	return &deliveryQueue{
		s: s, wake: make(chan struct{}, 1), quit: make(chan struct{}), ctx: ctx, cancel: cancel,
		client: &http.Client{Timeout: s.opts.WebhookTimeout},
	}
}

// push queues d; it returns false once the store is closed.
func (q *deliveryQueue) push(d *Delivery) bool {
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return false
	}
	q.pending.Add(1)
	q.queue = append(q.queue, d)
	if !q.started {
		q.started = true
		go q.run()
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

func (q *deliveryQueue) stop() {
	q.once.Do(func() {
		q.mu.Lock()
		q.stopped = true
		q.mu.Unlock()
		close(q.quit)
		q.cancel()
	})
}

func (q *deliveryQueue) run() {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.mu.Unlock()
			select {
			case <-q.wake:
				continue
			case <-q.quit:
				q.drain()
				return
			}
		}
		d := q.queue[0]
		q.queue = q.queue[1:]
		q.mu.Unlock()
		q.deliver(d)
		q.pending.Add(-1)
		select {
		case <-q.quit:
			q.drain()
			return
		default:
		}
	}
}

// drain gives up the deliveries still queued when the store closes, so
// Flush does not wait for them.
func (q *deliveryQueue) drain() {
	q.mu.Lock()
	left := q.queue
	q.queue = nil
	q.mu.Unlock()
	for _, d := range left {
		q.finish(d)
		q.pending.Add(-1)
	}
}

// deliver posts d, retrying a failure (no answer, or not 2xx) with a
// doubling delay, and reusing the same webhook id on every attempt.
func (q *deliveryQueue) deliver(d *Delivery) {
	s := q.s
	backoff := s.opts.WebhookBackoff
	for attempt := 0; attempt <= s.opts.WebhookRetries; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(backoff):
			case <-q.quit:
				q.finish(d)
				return
			}
			backoff = min(backoff*2, time.Second)
		}
		status, err := q.post(d)
		s.mu.Lock()
		a := Attempt{At: s.clock(), Status: status}
		if err != nil {
			a.Err = err.Error()
		}
		d.Attempts = append(d.Attempts, a)
		ok := err == nil && status >= 200 && status < 300
		if ok {
			d.Delivered = true
			d.Done = true
		}
		s.mu.Unlock()
		if ok {
			return
		}
	}
	q.finish(d)
}

func (q *deliveryQueue) finish(d *Delivery) {
	q.s.mu.Lock()
	d.Done = true
	q.s.mu.Unlock()
}

func (q *deliveryQueue) post(d *Delivery) (int, error) {
	req, err := http.NewRequestWithContext(q.ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, err
	}
	req.Header = d.Header.Clone()
	resp, err := q.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}
