package bridge

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxRetryAfter caps a parsed Retry-After, so that a huge value cannot
// overflow a time.Duration. Any wait that long exceeds every retry budget.
const maxRetryAfter = 24 * time.Hour

// ParseRetryAfter parses a Retry-After header value as RFC 9110 defines it:
// delta-seconds (digits only) or an HTTP-date, which is turned into the
// wait from now. A date in the past gives a wait of zero. It reports false
// for an empty or malformed value. The result is capped at 24 hours.
func ParseRetryAfter(value string, now time.Time) (time.Duration, bool) {
	value = strings.TrimSpace(value)
	if value == "" {
		return 0, false
	}
	if strings.Trim(value, "0123456789") == "" {
		secs, err := strconv.ParseUint(value, 10, 64)
		if err != nil || secs > uint64(maxRetryAfter/time.Second) {
			// Only overflow fails here: the value is all digits.
			return maxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	switch {
	case d < 0:
		return 0, true
	case d > maxRetryAfter:
		return maxRetryAfter, true
	}
	return d, true
}

// Backoff parameters for a 429 or 503 without a usable Retry-After.
const (
	backoffBase = 500 * time.Millisecond
	backoffCap  = 10 * time.Second
)

// backoff returns the wait before retry n (from 0): a random duration up to
// an exponentially growing ceiling ("full jitter"), so that clients that
// were refused together do not come back together.
func backoff(n int) time.Duration {
	ceiling := backoffCap
	if n < 20 {
		ceiling = min(backoffCap, backoffBase<<n)
	}
	return time.Duration(rand.Int64N(int64(ceiling)) + 1)
}

// gate holds every request back until the time a Retry-After named, so
// that once the service has asked for a pause no request hammers it.
type gate struct {
	// mu guards until.
	mu    sync.Mutex
	until time.Time
}

// closeFor keeps the gate closed for at least d from now.
func (g *gate) closeFor(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.Now().Add(d)
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.After(g.until) {
		g.until = t
	}
}

// remaining returns how long the gate stays closed, or zero.
func (g *gate) remaining() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return max(0, time.Until(g.until))
}

// budget is the time one request may still spend waiting to retry.
type budget struct {
	remaining time.Duration
}

// newBudget returns a budget of d; a negative d allows no waiting.
func newBudget(d time.Duration) *budget {
	return &budget{remaining: max(0, d)}
}

// spend takes d from the budget and reports true, or reports false and
// takes nothing when d does not fit.
func (b *budget) spend(d time.Duration) bool {
	if d > b.remaining {
		return false
	}
	b.remaining -= d
	return true
}

func (b *budget) left() time.Duration { return b.remaining }

// rpmLimiter lets at most n requests start in any window of the given
// length, by remembering the start times of the last n.
type rpmLimiter struct {
	window time.Duration
	// mu guards starts and next.
	mu     sync.Mutex
	starts []time.Time // a ring of the last n start times
	next   int
}

func newRPMLimiter(n int, window time.Duration) *rpmLimiter {
	return &rpmLimiter{window: window, starts: make([]time.Time, n)}
}

// reserve books the earliest start time allowed and returns the wait until
// then. When that wait would exceed limit it books nothing and reports
// false with the wait.
func (l *rpmLimiter) reserve(limit time.Duration) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	start := now
	if oldest := l.starts[l.next]; !oldest.IsZero() {
		start = later(now, oldest.Add(l.window))
	}
	wait := start.Sub(now)
	if wait > limit {
		return wait, false
	}
	l.starts[l.next] = start
	l.next = (l.next + 1) % len(l.starts)
	return wait, true
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
