// Package app assembles allot's server from its packages: the store, the
// service, the JSON API and the background loops. `allot serve`, `allot
// demo` and the end-to-end tests all run it, the tests on 127.0.0.1:0.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/allot/allot"
	"github.com/allot/allot/filechannel"
	"github.com/allot/allot/generic"
	"github.com/allot/allot/httpapi"
	"github.com/allot/allot/service"
	"github.com/allot/allot/shopify"
	"github.com/allot/allot/store"
	"github.com/allot/allot/syncer"
	"github.com/allot/allot/web"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config is what a server needs to start.
type Config struct {
	Addr string // host:port to listen on; port 0 picks a free one
	DB   string // SQLite path or postgres:// URL
	// BootstrapToken is the token of the merchant created on a database
	// with no merchant; empty means a generated one, printed once.
	BootstrapToken string
	// BootstrapCode is that merchant's code; empty means "default".
	BootstrapCode string
	Log           *slog.Logger
	// Out receives what the operator must see once (a generated token).
	Out io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Settle is how long increases wait before they are pushed (0: 5s).
	Settle time.Duration
	// Gather is how long the sync worker, once caught up, gathers changes
	// before its next push to a channel (0: 10ms on SQLite, 50ms on
	// PostgreSQL; see defaultGather and syncer.Worker.Gather).
	Gather time.Duration
	// SyncInterval is the pause between rounds of the synchronisation
	// (0: 200ms); DriftEvery how often channels are read back (0: 5 min).
	SyncInterval, DriftEvery time.Duration
	// Lease is how long a process owns a channel's pushes (0: 30s).
	Lease time.Duration
	// CallTimeout bounds one call to a channel (0: 30s).
	CallTimeout time.Duration
	// PollEvery is how often file channels' order folders are read (0: 2s).
	PollEvery time.Duration
	// Connect overrides the connector of each platform (tests).
	Connect syncer.Factory
	// RateLimit bounds the requests of each API token; zero means
	// ALLOT_RATE_LIMIT, else httpapi.DefaultRateLimit (50 a second, bursts
	// of 200); httpapi.NoRateLimit turns it off.
	RateLimit httpapi.RateLimit
}

// defaultGather is how long the sync worker gathers changes before its
// next push once caught up. On SQLite 10 ms: each push's outcomes are
// then recorded by a transaction a fifth as long, and an order that waits
// for the one writer behind it waits that much less (orders sent one at a
// time, p99 3.8–4.6 → 2.3–3.3 ms, steady orders unchanged). On
// PostgreSQL 50 ms: there the shorter wait cost a tenth more of the
// machine's time a steady order, each plan and record a transaction of
// its own.
func defaultGather(oneWriter bool) time.Duration {
	if oneWriter {
		return 10 * time.Millisecond
	}
	return 50 * time.Millisecond
}

// rateLimit returns the limit c asks for, from ALLOT_RATE_LIMIT if c says
// nothing, else the default.
func (c Config) rateLimit() (httpapi.RateLimit, error) {
	if c.RateLimit != (httpapi.RateLimit{}) {
		return c.RateLimit, nil
	}
	if v := os.Getenv("ALLOT_RATE_LIMIT"); v != "" {
		l, err := httpapi.ParseRateLimit(v)
		if err != nil {
			return l, fmt.Errorf("ALLOT_RATE_LIMIT: %w", err)
		}
		return l, nil
	}
	return httpapi.DefaultRateLimit, nil
}

