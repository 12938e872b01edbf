package bridge

import (
	"context"
	"log/slog"
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

// spread adds to a wait at the Retry-After gate a random part of up to a
// quarter of it, at most 250 ms, so that the requests that waited together
// do not all leave together.
func spread(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d + time.Duration(rand.Int64N(int64(min(d/4, 250*time.Millisecond))+1))
}

// The outcomes of a request that adjust the concurrency limit.
const (
	sentOther     = iota // an outcome unrelated to the load
	sentOK               // the service processed the request
	sentCongested        // the service rejected it with 429 or 503
)

// concurrencyLimit caps the requests in flight, and adapts the cap to the
// service: it halves on a 429 or 503, at most once per round of requests,
// and grows by one for each cap's worth of successes, up to max and never
// below 1. Waiters get a slot in the order they came.
type concurrencyLimit struct {
	max int
	// mu guards the fields below.
	mu      sync.Mutex
	limit   float64
	inUse   int
	waiters []chan struct{}
	// loweredAt is when the limit was last lowered: a rejection of a
	// request sent before then was already counted.
	loweredAt time.Time
}

func newConcurrencyLimit(n int) *concurrencyLimit {
	return &concurrencyLimit{max: n, limit: float64(n)}
}

// allowed returns the current cap. The caller holds mu.
func (l *concurrencyLimit) allowed() int { return max(1, int(l.limit)) }

// acquire waits for a slot and returns when it was granted, which release
// needs.
func (l *concurrencyLimit) acquire(ctx context.Context) (time.Time, error) {
	l.mu.Lock()
	if len(l.waiters) == 0 && l.inUse < l.allowed() {
		l.inUse++
		l.mu.Unlock()
		return time.Now(), nil
	}
	ch := make(chan struct{})
	l.waiters = append(l.waiters, ch)
	l.mu.Unlock()

	select {
	case <-ch:
		return time.Now(), nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	for i, w := range l.waiters {
		if w == ch {
			l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
			l.mu.Unlock()
			return time.Time{}, ctx.Err()
		}
	}
	l.mu.Unlock()
	// The slot was granted as ctx ended.
	l.release(time.Time{}, sentOther)
	return time.Time{}, ctx.Err()
}

// release frees the slot granted at start, adjusts the cap to the outcome,
// and hands free slots to the waiters.
func (l *concurrencyLimit) release(start time.Time, outcome int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inUse--
	switch {
	case outcome == sentCongested && start.After(l.loweredAt):
		l.limit = max(1, l.limit/2)
		l.loweredAt = time.Now()
	case outcome == sentOK && l.limit < float64(l.max):
		l.limit = min(float64(l.max), l.limit+1/l.limit)
	}
	for len(l.waiters) > 0 && l.inUse < l.allowed() {
		close(l.waiters[0])
		l.waiters = l.waiters[1:]
		l.inUse++
	}
}

// current returns the cap, for logs.
func (l *concurrencyLimit) current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.allowed()
}

// retryReport logs retries at debug, and at warn a count of them at most
// every retryReportInterval, so that a flood of 429s does not flood the log.
type retryReport struct {
	// mu guards count and last.
	mu    sync.Mutex
	count int
	last  time.Time
}

const retryReportInterval = 10 * time.Second

// note counts one retry and logs the count at warn when it is due.
func (r *retryReport) note(log *slog.Logger, status int, limit int) {
	r.mu.Lock()
	r.count++
	now := time.Now()
	if now.Sub(r.last) < retryReportInterval {
		r.mu.Unlock()
		return
	}
	count := r.count
	r.count, r.last = 0, now
	r.mu.Unlock()
	log.Warn("retrying requests the service rejected; more retries are logged at debug", "status", status, "retries_since_last_report", count, "concurrency_limit", limit)
}
