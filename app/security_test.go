package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/allottest"
	"github.com/allot/allot/client"
	"github.com/allot/allot/generic"
	"github.com/allot/allot/shopify"
	"github.com/allot/allot/shopify/shopifysim"
	"github.com/allot/allot/store"
	"github.com/allot/allot/syncer"
)

// noConnections stands for every channel's connector where a test must
// call nothing.
func noConnections(store.ChannelRow) (syncer.Connector, error) {
	return nil, errors.New("no connections in this test")
}

// API tokens are kept as their SHA-256, never as themselves: whoever reads
// the database cannot use what is there.
func TestTokensAreStoredHashed(t *testing.T) {
	allottest.Each(t, func(t *testing.T, engine string) {
		srv, c := allottest.Server(t, allottest.Options{Engine: engine})
		ctx := context.Background()
		second, err := srv.Service.AddToken(ctx, "default", "warehouse-feed")
		if err != nil {
			t.Fatal(err)
		}
		driver := "sqlite"
		if engine == "postgres" {
			driver = "pgx"
		}
		db, err := sql.Open(driver, srv.Config.DB)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		rows, err := db.QueryContext(ctx, `SELECT name, hash FROM tokens`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		stored := map[string]string{}
		for rows.Next() {
			var name, hash string
			if err := rows.Scan(&name, &hash); err != nil {
				t.Fatal(err)
			}
			stored[name] = hash
		}
		if len(stored) != 2 {
			t.Fatalf("tokens table: %v, want two tokens", stored)
		}
		for _, token := range []string{allottest.Token, second} {
			sum := sha256.Sum256([]byte(token))
			found := false
			for name, hash := range stored {
				if strings.Contains(hash, token) || strings.Contains(name, token) {
					t.Errorf("the database keeps the token %q itself (%s: %s)", token, name, hash)
				}
				found = found || hash == hex.EncodeToString(sum[:])
			}
			if !found {
				t.Errorf("no SHA-256 of the token %q among %v", token, stored)
			}
		}
		// The hashes stand for the tokens: both work, a hash does not.
		for _, token := range []string{allottest.Token, second} {
			if err := client.New(srv.URL(), token).Do(ctx, "GET", "/v1/warehouses", nil, nil); err != nil {
				t.Errorf("token %q: %v", token, err)
			}
		}
		for _, hash := range stored {
			if err := client.New(srv.URL(), hash).Do(ctx, "GET", "/v1/warehouses", nil, nil); err == nil {
				t.Error("the stored hash works as a token")
			}
		}
		_ = c
	})
}

// A webhook whose signature does not verify is refused with 401 before
// its body is parsed: a forged webhook with a body that is no JSON at all
// gets 401, not the 400 that parsing would give; only with the right
// signature does the same body get its 400.
func TestForgedWebhooksAreRefusedBeforeTheirBodyIsParsed(t *testing.T) {
	srv, c := allottest.Server(t, allottest.Options{Connect: noConnections})
	ctx := context.Background()
	for _, step := range []struct {
		path string
		body any
	}{
		{"/v1/channels/shop", map[string]any{"platform": "shopify", "settings": map[string]any{"shop_url": "http://127.0.0.1:1",
			"access_token": "shpat_x", "location_id": "gid://shopify/Location/1", "webhook_secret": "shop-secret"}}},
		{"/v1/channels/outlet", map[string]any{"platform": "generic", "settings": map[string]any{"push_url": "http://127.0.0.1:1/push", "secret": "outlet-secret"}}},
	} {
		if err := c.Do(ctx, "PUT", step.path, step.body, nil); err != nil {
			t.Fatal(err)
		}
	}
	garbage := []byte("\x00{{not json at all")
	post := func(path string, header map[string]string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL()+path, bytes.NewReader(garbage))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	for _, c := range []struct {
		name, path string
		header     map[string]string
		want       int
	}{
		{"shopify, no signature", "/webhooks/shopify/shop", map[string]string{shopify.TopicHeader: "orders/create"}, 401},
		{"shopify, another secret", "/webhooks/shopify/shop", map[string]string{shopify.TopicHeader: "orders/create",
			shopify.HMACHeader: shopifysim.Sign("not-the-secret", garbage)}, 401},
		{"shopify, unknown channel", "/webhooks/shopify/nope", map[string]string{shopify.TopicHeader: "orders/create",
			shopify.HMACHeader: shopifysim.Sign("shop-secret", garbage)}, 401},
		{"shopify, the generic channel", "/webhooks/shopify/outlet", map[string]string{shopify.TopicHeader: "orders/create",
			shopify.HMACHeader: shopifysim.Sign("outlet-secret", garbage)}, 401},
		{"shopify, signed", "/webhooks/shopify/shop", map[string]string{shopify.TopicHeader: "orders/create",
			shopify.HMACHeader: shopifysim.Sign("shop-secret", garbage)}, 400},
		{"generic, no signature", "/webhooks/generic/outlet", map[string]string{generic.TimestampHeader: ts}, 401},
		{"generic, another secret", "/webhooks/generic/outlet", map[string]string{generic.TimestampHeader: ts,
			generic.SignatureHeader: generic.Sign("not-the-secret", now, garbage)}, 401},
		{"generic, replayed", "/webhooks/generic/outlet", map[string]string{generic.TimestampHeader: strconv.FormatInt(now.Add(-time.Hour).Unix(), 10),
			generic.SignatureHeader: generic.Sign("outlet-secret", now.Add(-time.Hour), garbage)}, 401},
		{"generic, the shopify channel", "/webhooks/generic/shop", map[string]string{generic.TimestampHeader: ts,
			generic.SignatureHeader: generic.Sign("shop-secret", now, garbage)}, 401},
		{"generic, signed", "/webhooks/generic/outlet", map[string]string{generic.TimestampHeader: ts,
			generic.SignatureHeader: generic.Sign("outlet-secret", now, garbage)}, 400},
	} {
		status, body := post(c.path, c.header)
		if status != c.want {
			t.Errorf("%s: answered %d, want %d: %s", c.name, status, c.want, body)
		}
		if status == 401 && !strings.Contains(body, `"code":"unauthorized"`) {
			t.Errorf("%s: %s", c.name, body)
		}
	}
}

// syncBuffer is a log destination the server and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Nothing secret reaches the log, at any level: not the API tokens, not a
// Shopify access token or webhook secret, not a generic channel's secret,
// through failed pushes, refused credentials, bad webhooks and bad
// requests.
func TestNoSecretReachesTheLog(t *testing.T) {
	const (
		shopToken     = "shpat_secret_access_token_4711"
		shopWrong     = "shpat_wrong_access_token_0815"
		shopHook      = "shopify_webhook_secret_1234"
		outletSecret  = "generic_secret_abcdef"
		platformOther = "platform_side_secret_fedcba"
		otherToken    = "other_merchant_api_token_5678"
		urlKey        = "key_in_the_push_url_2468"
		urlPassword   = "password_in_the_push_url_1357"
	)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, c := allottest.Server(t, allottest.Options{Log: log})
	ctx := context.Background()

	shop := shopifysim.New(shopifysim.Options{AccessToken: shopToken, WebhookSecret: shopHook})
	base, err := shop.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer shop.Close()
	shop.AddProduct("T-shirt", shopifysim.Variant{SKU: "tee"})
	platform := generic.NewPlatform(platformOther) // refuses allot's signatures
	defer platform.Close()
	if _, _, err := srv.Service.CreateMerchant(ctx, "other", "Other", otherToken); err != nil {
		t.Fatal(err)
	}

	for _, step := range []struct {
		method, path string
		body         any
	}{
		{"PUT", "/v1/warehouses/w1", map[string]any{}},
		{"PUT", "/v1/products/tee", map[string]any{"name": "T-shirt"}},
		{"PUT", "/v1/stock/w1/tee", map[string]any{"in_warehouse": 10}},
		{"PUT", "/v1/channels/shop", map[string]any{"platform": "shopify", "settings": map[string]any{"shop_url": base,
			"access_token": shopToken, "location_id": "gid://shopify/Location/1", "webhook_secret": shopHook}}},
		{"POST", "/v1/channels/shop/link", nil},
		{"PUT", "/v1/channels/outlet", map[string]any{"platform": "generic", "settings": map[string]any{"push_url": platform.PushURL(),
			"read_url": platform.ReadURL(), "secret": outletSecret}}},
		{"PUT", "/v1/channels/outlet/listings/OUT-TEE", map[string]any{"sku": "tee"}},
		{"PUT", "/v1/channels/dead", map[string]any{"platform": "generic", "settings": map[string]any{
			"push_url": "http://allot:" + urlPassword + "@127.0.0.1:1/push?key=" + urlKey, "secret": outletSecret}}},
		{"PUT", "/v1/channels/dead/listings/DEAD-TEE", map[string]any{"sku": "tee"}},
		{"PUT", "/v1/channels/keyed", map[string]any{"platform": "generic", "settings": map[string]any{
			"push_url": strings.Replace(platform.PushURL(), "http://", "http://allot:"+urlPassword+"@", 1) + "?key=" + urlKey, "secret": outletSecret}}},
		{"PUT", "/v1/channels/keyed/listings/KEYED-TEE", map[string]any{"sku": "tee"}},
	} {
		if err := c.Do(ctx, step.method, step.path, step.body, nil); err != nil {
			t.Fatalf("%s %s: %v", step.method, step.path, err)
		}
	}
	// Shopify fails, then refuses the token; the platform refuses every
	// push for its signature.
	if err := shop.Fail(shopifysim.Fault{Kind: shopifysim.FaultServerError, Count: 3}); err != nil {
		t.Fatal(err)
	}
	c.Do(ctx, "PUT", "/v1/stock/w1/tee", map[string]any{"in_warehouse": 7}, nil)
	c.Do(ctx, "POST", "/v1/channels/outlet/drift", nil, nil)
	c.Do(ctx, "PUT", "/v1/channels/shop", map[string]any{"platform": "shopify", "settings": map[string]any{"shop_url": base,
		"access_token": shopWrong, "location_id": "gid://shopify/Location/1", "webhook_secret": shopHook}}, nil)
	c.Do(ctx, "PUT", "/v1/stock/w1/tee", map[string]any{"in_warehouse": 5}, nil)
	c.Do(ctx, "POST", "/v1/channels/shop/link", nil, nil)
	c.Do(ctx, "POST", "/v1/channels/shop/drift", nil, nil)

	// Bad webhooks and bad requests.
	for _, w := range []struct {
		path   string
		header map[string]string
		body   string
	}{
		{"/webhooks/shopify/shop", map[string]string{shopify.HMACHeader: shopHook, shopify.TopicHeader: "orders/create"}, `{"id":1}`},
		{"/webhooks/shopify/shop", map[string]string{shopify.HMACHeader: shopifysim.Sign(shopHook, []byte("{")), shopify.TopicHeader: "orders/create"}, `{`},
		{"/webhooks/generic/outlet", map[string]string{generic.SignatureHeader: outletSecret, generic.TimestampHeader: "0"}, `{}`},
		{"/webhooks/generic/outlet", map[string]string{generic.SignatureHeader: generic.Sign(outletSecret, time.Now(), []byte(`{"lines":7}`)),
			generic.TimestampHeader: strconv.FormatInt(time.Now().Unix(), 10)}, `{"lines":7}`},
	} {
		req, _ := http.NewRequest("POST", srv.URL()+w.path, strings.NewReader(w.body))
		for k, v := range w.header {
			req.Header.Set(k, v)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	for _, token := range []string{"wrong-" + allottest.Token, otherToken} {
		client.New(srv.URL(), token).Do(ctx, "GET", "/v1/channels/shop", nil, nil)
		client.New(srv.URL(), token).Do(ctx, "PUT", "/v1/products/x", map[string]any{"name": 7}, nil)
	}

	// Let the worker fail a few rounds, then stop the server so that its
	// last words are in the log too.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, bad := platform.Calls(); bad > 3 && strings.Contains(logs.String(), "127.0.0.1:1") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	srv.Close()

	out := logs.String()
	if !strings.Contains(out, "allot serving") {
		t.Fatalf("the log was not captured:\n%s", out)
	}
	for name, secret := range map[string]string{"the API token": allottest.Token, "another merchant's API token": otherToken,
		"the Shopify access token": shopToken, "a wrong Shopify access token": shopWrong, "the Shopify webhook secret": shopHook,
		"the generic channel's secret": outletSecret, "a key in a push URL": urlKey, "a password in a push URL": urlPassword} {
		if strings.Contains(out, secret) {
			t.Errorf("%s is in the log:\n%s", name, out)
		}
	}
	t.Logf("%d lines of log, none with a secret", strings.Count(out, "\n"))
}
