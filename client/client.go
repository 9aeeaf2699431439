// Package client is a small Go client of allot's JSON API, used by the CLI
// and the tests.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/allot/allot"
)

// Client calls one allot server as one merchant.
type Client struct {
	URL   string // base URL, such as http://127.0.0.1:8080
	Token string
	HTTP  *http.Client
}

// New returns a client of the server at url with token.
func New(url, token string) *Client {
	return &Client{URL: strings.TrimRight(url, "/"), Token: token, HTTP: http.DefaultClient}
}

// Do sends a JSON request (body nil for none) and decodes the answer into
// out (nil to discard). An error answer comes back as *allot.Error.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	resp, err := c.send(ctx, method, path, "application/json", rd)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Upload sends a body of the given content type, such as a CSV file, and
// decodes the JSON answer into out.
func (c *Client) Upload(ctx context.Context, path, contentType string, body io.Reader, out any) error {
	resp, err := c.send(ctx, http.MethodPost, path, contentType, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

// Download streams a GET answer into w.
func (c *Client) Download(ctx context.Context, path string, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

func (c *Client) send(ctx context.Context, method, path, contentType string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" && body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		var e struct {
			Error struct {
				Code      string            `json:"code"`
				Message   string            `json:"message"`
				Field     string            `json:"field"`
				Shortfall []allot.Shortfall `json:"shortfall"`
			} `json:"error"`
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(raw, &e) != nil || e.Error.Code == "" {
			return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(raw))
		}
		return nil, &allot.Error{Code: e.Error.Code, Message: e.Error.Message, Field: e.Error.Field, Shortfall: e.Error.Shortfall}
	}
	return resp, nil
}
