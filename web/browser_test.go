package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/allot/allot/demo"
	"github.com/allot/allot/service"
)

// chromium is where Debian's chromium package puts the browser.
const chromium = "/usr/bin/chromium"

// newBrowser starts a headless Chromium with a fresh profile for t. A
// missing browser is installed where it can be (see installChromium), and
// otherwise fails the test: a browser test that skips proves nothing.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if err := installOnce(); err != nil {
		t.Fatalf("Chromium is missing at %s and could not be installed: %v; install the Debian package chromium (apt-get install -y chromium) to run the browser tests", chromium, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1360, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(alloc)
	ctx, cancelTime := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium at %s: %v", chromium, err)
	}
	return ctx
}

var installOnce = sync.OnceValue(installChromium)

// installChromium installs Debian's chromium package if the browser is
// missing, so that `go test ./...` passes on a fresh machine of the kind
// allot is developed on (Debian, as root, with Debian's package
// repositories reachable), where nothing else brings a browser.
func installChromium() error {
	if _, err := os.Stat(chromium); err == nil {
		return nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return errors.New("no apt-get to install it with")
	}
	if os.Geteuid() != 0 {
		return errors.New("installing it needs root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, args := range [][]string{{"update"}, {"install", "-y", "chromium"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	_, err := os.Stat(chromium)
	return err
}

// tab drives one browser tab against one server.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

func (b *tab) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base+path), chromedp.WaitReady(chromedp.CSS("body")))
}

func (b *tab) text(css string) string {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(css)))
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		b.t.Fatalf("browser: text of %s: %v", css, err)
	}
	return strings.TrimSpace(s)
}

func (b *tab) attr(css, name string) string {
	b.t.Helper()
	b.do(chromedp.WaitReady(chromedp.CSS(css)))
	v, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS(css), name))
	if err != nil || !v.Exists {
		b.t.Fatalf("browser: attribute %s of %s: %v (exists %v)", name, css, err, v.Exists)
	}
	return v.Value
}

func (b *tab) location() string {
	b.t.Helper()
	u, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatalf("browser: location: %v", err)
	}
	return u
}

// signIn signs in through the form, from a page that needs it.
func (b *tab) signIn(token string) {
	b.t.Helper()
	b.open("/")
	if !strings.Contains(b.location(), "/signin") {
		b.t.Fatalf("a page without a session went to %s, not to the sign-in form", b.location())
	}
	b.do(chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("overview")))
}

// cell reads what the overview shows for a channel and a SKU.
func (b *tab) cell(sku, channel string) int {
	b.t.Helper()
	b.open("/?q=" + sku)
	s := b.text(`td.q[data-sku="` + sku + `"][data-channel="` + channel + `"] a.n`)
	n, err := strconv.Atoi(s)
	if err != nil {
		b.t.Fatalf("overview shows %q for %s on %s, not a number", s, sku, channel)
	}
	return n
}

// previewed reads a preview's cell: what a channel shows of a SKU before
// and after the change.
func (b *tab) previewed(sku, channel string) (int, int) {
	b.t.Helper()
	css := `#preview td[data-sku="` + sku + `"][data-channel="` + channel + `"]`
	before, _ := strconv.Atoi(b.attr(css, "data-before"))
	after, _ := strconv.Atoi(b.attr(css, "data-after"))
	return before, after
}

// expectPreview checks the previewed numbers of some (SKU, channel) pairs.
func (b *tab) expectPreview(sku string, want map[string][2]int) {
	b.t.Helper()
	for channel, w := range want {
		if before, after := b.previewed(sku, channel); before != w[0] || after != w[1] {
			b.t.Errorf("preview of %s on %s: %d → %d, want %d → %d", sku, channel, before, after, w[0], w[1])
		}
	}
}

// save saves a previewed form and waits for the allocation's page.
func (b *tab) save() {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.ID("save")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if msg := b.text(".flash"); !strings.HasPrefix(msg, "Saved") {
		b.t.Fatalf("after saving: %q", msg)
	}
}

