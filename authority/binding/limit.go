package binding

import (
	"sync"
	"time"
)

// limiter counts events per key in a fixed window: enough to stop guessing
// and floods on one authority; replicas behind a balancer each count their
// own (the binding code's 100 bits are the real defence).
type limiter struct {
	mu     sync.Mutex
	n      int
	window time.Duration
	seen   map[string]*bucket
}

type bucket struct {
	start time.Time
	count int
}

func newLimiter(n int, window time.Duration) *limiter {
	return &limiter{n: n, window: window, seen: map[string]*bucket{}}
}

// full says whether key has used up its window (without counting).
func (l *limiter) full(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.seen[key]
	return b != nil && now.Sub(b.start) < l.window && b.count >= l.n
}

// add counts one event and says whether it was within the limit.
func (l *limiter) add(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seen) > 100000 { // forget old windows rather than grow without bound
		for k, b := range l.seen {
			if now.Sub(b.start) >= l.window {
				delete(l.seen, k)
			}
		}
	}
	b := l.seen[key]
	if b == nil || now.Sub(b.start) >= l.window {
		b = &bucket{start: now}
		l.seen[key] = b
	}
	b.count++
	return b.count <= l.n
}
