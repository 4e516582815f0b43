// Package guard holds the authority's limits on unauthenticated callers:
// a per-source request rate (golang.org/x/time/rate token buckets keyed by
// the client's IP address, with a global bucket behind them) and a listener
// that caps the connections one client address may hold open at once.
//
// It does not authenticate anyone, does not know HTTP routes (callers wrap
// the handlers they want limited) and keeps no state on disk: a restart
// forgets every bucket. Addresses are kept only in memory and never logged.
package guard

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"eidkiosk/internal/clock"
)

// Rate is a token bucket: Burst requests at once, then one every Every.
type Rate struct {
	Every time.Duration
	Burst int
}

func (r Rate) limit() rate.Limit {
	if r.Every <= 0 {
		return rate.Inf
	}
	return rate.Every(r.Every)
}

// Limiter limits requests per source address and in total. The zero value
// is not usable; call NewLimiter.
type Limiter struct {
	per, all Rate
	clk      clock.Clock
	max      int

	mu      sync.Mutex
	sources map[string]*rate.Limiter
	global  *rate.Limiter
}

// MaxSources bounds the per-source buckets kept in memory; past it, buckets
// that are full again (idle sources) are dropped, and when none is, all
// are, so memory stays bounded whatever the number of addresses (the
// global bucket still holds).
const MaxSources = 8192

// NewLimiter limits each source to per and all sources together to all. A
// nil clk is the real clock.
func NewLimiter(per, all Rate, clk clock.Clock) *Limiter {
	if clk == nil {
		clk = clock.Real{}
	}
	return &Limiter{per: per, all: all, clk: clk, max: MaxSources, sources: map[string]*rate.Limiter{},
		global: rate.NewLimiter(all.limit(), max(all.Burst, 1))}
}

// Allow takes one token for source. When none is left it returns false and
// how long the caller should wait before trying again (at least a second).
func (l *Limiter) Allow(source string) (bool, time.Duration) {
	now := l.clk.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.sources[source]
	if b == nil {
		if len(l.sources) >= l.max {
			l.evict(now)
		}
		b = rate.NewLimiter(l.per.limit(), max(l.per.Burst, 1))
		l.sources[source] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, roundUp(d)
	}
	g := l.global.ReserveN(now, 1)
	if d := g.DelayFrom(now); d > 0 {
		g.CancelAt(now)
		r.CancelAt(now)
		return false, roundUp(d)
	}
	return true, 0
}

func (l *Limiter) evict(now time.Time) {
	for k, b := range l.sources {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(l.sources, k)
		}
	}
	if len(l.sources) >= l.max {
		clear(l.sources)
	}
}

func roundUp(d time.Duration) time.Duration {
	return time.Duration(math.Ceil(d.Seconds())) * time.Second
}

// Source is the client address of req without its port: the key of the
// per-source buckets. The authority is reached directly (no proxy), so
// forwarded-for headers are not trusted.
func Source(req *http.Request) string {
	host, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		return req.RemoteAddr
	}
	return host
}

// Handler answers 429 with a Retry-After header (whole seconds) when
// req's source is over its rate, by calling refuse (which writes the body,
// e.g. a JSON refusal), and passes the request to next otherwise.
func (l *Limiter) Handler(next http.Handler, refuse func(w http.ResponseWriter, retry time.Duration)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ok, retry := l.Allow(Source(req))
		if !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(retry/time.Second)))
			refuse(w, retry)
			return
		}
		next.ServeHTTP(w, req)
	})
}