// shop is a merchant with one warehouse, three products, four channels, a
// shipment on its way and an order waiting for a listing to be linked.
func shop(t *testing.T) (*service.Service, service.Actor, string, int64) {
	t.Helper()
	srv, _ := allottest.Server(t, allottest.Options{})
	svc, ctx := srv.Service, context.Background()
	who, err := svc.Authenticate(ctx, allottest.Token)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = svc.PutWarehouse(ctx, who, allot.Warehouse{Code: "main", Name: "Main"})
	must(err)
	for sku, n := range map[string]int{"tee": 100, "cap": 50, "hoodie": 0} {
		_, _, err = svc.PutProduct(ctx, who, allot.Product{SKU: sku, Name: "The " + sku})
		must(err)
		_, err = svc.ReportStock(ctx, who, allot.StockReport{Warehouse: "main", SKU: sku, InWarehouse: n})
		must(err)
	}
	for code, p := range map[string]allot.Platform{"b2c": allot.API, "b2b": allot.API, "manual": allot.Manual, "shop": allot.API} {
		_, _, err = svc.PutChannel(ctx, who, allot.Channel{Code: code, Platform: p})
		must(err)
	}
	in, err := svc.CreateInbound(ctx, who, allot.Inbound{Warehouse: "main", Lines: []allot.Line{{SKU: "hoodie", Quantity: 200}}})
	must(err)
	// An order naming a listing nobody linked waits in needs attention.
	_, _, err = svc.ImportOrder(ctx, who, service.OrderParams{Channel: "shop", ExternalID: "S-1", Payment: allot.Paid,
		Lines: []allot.Line{{Listing: "SHOP-TEE", Quantity: 2}}})
	must(err)
	return svc, who, srv.URL(), in.ID
}

