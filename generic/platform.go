package generic

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Platform is a small platform that receives allot's pushes as the
// documented format says, for tests and demos: it checks signatures,
// compares previous quantities, keeps what it shows, logs what it accepted,
// and can be made to fail for a while.
type Platform struct {
	Secret string
	// Compare makes the platform refuse a quantity whose previous differs
	// from what it shows, answering its actual quantity.
	Compare bool

	mu       sync.Mutex
	delay    time.Duration
	shown    map[string]int
	accepted []Accepted
	fault    string
	faultN   int
	calls    int
	bad      int
	server   *httptest.Server
}

// Accepted is one quantity the platform applied.
type Accepted struct {
	Listing  string
	Quantity int
	Key      string
	At       time.Time
}

// NewPlatform starts a platform on 127.0.0.1; close it with Close.
func NewPlatform(secret string) *Platform {
	p := &Platform{Secret: secret, shown: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /push", p.push)
	mux.HandleFunc("POST /read", p.read)
	p.server = httptest.NewServer(mux)
	return p
}

// PushURL and ReadURL are the URLs to put in the channel's settings.
func (p *Platform) PushURL() string { return p.server.URL + "/push" }

// ReadURL is where allot reads back what the platform shows.
func (p *Platform) ReadURL() string { return p.server.URL + "/read" }

// Close stops the platform.
func (p *Platform) Close() { p.server.Close() }

// Shown returns what the platform shows of a listing, and whether it knows it.
func (p *Platform) Shown(listing string) (int, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q, ok := p.shown[listing]
	return q, ok
}

// Set changes what the platform shows, as a change made on it would.
func (p *Platform) Set(listing string, q int) {
	p.mu.Lock()
	p.shown[listing] = q
	p.mu.Unlock()
}

// Accepted returns the log of applied quantities, in order.
func (p *Platform) Accepted() []Accepted {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Accepted(nil), p.accepted...)
}

// Calls counts the pushes received (failed ones too); BadSignatures those
// refused for their signature.
func (p *Platform) Calls() (calls, badSignatures int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls, p.bad
}

// SetDelay makes every push wait d before it is applied and answered, as
// a slow platform does; a push whose caller gives up meanwhile is not
// applied.
func (p *Platform) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Fail makes the next n pushes fail: "429", "500", "timeout" (no answer
// for a minute) or "close" (the connection closed without an answer).
func (p *Platform) Fail(kind string, n int) {
	p.mu.Lock()
	p.fault, p.faultN = kind, n
	p.mu.Unlock()
}

func (p *Platform) push(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.calls++
	fault := ""
	if p.faultN > 0 {
		p.faultN--
		fault = p.fault
	}
	delay := p.delay
	p.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	switch fault {
	case "429":
		w.Header().Set("Retry-After", "1")
		http.Error(w, `{"error":"slow down"}`, http.StatusTooManyRequests)
		return
	case "500":
		http.Error(w, `{"error":"internal"}`, http.StatusInternalServerError)
		return
	case "timeout":
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		return
	case "close":
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.(*net.TCPConn).SetLinger(0)
				conn.Close()
				return
			}
		}
	}
	if !Verify(p.Secret, r.Header.Get(SignatureHeader), r.Header.Get(TimestampHeader), body, time.Now()) {
		p.mu.Lock()
		p.bad++
		p.mu.Unlock()
		http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
		return
	}
	var in PushBody
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&in); err != nil {
		http.Error(w, `{"error":"bad body"}`, http.StatusBadRequest)
		return
	}
	var out PushAnswer
	p.mu.Lock()
	for _, q := range in.Quantities {
		shown, known := p.shown[q.Listing]
		if p.Compare && known && q.Previous != nil && *q.Previous != shown {
			actual := shown
			out.Results = append(out.Results, ItemResult{Listing: q.Listing, Error: "previous is " + strconv.Itoa(shown), Actual: &actual})
			continue
		}
		p.shown[q.Listing] = q.Quantity
		p.accepted = append(p.accepted, Accepted{Listing: q.Listing, Quantity: q.Quantity, Key: q.Key, At: time.Now()})
		out.Results = append(out.Results, ItemResult{Listing: q.Listing, OK: true})
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func (p *Platform) read(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !Verify(p.Secret, r.Header.Get(SignatureHeader), r.Header.Get(TimestampHeader), body, time.Now()) {
		http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
		return
	}
	var in ReadBody
	json.Unmarshal(body, &in)
	out := ReadAnswer{Quantities: map[string]int{}}
	p.mu.Lock()
	for _, l := range in.Listings {
		if q, ok := p.shown[l]; ok {
			out.Quantities[l] = q
		}
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}
