package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/allot/allot"
)

// RateLimit is how many requests one API token may send: Rate a second on
// average, and up to Burst at once after a quiet spell. A Rate of 0 or
// less means no limit.
type RateLimit struct {
	Rate  float64
	Burst int
}

// DefaultRateLimit is the limit of a server that is told nothing: far
// above what an integration or the CLI sends, low enough that one runaway
// client cannot take the database from every other.
var DefaultRateLimit = RateLimit{Rate: 50, Burst: 200}

// NoRateLimit turns the limit off.
var NoRateLimit = RateLimit{Rate: -1}

// Off reports whether l limits nothing.
func (l RateLimit) Off() bool { return l.Rate <= 0 }

func (l RateLimit) String() string {
	if l.Off() {
		return "off"
	}
	return fmt.Sprintf("%s:%d", strconv.FormatFloat(l.Rate, 'f', -1, 64), l.Burst)
}

// ParseRateLimit reads a limit as ALLOT_RATE_LIMIT gives it: "50" (50
// requests a second, bursts of four times that), "50:200" (bursts of 200),
// or "off".
func ParseRateLimit(s string) (RateLimit, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return NoRateLimit, nil
	}
	rate, burst, hasBurst := strings.Cut(s, ":")
	r, err := strconv.ParseFloat(strings.TrimSpace(rate), 64)
	if err != nil || !(r > 0) || math.IsInf(r, 0) || r > 1e6 {
		return RateLimit{}, fmt.Errorf("rate limit %q: want requests a second, as 50 or 50:200 (bursts of 200), or off", s)
	}
	l := RateLimit{Rate: r, Burst: int(math.Ceil(4 * r))}
	if hasBurst {
		b, err := strconv.Atoi(strings.TrimSpace(burst))
		if err != nil || b < 1 || b > 1e7 {
			return RateLimit{}, fmt.Errorf("rate limit %q: the burst after the colon must be a whole number from 1 to 10000000", s)
		}
		l.Burst = b
	}
	return l, nil
}

// limiter keeps a token bucket per API token (by the token's hash: the
// token itself is never kept). Only tokens that authenticated get a
// bucket, so the map cannot be filled with made-up tokens; buckets that
// have refilled are dropped now and then, since a full bucket is the same
// as none.
type limiter struct {
	limit RateLimit
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64 // requests left at `at`
	at     time.Time
}

func newLimiter(l RateLimit, now func() time.Time) *limiter {
	if now == nil {
		now = time.Now
	}
	if l.Burst < 1 {
		l.Burst = 1
	}
	return &limiter{limit: l, now: now, buckets: map[string]*bucket{}}
}

// take spends one request of key's bucket. When the bucket is empty it
// spends nothing and says how long until a request is there again.
func (l *limiter) take(key string) (bool, time.Duration) {
	now := l.now()
	burst := float64(l.limit.Burst)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		l.sweep(now)
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: burst, at: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = min(burst, b.tokens+elapsed.Seconds()*l.limit.Rate)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.limit.Rate * float64(time.Second))
}

// sweep drops the buckets that are full again by now.
func (l *limiter) sweep(now time.Time) {
	l.swept = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.limit.Rate >= float64(l.limit.Burst) {
			delete(l.buckets, k)
		}
	}
}

// LimitRate sets how many requests each token may send; call it before the
// server serves. now is the clock the buckets refill by (nil: time.Now).
func (s *Server) LimitRate(l RateLimit, now func() time.Time) {
	if l.Off() {
		s.limit = nil
		return
	}
	s.limit = newLimiter(l, now)
}

// allow spends one request of the token whose hash is key, or answers 429
// with Retry-After.
func (s *Server) allow(w http.ResponseWriter, key string) error {
	if s.limit == nil {
		return nil
	}
	ok, wait := s.limit.take(key)
	if ok {
		return nil
	}
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	l := s.limit.limit
	return allot.Errorf(allot.TooMany, "this token is over its rate limit of %s requests a second (in bursts of up to %d); try again in %d s",
		strconv.FormatFloat(l.Rate, 'f', -1, 64), l.Burst, secs)
}
