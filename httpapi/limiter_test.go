package httpapi

import (
	"testing"
	"time"
)

// The bucket of a token holds Burst requests, refills at Rate a second,
// and says how long until the next request when it is empty; buckets are
// per token, and full ones are dropped.
func TestLimiterIsATokenBucketPerToken(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	l := newLimiter(RateLimit{Rate: 10, Burst: 5}, func() time.Time { return now })
	for i := range 5 {
		if ok, _ := l.take("a"); !ok {
			t.Fatalf("request %d of a burst of 5 refused", i+1)
		}
	}
	ok, wait := l.take("a")
	if ok || wait != 100*time.Millisecond {
		t.Fatalf("the sixth request: %v, wait %v; want refused, wait 100ms", ok, wait)
	}
	if ok, _ := l.take("b"); !ok {
		t.Fatal("another token shares the first one's bucket")
	}
	now = now.Add(250 * time.Millisecond) // 2.5 requests back
	for i := range 2 {
		if ok, _ := l.take("a"); !ok {
			t.Fatalf("request %d after 250ms refused", i+1)
		}
	}
	if ok, wait := l.take("a"); ok || wait != 50*time.Millisecond {
		t.Fatalf("third request after 250ms: %v, wait %v; want refused, wait 50ms", ok, wait)
	}
	now = now.Add(time.Hour) // both full again: swept
	l.take("c")
	if len(l.buckets) != 1 {
		t.Errorf("%d buckets kept after an hour, want only c's", len(l.buckets))
	}
}

func TestParseRateLimit(t *testing.T) {
	for in, want := range map[string]RateLimit{
		"50": {50, 200}, "50:200": {50, 200}, " 2.5 : 7 ": {2.5, 7}, "1000": {1000, 4000}, "off": NoRateLimit, "0": NoRateLimit,
	} {
		got, err := ParseRateLimit(in)
		if err != nil || got != want {
			t.Errorf("ParseRateLimit(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "fast", "-1", "50:", "50:0", "50:x", "NaN", "Inf", "1e9", "50:200:3"} {
		if got, err := ParseRateLimit(in); err == nil {
			t.Errorf("ParseRateLimit(%q) = %v, want an error", in, got)
		}
	}
}
