package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/allottest"
	"github.com/jackc/pgx/v5/pgxpool"
)

// FlashResult is one contender's run of the flash sale.
type FlashResult struct {
	Name     string
	Accepted int
	Refused  int
	Errors   int
	Elapsed  time.Duration
	// SoldOut is when the last accepted order was answered.
	SoldOut   time.Duration
	Latencies Latencies
	// Oversold is what was accepted beyond the stock; Lost, what was
	// acknowledged but is not in the database.
	Oversold, Lost int
}

// PerSecond is accepted orders per second, until sold out.
func (r FlashResult) PerSecond() float64 { return float64(r.Accepted) / r.SoldOut.Seconds() }

// rush runs clients that send demand orders in all, one at a time each,
// as fast as they are answered. send returns whether the order was
// accepted.
func rush(clients, demand int, send func(client, seq int) (bool, error)) FlashResult {
	var mu sync.Mutex
	var res FlashResult
	var wg sync.WaitGroup
	var next atomic.Int64
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat Latencies
			acc, ref, errs := 0, 0, 0
			var last time.Duration
			for seq := 0; next.Add(1) <= int64(demand); seq++ {
				t := time.Now()
				ok, err := send(c, seq)
				lat = append(lat, time.Since(t))
				switch {
				case err != nil:
					errs++
				case ok:
					acc++
					last = time.Since(start)
				default:
					ref++
				}
			}
			mu.Lock()
			res.Accepted += acc
			res.Refused += ref
			res.Errors += errs
			res.SoldOut = max(res.SoldOut, last)
			res.Latencies = append(res.Latencies, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

// demand is the orders of a flash sale: half as many again as the stock.
func demand(stock int) int { return stock + stock/2 }

// FlashSale runs the flash sale: clients place one-unit orders for one SKU
// with stock units in stock, through HTTP, 1.5 orders a unit; on
// PostgreSQL, against the two baselines too.
func FlashSale(ctx context.Context, cfg Config, stock, clients int) ([]FlashResult, error) {
	var out []FlashResult
	r, err := flashAllot(ctx, cfg, stock, clients)
	if err != nil {
		return nil, err
	}
	out = append(out, r)
	if cfg.Engine == "postgres" && !cfg.SkipBaselines {
		for _, b := range []string{"B0", "B1"} {
			r, err := flashBaseline(ctx, cfg, b, stock, clients)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func flashAllot(ctx context.Context, cfg Config, stock, clients int) (FlashResult, error) {
	srv, c, done, err := cfg.server(ctx, nil)
	if err != nil {
		return FlashResult{}, err
	}
	defer done()
	if err := setup(ctx, c,
		[2]any{"/v1/warehouses/w1", map[string]any{}},
		[2]any{"/v1/channels/web", map[string]any{"platform": "api"}},
		[2]any{"/v1/products/drop", map[string]any{"name": "The viral drop"}},
		[2]any{"/v1/stock/w1/drop", map[string]any{"in_warehouse": stock}}); err != nil {
		return FlashResult{}, err
	}
	// Every contender gets the same lean client: a body built as a string,
	// the answer's status read, its body discarded.
	p := newPoster(srv.URL()+"/v1/orders", allottest.Token, clients)
	defer p.close()
	res := rush(clients, demand(stock), func(cl, seq int) (bool, error) {
		status, err := p.post(cl, `{"channel":"web","external_id":"c`+strconv.Itoa(cl)+"-"+strconv.Itoa(seq)+
			`","lines":[{"sku":"drop","quantity":1}]}`)
		switch {
		case err != nil:
			return false, err
		case status == http.StatusCreated:
			return true, nil
		case status == http.StatusConflict:
			return false, nil // insufficient_stock: sold out
		}
		return false, fmt.Errorf("allot answered %d", status)
	})
	res.Name = "allot (" + srv.DB.Engine() + ")"
	var st struct {
		Stock []allot.Stock `json:"stock"`
	}
	if err := c.Do(ctx, "GET", "/v1/stock?sku=drop", nil, &st); err != nil {
		return res, err
	}
	committed := st.Stock[0].Committed
	res.Oversold = max(0, res.Accepted-stock)
	res.Lost = max(0, res.Accepted-committed)
	if committed != res.Accepted {
		res.Lost = res.Accepted - committed // negative: counted but not acknowledged
	}
	return res, nil
}

// The baselines, behind the same kind of HTTP endpoint as allot so that
// both pay for HTTP and JSON alike:
//   - B1, the usual approach of open-source commerce engines: a
//     transaction per order, SELECT … FOR UPDATE on the stock row, check,
//     update, insert the order, commit;
//   - B0, one conditional UPDATE … WHERE available >= n per order (with the
//     order's insert in the same statement).
func flashBaseline(ctx context.Context, cfg Config, kind string, stock, clients int) (FlashResult, error) {
	dsn, drop, err := cfg.database(ctx)
	if err != nil {
		return FlashResult{}, err
	}
	defer drop()
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return FlashResult{}, err
	}
	pcfg.MaxConns = 32 // allot's own pool size
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return FlashResult{}, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE stock (sku TEXT PRIMARY KEY, available BIGINT NOT NULL);
		CREATE TABLE orders (id TEXT PRIMARY KEY, sku TEXT NOT NULL, quantity BIGINT NOT NULL)`); err != nil {
		return FlashResult{}, err
	}
	if _, err := pool.Exec(ctx, `INSERT INTO stock VALUES ('drop', $1)`, stock); err != nil {
		return FlashResult{}, err
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var o struct {
			ID       string `json:"external_id"`
			Quantity int    `json:"quantity"`
		}
		if err := json.NewDecoder(r.Body).Decode(&o); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		ok, err := baselineOrder(r.Context(), pool, kind, o.ID, o.Quantity)
		switch {
		case err != nil:
			http.Error(w, err.Error(), 500)
		case !ok:
			w.WriteHeader(http.StatusConflict)
		default:
			w.WriteHeader(http.StatusCreated)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return FlashResult{}, err
	}
	hs := &http.Server{Handler: handler}
	go hs.Serve(ln)
	defer hs.Close()
	p := newPoster("http://"+ln.Addr().String()+"/order", "", clients)
	defer p.close()
	res := rush(clients, demand(stock), func(cl, seq int) (bool, error) {
		status, err := p.post(cl, `{"external_id":"c`+strconv.Itoa(cl)+"-"+strconv.Itoa(seq)+`","quantity":1}`)
		switch {
		case err != nil:
			return false, err
		case status == http.StatusCreated:
			return true, nil
		case status == http.StatusConflict:
			return false, nil
		}
		return false, fmt.Errorf("%s answered %d", kind, status)
	})
	res.Name = kind
	var left, orders int
	if err := pool.QueryRow(ctx, `SELECT (SELECT available FROM stock), (SELECT COUNT(*) FROM orders)`).Scan(&left, &orders); err != nil {
		return res, err
	}
	res.Oversold = max(0, res.Accepted-stock)
	res.Lost = res.Accepted - orders
	if left != stock-orders {
		return res, fmt.Errorf("%s: %d left and %d orders for a stock of %d", kind, left, orders, stock)
	}
	return res, nil
}

// poster sends the flash sale's orders: one kept-alive connection per
// client, each request written by net/http's Request.Write and its answer
// read by http.ReadResponse on the client's own goroutine. The
// http.Client's transport would add two goroutines a connection and a
// hand-off each way per request — load-generator CPU on the two cores the
// contenders need, paid alike by every contender but a larger share of
// the faster one's.
type poster struct {
	url, token string
	conns      []*posterConn
}

type posterConn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

func newPoster(url, token string, clients int) *poster {
	return &poster{url: url, token: token, conns: make([]*posterConn, clients)}
}

// post sends body as client cl and returns the answer's status. A
// connection that failed is dropped; the next post dials a new one.
func (p *poster) post(cl int, body string) (int, error) {
	req, err := http.NewRequest("POST", p.url, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	pc := p.conns[cl]
	if pc == nil {
		c, err := net.Dial("tcp", req.URL.Host)
		if err != nil {
			return 0, err
		}
		pc = &posterConn{c: c, br: bufio.NewReader(c), bw: bufio.NewWriter(c)}
		p.conns[cl] = pc
	}
	status, err := pc.roundTrip(req)
	if err != nil {
		pc.c.Close()
		p.conns[cl] = nil
	}
	return status, err
}

func (pc *posterConn) roundTrip(req *http.Request) (int, error) {
	if err := req.Write(pc.bw); err != nil {
		return 0, err
	}
	if err := pc.bw.Flush(); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(pc.br, req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.Close {
		err = errors.New("the server closed the connection")
	}
	return resp.StatusCode, err
}

// close closes every client's connection.
func (p *poster) close() {
	for _, pc := range p.conns {
		if pc != nil {
			pc.c.Close()
		}
	}
}

func baselineOrder(ctx context.Context, pool *pgxpool.Pool, kind, id string, n int) (bool, error) {
	if kind == "B0" {
		tag, err := pool.Exec(ctx, `WITH u AS (UPDATE stock SET available = available - $2 WHERE sku = 'drop' AND available >= $2 RETURNING sku)
			INSERT INTO orders SELECT $1, sku, $2 FROM u`, id, n)
		return err == nil && tag.RowsAffected() == 1, err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(ctx)
	var available int
	if err := tx.QueryRow(ctx, `SELECT available FROM stock WHERE sku = 'drop' FOR UPDATE`).Scan(&available); err != nil {
		return false, err
	}
	if available < n {
		return false, nil
	}
	if _, err := tx.Exec(ctx, `UPDATE stock SET available = available - $1 WHERE sku = 'drop'`, n); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO orders VALUES ($1, 'drop', $2)`, id, n); err != nil {
		return false, err
	}
	return true, tx.Commit(ctx)
}

// PrintFlash writes the flash sale's figures and ratios.
func PrintFlash(cfg Config, stock, clients int, rs []FlashResult) {
	fmt.Fprintf(cfg.Out, "\nflash sale: %d units of one SKU, %d clients, one-unit orders, %d in all (1.5× the stock)\n", stock, clients, demand(stock))
	rows := [][]string{{"contender", "accepted", "refused", "errors", "sold out after", "all answered after", "accepted/s", "p50", "p99", "oversold", "lost"}}
	for _, r := range rs {
		rows = append(rows, []string{r.Name, strconv.Itoa(r.Accepted), strconv.Itoa(r.Refused), strconv.Itoa(r.Errors),
			fmt.Sprintf("%.2f s", r.SoldOut.Seconds()), fmt.Sprintf("%.2f s", r.Elapsed.Seconds()), fmt.Sprintf("%.0f", r.PerSecond()), ms(r.Latencies.Quantile(0.5)),
			ms(r.Latencies.Quantile(0.99)), strconv.Itoa(r.Oversold), strconv.Itoa(r.Lost)})
	}
	table(cfg.Out, rows)
	if len(rs) == 3 {
		fmt.Fprintf(cfg.Out, "ratios: allot/B1 = %.1f×, allot/B0 = %.1f×\n", rs[0].PerSecond()/rs[2].PerSecond(), rs[0].PerSecond()/rs[1].PerSecond())
	}
}