// An operations manager signs in, creates each of the four kinds of
// allocation through its form, sees the preview's numbers and then the
// overview's, links a listing from the readiness page, and is told which
// field is wrong when a quantity is negative, with nothing created.
func TestBrowserRunsTheFourUseCases(t *testing.T) {
	svc, who, url, inbound := shop(t)
	ctx := context.Background()
	b := &tab{t: t, ctx: newBrowser(t), base: url}
	b.signIn(allottest.Token)
	if got := b.cell("tee", "b2c"); got != 100 {
		t.Fatalf("before any allocation, b2c shows %d of tee, want 100", got)
	}

	t.Run("reserve", func(t *testing.T) {
		b.t = t
		b.open("/allocations/new/reserve")
		b.do(chromedp.Click(chromedp.ID("channel-b2b")), chromedp.SetValue(chromedp.ID("rule-b2b"), "follow_allocation"),
			chromedp.SendKeys(chromedp.ID("line-0-sku"), "tee"), chromedp.SendKeys(chromedp.ID("line-0-quantity"), "30"),
			chromedp.SendKeys(chromedp.ID("name"), "Wholesale tees"),
			chromedp.Click(chromedp.ID("preview-button")), chromedp.WaitVisible(chromedp.ID("preview")))
		b.expectPreview("tee", map[string][2]int{"b2b": {100, 30}, "b2c": {100, 70}, "manual": {100, 70}, "shop": {100, 70}})
		b.save()
		if got := b.cell("tee", "b2c"); got != 70 {
			t.Errorf("after the reserve, b2c shows %d of tee, want 70", got)
		}
		if got := b.cell("tee", "b2b"); got != 30 {
			t.Errorf("after the reserve, b2b shows %d of tee, want 30", got)
		}
	})

	t.Run("buffer", func(t *testing.T) {
		b.t = t
		b.open("/allocations/new/buffer")
		b.do(chromedp.SendKeys(chromedp.ID("line-0-sku"), "tee"), chromedp.SendKeys(chromedp.ID("line-0-quantity"), "10"),
			chromedp.Click(chromedp.ID("preview-button")), chromedp.WaitVisible(chromedp.ID("preview")))
		b.expectPreview("tee", map[string][2]int{"b2c": {70, 60}, "manual": {70, 60}, "b2b": {30, 30}})
		b.save()
		if got := b.cell("tee", "b2c"); got != 60 {
			t.Errorf("after the buffer, b2c shows %d of tee, want 60", got)
		}
	})

	t.Run("stop", func(t *testing.T) {
		b.t = t
		b.open("/allocations/new/stop")
		b.do(chromedp.Click(chromedp.ID("channel-b2c")), chromedp.SendKeys(chromedp.ID("line-0-sku"), "cap"),
			chromedp.Click(chromedp.ID("preview-button")), chromedp.WaitVisible(chromedp.ID("preview")))
		b.expectPreview("cap", map[string][2]int{"b2c": {50, 0}, "b2b": {50, 50}, "shop": {50, 50}})
		b.save()
		if got := b.cell("cap", "b2c"); got != 0 {
			t.Errorf("after stopping, b2c shows %d of cap, want 0", got)
		}
		if got := b.cell("cap", "b2b"); got != 50 {
			t.Errorf("after stopping on b2c, b2b shows %d of cap, want 50", got)
		}
	})

	t.Run("presell", func(t *testing.T) {
		b.t = t
		b.open("/allocations/new/presell")
		b.do(chromedp.Click(chromedp.ID("inbound-"+strconv.FormatInt(inbound, 10))), chromedp.Click(chromedp.ID("channel-b2c")),
			chromedp.SendKeys(chromedp.ID("line-0-sku"), "hoodie"), chromedp.SendKeys(chromedp.ID("line-0-quantity"), "150"),
			chromedp.Click(chromedp.ID("preview-button")), chromedp.WaitVisible(chromedp.ID("preview")))
		b.expectPreview("hoodie", map[string][2]int{"b2c": {0, 150}, "b2b": {0, 0}})
		b.save()
		if got := b.cell("hoodie", "b2c"); got != 150 {
			t.Errorf("after the presell, b2c shows %d of hoodie, want 150", got)
		}
		as, err := svc.ListAllocations(ctx, who, true)
		if err != nil {
			t.Fatal(err)
		}
		if a := as[0]; a.Inbound == nil || *a.Inbound != inbound {
			t.Errorf("the presell is tied to inbound %v, want %d", a.Inbound, inbound)
		}
	})

	t.Run("negative quantity", func(t *testing.T) {
		b.t = t
		before, err := svc.ListAllocations(ctx, who, false)
		if err != nil {
			t.Fatal(err)
		}
		b.open("/allocations/new/reserve")
		b.do(chromedp.Click(chromedp.ID("channel-shop")), chromedp.SendKeys(chromedp.ID("line-0-sku"), "tee"),
			chromedp.SendKeys(chromedp.ID("line-0-quantity"), "-3"), chromedp.Click(chromedp.ID("preview-button")),
			chromedp.WaitVisible(chromedp.ID("line-0-quantity-error")))
		msg := b.text("#line-0-quantity-error")
		if !strings.Contains(msg, "Quantity") || !strings.Contains(msg, "0 or more") {
			t.Errorf("next to the quantity: %q, want it to name the quantity and say it must be 0 or more", msg)
		}
		if summary := b.text("#form-error"); !strings.Contains(summary, "Quantity, line 1") {
			t.Errorf("the form's message %q does not name the quantity of line 1", summary)
		}
		if got := b.attr("#line-0-quantity", "aria-invalid"); got != "true" {
			t.Errorf("the quantity input is not marked invalid: aria-invalid=%q", got)
		}
		if b.attr("#line-0-quantity", "value") != "-3" {
			t.Errorf("the form lost what was typed")
		}
		after, err := svc.ListAllocations(ctx, who, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Errorf("%d allocations after the bad input, %d before: something was created", len(after), len(before))
		}
		if got := b.cell("tee", "shop"); got != 60 {
			t.Errorf("shop shows %d of tee, want 60 as before", got)
		}
	})

	t.Run("link a listing", func(t *testing.T) {
		b.t = t
		b.open("/readiness")
		if !strings.Contains(b.text(`#readiness-shop [data-check="products_linked"]`), "SHOP-TEE") {
			t.Fatalf("readiness does not name the unlinked listing SHOP-TEE")
		}
		b.do(chromedp.SendKeys(chromedp.ID("link-shop-SHOP-TEE"), "tee"),
			chromedp.Click(chromedp.CSS(`#readiness-shop .link-form button`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
		if msg := b.text(".flash"); !strings.Contains(msg, "Linked listing SHOP-TEE") {
			t.Errorf("after linking: %q", msg)
		}
		if txt := b.text(`#readiness-shop [data-check="orders_synchronised"]`); !strings.Contains(txt, "0 orders in needs attention") {
			t.Errorf("after linking, the orders check says %q", txt)
		}
		o, err := svc.GetOrder(ctx, who, "shop", "S-1")
		if err != nil {
			t.Fatal(err)
		}
		if o.NeedsAttention || !o.Counts {
			t.Errorf("the waiting order was not reprocessed: needs attention %v, counts %v", o.NeedsAttention, o.Counts)
		}
		if got := b.cell("tee", "shop"); got != 58 {
			t.Errorf("after its order counts, shop shows %d of tee, want 58", got)
		}
	})
}

// The screenshots in docs/ are taken from the demo's data when
// ALLOT_SCREENSHOTS=1, so that ordinary test runs do not rewrite them.
func TestBrowserScreenshots(t *testing.T) {
	if os.Getenv("ALLOT_SCREENSHOTS") != "1" {
		t.Skip("set ALLOT_SCREENSHOTS=1 to take docs/screenshot-overview.png and docs/screenshot-reserve.png")
	}
	d, err := demo.Start(context.Background(), demo.Config{Addr: "127.0.0.1:0", DB: filepath.Join(t.TempDir(), "demo.db"),
		Out: io.Discard, Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	// Let the first pushes to the simulated stores be confirmed, so that
	// the overview shows the steady state.
	svc, ctx := d.Server.Service, context.Background()
	who, err := svc.Authenticate(ctx, demo.Token)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		b2c, err1 := svc.Sync(ctx, who, "b2c")
		b2b, err2 := svc.Sync(ctx, who, "b2b")
		if err1 == nil && err2 == nil && b2c.Pending == 0 && b2b.Pending == 0 && len(b2c.Publications) > 0 {
			break
		}
	}
	b := &tab{t: t, ctx: newBrowser(t), base: d.Server.URL()}
	b.signIn(demo.Token)
	shoot := func(name string, full bool) {
		t.Helper()
		action := chromedp.CaptureScreenshot()
		if full {
			action = chromedp.FullScreenshot(100)
		}
		png, err := chromedp.Run(b.ctx, action)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("..", "docs", name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.open("/")
	b.do(chromedp.WaitVisible(chromedp.ID("overview")))
	shoot("screenshot-overview.png", false)

	b.open("/allocations/new/reserve")
	b.do(chromedp.Click(chromedp.ID("channel-b2b")), chromedp.SendKeys(chromedp.ID("line-0-sku"), "socks-3pack"),
		chromedp.SendKeys(chromedp.ID("line-0-quantity"), "60"), chromedp.SendKeys(chromedp.ID("line-1-sku"), "mug-white"),
		chromedp.SendKeys(chromedp.ID("line-1-quantity"), "12"), chromedp.SendKeys(chromedp.ID("name"), "Wholesale socks and mugs"),
		chromedp.Click(chromedp.ID("preview-button")), chromedp.WaitVisible(chromedp.ID("preview")))
	shoot("screenshot-reserve.png", true)
}
