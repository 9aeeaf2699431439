package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/service"
)

// browserless is a plain HTTP client with a cookie jar that does not
// follow redirects, so that tests see where each answer sends the browser.
type browserless struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func newClient(t *testing.T, base string) *browserless {
	jar, _ := cookiejar.New(nil)
	return &browserless{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (b *browserless) get(path string) (*http.Response, string) {
	b.t.Helper()
	return b.send(http.MethodGet, path, nil, "", nil)
}

func (b *browserless) post(path string, form url.Values, header http.Header) (*http.Response, string) {
	b.t.Helper()
	return b.send(http.MethodPost, path, strings.NewReader(form.Encode()), "application/x-www-form-urlencoded", header)
}

func (b *browserless) send(method, path string, body io.Reader, ctype string, header http.Header) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	if m := csrfField.FindSubmatch(out); m != nil {
		b.csrf = string(m[1])
	}
	return resp, string(out)
}

// signIn signs in through the form and keeps the session's CSRF token.
func (b *browserless) signIn(token string) {
	b.t.Helper()
	b.get("/signin")
	resp, _ := b.post("/signin", url.Values{"_csrf": {b.csrf}, "token": {token}, "next": {"/"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		b.t.Fatalf("sign in: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if resp, _ := b.get("/"); resp.StatusCode != http.StatusOK {
		b.t.Fatalf("the overview after signing in: %s", resp.Status)
	}
}

// merchant starts a server with one warehouse, one product and two
// channels, and returns the service and who the test token speaks for.
// engine is as allottest.Options says ("": SQLite).
func merchant(t *testing.T, engine ...string) (*service.Service, service.Actor, string) {
	t.Helper()
	srv, _ := allottest.Server(t, allottest.Options{Engine: strings.Join(engine, "")})
	ctx := context.Background()
	who, err := srv.Service.Authenticate(ctx, allottest.Token)
	if err != nil {
		t.Fatal(err)
	}
	svc := srv.Service
	if _, err := svc.PutWarehouse(ctx, who, allot.Warehouse{Code: "main"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.PutProduct(ctx, who, allot.Product{SKU: "tee", Name: "T-shirt"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ReportStock(ctx, who, allot.StockReport{Warehouse: "main", SKU: "tee", InWarehouse: 100}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"b2c", "b2b"} {
		if _, _, err := svc.PutChannel(ctx, who, allot.Channel{Code: c, Platform: allot.API}); err != nil {
			t.Fatal(err)
		}
	}
	return svc, who, srv.URL()
}

func TestEveryPageNeedsSigningIn(t *testing.T) {
	t.Parallel()
	_, _, base := merchant(t)
	b := newClient(t, base)
	for _, path := range []string{"/", "/allocations", "/allocations/new/reserve", "/readiness", "/channels/b2c", "/files",
		"/files/products.csv", "/history", "/products/tee"} {
		resp, _ := b.get(path)
		want := "/signin?next=" + url.QueryEscape(path)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("GET %s without a session: %s to %q, want 303 to %q", path, resp.Status, resp.Header.Get("Location"), want)
		}
	}
	resp, _ := b.post("/allocations/new/reserve", url.Values{"channel": {"b2c"}, "sku": {"tee"}, "quantity": {"5"}, "action": {"save"}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST without a session: %s, want 403", resp.Status)
	}
	// A wrong token is named as the field at fault, and signs nobody in.
	b.get("/signin")
	resp, body := b.post("/signin", url.Values{"_csrf": {b.csrf}, "token": {"allot_not_a_token_at_all"}}, nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "API token: this is not the token of any merchant") {
		t.Errorf("a wrong token: %s, %q", resp.Status, body)
	}
	if resp, _ := b.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after a wrong token, the overview answers %s", resp.Status)
	}
	// After signing in, the page asked for first is shown.
	b.get("/signin?next=/history")
	resp, _ = b.post("/signin", url.Values{"_csrf": {b.csrf}, "token": {allottest.Token}, "next": {"/history"}}, nil)
	if resp.Header.Get("Location") != "/history" {
		t.Errorf("after signing in, sent to %q, want /history", resp.Header.Get("Location"))
	}
	// Signing in never sends anyone to another site.
	b2 := newClient(t, base)
	b2.get("/signin")
	resp, _ = b2.post("/signin", url.Values{"_csrf": {b2.csrf}, "token": {allottest.Token}, "next": {"//evil.example/x"}}, nil)
	if resp.Header.Get("Location") != "/" {
		t.Errorf("next=//evil.example/x sent the browser to %q", resp.Header.Get("Location"))
	}
}

func TestSessionCookieHoldsNoTokenAndSignOutEndsIt(t *testing.T) {
	t.Parallel()
	_, _, base := merchant(t)
	b := newClient(t, base)
	b.get("/signin")
	resp, _ := b.post("/signin", url.Values{"_csrf": {b.csrf}, "token": {allottest.Token}}, nil)
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "allot_session" && c.Value != "" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie after signing in")
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure {
		t.Errorf("session cookie over http: HttpOnly %v, SameSite %v, Secure %v; want HttpOnly, Lax, not Secure", session.HttpOnly,
			session.SameSite, session.Secure)
	}
	if strings.Contains(session.Value, allottest.Token) || strings.Contains(session.Value, service.HashToken(allottest.Token)) {
		t.Error("the session cookie carries the token or its hash")
	}
	for _, path := range []string{"/", "/allocations", "/channels", "/history"} {
		if _, body := b.get(path); strings.Contains(body, allottest.Token) {
			t.Errorf("%s shows the token", path)
		}
	}
	// Behind a proxy that speaks HTTPS, the cookie is sent over HTTPS only.
	b2 := newClient(t, base)
	b2.get("/signin")
	resp, _ = b2.post("/signin", url.Values{"_csrf": {b2.csrf}, "token": {allottest.Token}}, http.Header{"X-Forwarded-Proto": {"https"}})
	for _, c := range resp.Cookies() {
		if c.Name == "allot_session" && !c.Secure {
			t.Error("the session cookie of an HTTPS request is not Secure")
		}
	}
	// Signing out needs the CSRF token, then ends the session.
	if resp, _ := b.post("/signout", url.Values{}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign out without the CSRF token: %s, want 403", resp.Status)
	}
	b.post("/signout", url.Values{"_csrf": {b.csrf}}, nil)
	// The old cookie is dead even if a browser kept it.
	old := newClient(t, base)
	u, _ := url.Parse(base)
	old.c.Jar.SetCookies(u, []*http.Cookie{{Name: "allot_session", Value: session.Value}})
	if resp, _ := old.get("/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the overview with a signed-out session: %s, want a redirect to sign in", resp.Status)
	}
}

func TestCrossSitePostIsRefused(t *testing.T) {
	t.Parallel()
	svc, who, base := merchant(t)
	b := newClient(t, base)
	b.signIn(allottest.Token)
	form := func(csrf string) url.Values {
		return url.Values{"_csrf": {csrf}, "channel": {"b2b"}, "rule-b2b": {"use_available"}, "sku": {"tee"}, "quantity": {"30"},
			"action": {"save"}}
	}
	cases := []struct {
		name   string
		form   url.Values
		header http.Header
	}{
		{"no CSRF token", form(""), nil},
		{"another session's token", form("bm90IHRoZSByaWdodCB0b2tlbg"), nil},
		{"sent by another site", form(b.csrf), http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{"from another origin", form(b.csrf), http.Header{"Origin": {"https://evil.example"}}},
	}
	for _, c := range cases {
		resp, body := b.post("/allocations/new/reserve", c.form, c.header)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Nothing was changed") {
			t.Errorf("%s: %s, want 403 saying nothing was changed", c.name, resp.Status)
		}
	}
	as, err := svc.ListAllocations(context.Background(), who, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 0 {
		t.Fatalf("refused forms created %d allocations", len(as))
	}
	// The same form from the page itself is saved.
	resp, _ := b.post("/allocations/new/reserve", form(b.csrf), http.Header{"Origin": {base}, "Sec-Fetch-Site": {"same-origin"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/allocations/") {
		t.Fatalf("the page's own form: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	// The sign-in form is protected too: a sign-in forced by another site
	// would put the victim in the attacker's account.
	b3 := newClient(t, base)
	resp, _ = b3.post("/signin", url.Values{"token": {allottest.Token}}, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign in without the form's token: %s, want 403", resp.Status)
	}
}

func TestNamesAreShownEscaped(t *testing.T) {
	t.Parallel()
	svc, who, base := merchant(t)
	ctx := context.Background()
	evil := `<script>alert(1)</script>`
	if _, _, err := svc.PutProduct(ctx, who, allot.Product{SKU: "evil", Name: evil}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateAllocation(ctx, who, service.AllocationParams{Name: `"><img src=x onerror=alert(2)>`, Purpose: allot.Reserve,
		Channels: []allot.AllocationChannel{{Channel: "b2b"}}, Lines: []allot.Line{{SKU: "evil", Quantity: 0}}}); err != nil {
		t.Fatal(err)
	}
	b := newClient(t, base)
	b.signIn(allottest.Token)
	for _, path := range []string{"/", "/?q=evil", "/products/evil", "/allocations", "/history", "/history?sku=" + url.QueryEscape(evil)} {
		resp, body := b.get(path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s", path, resp.Status)
			continue
		}
		if strings.Contains(body, evil) || strings.Contains(body, "<img src=x") {
			t.Errorf("%s shows a name unescaped", path)
		}
		if path == "/" && !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s does not show the name, escaped", path)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: Content-Security-Policy %q lets other scripts run", path, csp)
		}
	}
}

func TestOverviewPagesTenThousandProducts(t *testing.T) {
	t.Parallel()
	allottest.Each(t, overviewPagesTenThousandProducts)
}

func overviewPagesTenThousandProducts(t *testing.T, engine string) {
	svc, who, base := merchant(t, engine)
	rows := make([]service.ProductLine, 10_000)
	for i := range rows {
		rows[i] = service.ProductLine{Line: i + 2, Product: allot.Product{SKU: fmt.Sprintf("sku-%05d", i), Name: fmt.Sprintf("Product %d", i)}}
	}
	if _, err := svc.ImportProducts(context.Background(), who, rows); err != nil {
		t.Fatal(err)
	}
	b := newClient(t, base)
	b.signIn(allottest.Token)
	resp, body := b.get("/?page=3")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("page 3: %s", resp.Status)
	}
	products := regexp.MustCompile(`<tr class="product" data-sku="([^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(products) != 50 {
		t.Fatalf("page 3 shows %d products, want 50", len(products))
	}
	// 10,001 products (tee comes last, after sku-09999): page 3 holds the
	// 101st to the 150th.
	if first, last := products[0][1], products[49][1]; first != "sku-00100" || last != "sku-00149" {
		t.Errorf("page 3 runs from %s to %s, want sku-00100 to sku-00149", first, last)
	}
	if !strings.Contains(body, `data-computed="50"`) {
		t.Errorf("page 3 computed quantities for more than its 50 products: %s", regexp.MustCompile(`data-computed="\d+"`).FindString(body))
	}
	if !strings.Contains(body, "Page 3 of 201") || !strings.Contains(body, "Products 101–150 of 10001") {
		t.Error("page 3 does not say where it is among 201 pages")
	}
	// A search pages too, and shows only what matches.
	_, body = b.get("/?q=" + url.QueryEscape("product 999"))
	if n := strings.Count(body, `<tr class="product"`); n != 11 { // 999, 9990–9999
		t.Errorf("searching for “product 999” shows %d products, want 11", n)
	}
	// One channel's column alone.
	_, body = b.get("/?channel=b2b&page=200")
	if strings.Contains(body, `data-channel="b2c"`) || !strings.Contains(body, `data-channel="b2b"`) {
		t.Error("filtering on b2b still shows b2c, or not b2b")
	}
}

func TestUploadNamesTheLinesAtFault(t *testing.T) {
	t.Parallel()
	svc, who, base := merchant(t)
	b := newClient(t, base)
	b.signIn(allottest.Token)
	upload := func(kind, content string) (*http.Response, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("_csrf", b.csrf)
		fw, _ := mw.CreateFormFile("file", kind+".csv")
		fw.Write([]byte(content))
		mw.Close()
		return b.send(http.MethodPost, "/files/"+kind, &buf, mw.FormDataContentType(), nil)
	}
	resp, body := upload("stock", "warehouse,sku,in_warehouse\nmain,tee,7\nmain,tee,ten\nmain,tee,-2x\n")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Line 3, column in_warehouse: must be a whole number") ||
		!strings.Contains(body, "Line 4, column in_warehouse") {
		t.Errorf("a file with two bad lines: %s, want both lines named in %s", resp.Status, between(body, `id="upload-error"`, "</div>"))
	}
	if st, err := svc.ListStock(context.Background(), who, "tee"); err != nil || st[0].InWarehouse != 100 {
		t.Errorf("a refused stock file changed the stock: %+v, %v", st, err)
	}
	resp, body = upload("products", "sku,name\nmug,Mug\n,No SKU\n")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Line 3, column sku: is required") {
		t.Errorf("a product without SKU: %s, want its line named in %s", resp.Status, between(body, `id="upload-error"`, "</div>"))
	}
	if _, err := svc.GetProduct(context.Background(), who, "mug"); allot.ErrorCode(err) != allot.NotFound {
		t.Errorf("a refused file created its good line: %v", err)
	}
	resp, _ = upload("products", "sku,name\nmug,Mug\n")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a good file: %s", resp.Status)
	}
	resp, body = b.get("/files/products.csv")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "mug,Mug") {
		t.Errorf("download of products.csv: %s %q", resp.Status, body)
	}
}

func TestEveryPageRenders(t *testing.T) {
	t.Parallel()
	allottest.Each(t, everyPageRenders)
}

func everyPageRenders(t *testing.T, engine string) {
	svc, who, base := merchant(t, engine)
	ctx := context.Background()
	a, err := svc.CreateAllocation(ctx, who, service.AllocationParams{Purpose: allot.Reserve,
		Channels: []allot.AllocationChannel{{Channel: "b2b", Rule: allot.UseAvailable}}, Lines: []allot.Line{{SKU: "tee", Quantity: 30}}})
	if err != nil {
		t.Fatal(err)
	}
	b := newClient(t, base)
	b.signIn(allottest.Token)
	for _, path := range []string{"/", "/allocations", "/allocations?ended=1", fmt.Sprintf("/allocations/%d", a.ID),
		"/allocations/new/reserve", "/allocations/new/buffer", "/allocations/new/stop", "/allocations/new/presell?sku=tee",
		"/inbounds/new", "/readiness", "/channels", "/channels/b2c", "/files", "/history", "/products/tee"} {
		if resp, body := b.get(path); resp.StatusCode != http.StatusOK || !strings.Contains(body, "</html>") {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
	}
	for path, want := range map[string]int{"/products/nope": 404, "/allocations/999": 404, "/allocations/new/nope": 404,
		"/channels/nope": 404, "/no/such/page": 404, "/files/nope.csv": 404} {
		if resp, _ := b.get(path); resp.StatusCode != want {
			t.Errorf("GET %s: %s, want %d", path, resp.Status, want)
		}
	}
	// Editing an allocation previews, then saves; bad input names its field.
	path := fmt.Sprintf("/allocations/%d", a.ID)
	resp, body := b.post(path, url.Values{"_csrf": {b.csrf}, "name": {a.Name}, "priority": {"0"}, "quantity-0": {"-1"},
		"action": {"preview"}}, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Quantity: must be 0 or more, not -1") {
		t.Errorf("a negative quantity on edit: %s", resp.Status)
	}
	_, body = b.post(path, url.Values{"_csrf": {b.csrf}, "name": {a.Name}, "priority": {"0"}, "quantity-0": {"20"},
		"action": {"preview"}}, nil)
	if !strings.Contains(body, `data-sku="tee" data-channel="b2c" data-before="70" data-after="80"`) {
		t.Error("the edit's preview does not show b2c going from 70 to 80")
	}
	resp, _ = b.post(path, url.Values{"_csrf": {b.csrf}, "name": {"Wholesale"}, "priority": {"0"}, "quantity-0": {"20"},
		"action": {"save"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving the edit: %s", resp.Status)
	}
	got, err := svc.GetAllocation(ctx, who, a.ID)
	if err != nil || got.Name != "Wholesale" || got.Lines[0].Quantity != 20 {
		t.Errorf("after the edit: %+v, %v", got, err)
	}
	resp, _ = b.post(path, url.Values{"_csrf": {b.csrf}, "action": {"end"}}, nil)
	if got, _ := svc.GetAllocation(ctx, who, a.ID); resp.StatusCode != http.StatusSeeOther || got.Active {
		t.Errorf("ending it: %s, active %v", resp.Status, got.Active)
	}
}

// between returns the part of s from the first start to the next end.
func between(s, start, end string) string {
	_, rest, _ := strings.Cut(s, start)
	part, _, _ := strings.Cut(rest, end)
	return part
}