// ConfigFromEnv fills a Config's unset fields from ALLOT_ADDR, ALLOT_DB and
// ALLOT_BOOTSTRAP_TOKEN, then from the defaults.
func ConfigFromEnv(c Config) Config {
	if c.Addr == "" {
		c.Addr = os.Getenv("ALLOT_ADDR")
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.DB == "" {
		c.DB = os.Getenv("ALLOT_DB")
	}
	if c.DB == "" {
		c.DB = "./allot.db"
	}
	if c.BootstrapToken == "" {
		c.BootstrapToken = os.Getenv("ALLOT_BOOTSTRAP_TOKEN")
	}
	return c
}

// Server is a running allot.
type Server struct {
	Config  Config
	DB      *store.DB
	Service *service.Service
	API     *httpapi.Server
	Sync    *syncer.Worker
	Metrics *prometheus.Registry

	listener net.Listener
	http     *http.Server
	cancel   context.CancelFunc
	loops    sync.WaitGroup
}

// Start opens and migrates the database, creates the first merchant if
// there is none, and starts serving.
func Start(ctx context.Context, c Config) (*Server, error) {
	c = ConfigFromEnv(c)
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	limit, err := c.rateLimit()
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, c.DB)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	svc := service.New(db)
	if c.Now != nil {
		svc.Now = c.Now
	}
	s := &Server{Config: c, DB: db, Service: svc}
	if err := s.bootstrap(ctx); err != nil {
		db.Close()
		return nil, err
	}
	s.Metrics = prometheus.NewRegistry()
	s.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	host, _ := os.Hostname()
	s.Sync = &syncer.Worker{DB: db, Service: svc, Connect: c.Connect, Now: svc.Now, Log: c.Log, Metrics: syncer.NewMetrics(s.Metrics),
		Owner: fmt.Sprintf("%s-%d-%x", host, os.Getpid(), rand.Uint32()), Settle: c.Settle, Interval: c.SyncInterval, Lease: c.Lease,
		DriftEvery: c.DriftEvery, CallTimeout: c.CallTimeout}
	if s.Sync.Connect == nil {
		s.Sync.Connect = Connectors
	}
	if s.Sync.DriftEvery == 0 {
		s.Sync.DriftEvery = 5 * time.Minute
	}
	db.OnMark = s.Sync.Wake
	if !db.OneWriter() {
		s.Sync.PlanWriters = 2
	}
	if s.Sync.Settle == 0 {
		s.Sync.Settle = 5 * time.Second
	}
	s.Sync.Gather = c.Gather
	if s.Sync.Gather == 0 {
		s.Sync.Gather = defaultGather(db.OneWriter())
	}
	svc.Settle = s.Sync.Settle // the group commit queues its orders' pushes itself
	s.API = httpapi.New(svc, c.Log)
	s.API.Sync = s.Sync
	s.API.LimitRate(limit, nil)
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.listener = ln
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute,
		WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute}
	loopCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.loops.Add(4)
	go func() {
		defer s.loops.Done()
		(&filechannel.Poller{DB: db, Service: svc, Log: c.Log, Every: c.PollEvery}).Run(loopCtx)
	}()
	go func() {
		defer s.loops.Done()
		s.Sync.Run(loopCtx)
	}()
	go func() {
		defer s.loops.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.Log.Error("serve", "err", err)
		}
	}()
	go func() {
		defer s.loops.Done()
		s.expireHolds(loopCtx)
	}()
	c.Log.Info("allot serving", "url", s.URL(), "db", db.Engine(), "rate_limit", limit.String())
	return s, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/", s.API)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Metrics, promhttp.HandlerOpts{}))
	mux.Handle("POST /webhooks/generic/{channel}", generic.Webhooks(s.Service, s.Config.Log, s.Service.Now))
	mux.Handle("POST /webhooks/shopify/{channel}", shopify.Webhooks(s.Service, s.Config.Log))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.DB.Version(r.Context()); err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/", web.New(s.Service, s.Sync, s.Config.Log)) // the web page: every path the above leave
	return mux
}

// Handler is what the server serves: the API, the webhooks, the metrics.
// Tests call it directly, without a connection.
func (s *Server) Handler() http.Handler { return s.http.Handler }

// URL is where the server listens, as http://host:port.
func (s *Server) URL() string { return "http://" + s.listener.Addr().String() }

// bootstrap creates the merchant "default" on a database with none.
func (s *Server) bootstrap(ctx context.Context) error {
	n, err := s.DB.Merchants(ctx)
	if err != nil || n > 0 {
		return err
	}
	code := s.Config.BootstrapCode
	if code == "" {
		code = "default"
	}
	_, token, err := s.Service.CreateMerchant(ctx, code, code, s.Config.BootstrapToken)
	if allot.ErrorCode(err) == allot.Conflict {
		return nil // another process sharing the database created it first
	}
	if err != nil {
		return fmt.Errorf("create the first merchant: %w", err)
	}
	if s.Config.BootstrapToken == "" {
		fmt.Fprintf(s.Config.Out, "Created merchant %q. Its API token, shown this once:\n\n    %s\n\n", code, token)
	}
	return nil
}

// expireHolds ends holds whose time ran out, every second. Their units
// stopped counting already; this records it.
func (s *Server) expireHolds(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Service.ExpireHolds(ctx); err != nil && ctx.Err() == nil {
				s.Config.Log.Error("expire holds", "err", err)
			}
		}
	}
}

// Close stops serving, letting requests in flight finish, then closes the
// database.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	s.Service.Close() // after the requests: it answers the orders they queued
	s.cancel()
	s.loops.Wait()
	return errors.Join(err, s.DB.Close())
}

// Connectors returns the connector of a channel by its platform.
func Connectors(ch store.ChannelRow) (syncer.Connector, error) {
	switch ch.Platform {
	case allot.Generic:
		return generic.New(ch)
	case allot.File:
		return filechannel.New(ch)
	case allot.Shopify:
		return shopify.New(ch)
	}
	return nil, fmt.Errorf("no connector for platform %s", ch.Platform)
}
