package mockserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/joai-ai/joai-mcp/internal/inspector"
)

// Limits are the per-token limits. Each token has its own allowance, so one
// token's traffic never uses up another's. A zero field takes the default
// (see [DefaultLimits]). A negative RequestsPerMinute or Concurrent
// disables that limit. A negative Burst means no burst, so requests are
// paced at one per Window/RequestsPerMinute.
//
// The rate limit is a token bucket in its GCRA form: requests are spaced by
// an emission interval of Window/RequestsPerMinute, and up to Burst of them
// may come early. In any stretch of time as long as Window, a token can make
// at most RequestsPerMinute+Burst requests, of which Burst+1 can be back to
// back.
type Limits struct {
	// RequestsPerMinute is the sustained number of requests per Window.
	RequestsPerMinute int
	// Burst is the number of extra requests allowed above
	// RequestsPerMinute in a window.
	Burst int
	// Concurrent is the maximum number of requests in flight per token. An
	// open GET stream counts while it is being opened, not while it stays
	// open.
	Concurrent int
	// Window is the length of the "minute"; zero means one minute. Tests use
	// short windows. It must not be negative.
	Window time.Duration
}

// DefaultLimits are the limits used for zero fields. They let a token send
// 61 requests back to back and then 10 per second, with 16 in flight,
// which interactive clients and ordinary test suites stay below.
var DefaultLimits = Limits{
	RequestsPerMinute: 600,
	Burst:             60,
	Concurrent:        16,
	Window:            time.Minute,
}

type limitsJSON struct {
	RequestsPerMinute int    `json:"requests_per_minute,omitempty"`
	Burst             int    `json:"burst,omitempty"`
	Concurrent        int    `json:"concurrent,omitempty"`
	Window            string `json:"window,omitempty"`
}

// MarshalJSON encodes l with snake_case keys and Window as a Go duration
// string such as "1m0s", the form the seed file and the control API use.
func (l Limits) MarshalJSON() ([]byte, error) {
	j := limitsJSON{RequestsPerMinute: l.RequestsPerMinute, Burst: l.Burst, Concurrent: l.Concurrent}
	if l.Window != 0 {
		j.Window = l.Window.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the form written by [Limits.MarshalJSON]. Window
// accepts any string that time.ParseDuration accepts, such as "1m" or
// "500ms". Unknown fields are an error.
func (l *Limits) UnmarshalJSON(data []byte) error {
	var j limitsJSON
	if err := decodeStrict(data, &j); err != nil {
		return err
	}
	out := Limits{RequestsPerMinute: j.RequestsPerMinute, Burst: j.Burst, Concurrent: j.Concurrent}
	if j.Window != "" {
		d, err := time.ParseDuration(j.Window)
		if err != nil {
			return fmt.Errorf("window %q is not a duration such as \"1m\" or \"500ms\"", j.Window)
		}
		out.Window = d
	}
	*l = out
	return nil
}

func (l Limits) validate() error {
	if l.Window < 0 {
		return fmt.Errorf("window %v is negative: use a positive duration, or zero for one minute", l.Window)
	}
	return nil
}

// over returns l with every zero field taken from base.
func (l Limits) over(base Limits) Limits {
	if l.RequestsPerMinute == 0 {
		l.RequestsPerMinute = base.RequestsPerMinute
	}
	if l.Burst == 0 {
		l.Burst = base.Burst
	}
	if l.Concurrent == 0 {
		l.Concurrent = base.Concurrent
	}
	if l.Window == 0 {
		l.Window = base.Window
	}
	return l
}

// bucket is the limiter state of one token. It is lock-free: the rate
// limit is one atomic theoretical arrival time, the concurrency limit one
// atomic counter.
type bucket struct {
	// interval is the emission interval in nanoseconds; 0 means no rate
	// limit. tolerance is how far ahead of schedule a request may be.
	interval  int64
	tolerance int64
	limit     int // requests per window, burst included
	// maxInFlight is 0 for no concurrency limit.
	maxInFlight int64

	tat      atomic.Int64 // theoretical arrival time, ns since limiter.base
	inFlight atomic.Int64
}

func newBucket(l Limits) *bucket {
	b := &bucket{}
	if l.RequestsPerMinute > 0 {
		b.interval = max(int64(l.Window)/int64(l.RequestsPerMinute), 1)
		burst := max(l.Burst, 0)
		b.tolerance = int64(burst) * b.interval
		b.limit = l.RequestsPerMinute + burst
	}
	if l.Concurrent > 0 {
		b.maxInFlight = int64(l.Concurrent)
	}
	return b
}

// take admits one request at now or returns how long until one would be
// admitted.
func (b *bucket) take(now int64) (wait time.Duration, ok bool) {
	if b.interval == 0 {
		return 0, true
	}
	for {
		old := b.tat.Load()
		tat := max(old, now)
		if next := tat - b.tolerance; next > now {
			return time.Duration(next - now), false
		}
		if b.tat.CompareAndSwap(old, tat+b.interval) {
			return 0, true
		}
	}
}

// state reports the bucket for an inspector event.
func (b *bucket) state(now int64, base time.Time) *inspector.RateState {
	rs := &inspector.RateState{
		InFlight:    int(b.inFlight.Load()),
		MaxInFlight: int(b.maxInFlight),
	}
	if b.interval == 0 {
		return rs
	}
	// The bucket admits a request while its arrival time is at most
	// tolerance ahead of now, so the requests that may go back to back now
	// are those that fit in what is left of the tolerance.
	ahead := max(b.tat.Load()-now, 0)
	rs.Limit = int(b.tolerance/b.interval) + 1
	if ahead <= b.tolerance {
		rs.Remaining = int((b.tolerance-ahead)/b.interval) + 1
	} else {
		rs.NextAllowed = base.Add(time.Duration(now + ahead - b.tolerance))
	}
	return rs
}

// limiter holds one bucket per token id.
type limiter struct {
	base time.Time

	// mu guards limits and buckets.
	mu      sync.RWMutex
	limits  Limits
	buckets map[string]*bucket
}

func newLimiter(l Limits) *limiter {
	return &limiter{base: time.Now(), limits: l, buckets: map[string]*bucket{}}
}

// now is monotonic nanoseconds since base, never zero, so that a fresh
// bucket's zero arrival time is in the past.
func (lm *limiter) now() int64 { return int64(time.Since(lm.base)) + 1 }

// bucketFor returns the bucket of the token with the given id, creating it
// with the server's limits overridden by the token's own.
func (lm *limiter) bucketFor(id string, own *Limits) *bucket {
	lm.mu.RLock()
	b := lm.buckets[id]
	lm.mu.RUnlock()
	if b != nil {
		return b
	}
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if b = lm.buckets[id]; b == nil {
		l := lm.limits
		if own != nil {
			l = own.over(l)
		}
		b = newBucket(l)
		lm.buckets[id] = b
	}
	return b
}

// set replaces the limits and drops every bucket, so that the next
// request of each token starts with a full allowance.
func (lm *limiter) set(l Limits) {
	lm.mu.Lock()
	lm.limits = l
	lm.buckets = map[string]*bucket{}
	lm.mu.Unlock()
}

func (lm *limiter) current() Limits {
	lm.mu.RLock()
	defer lm.mu.RUnlock()
	return lm.limits
}

var (
	errTooManyRequests   = errors.New("rate limit exceeded")
	errTooManyConcurrent = errors.New("too many concurrent requests")
)

// admit applies both limits. On success the caller must call release once
// the request is done. On failure it returns the Retry-After in whole
// seconds: the rate limit's real wait rounded up, at least 1.
func (b *bucket) admit(now int64) (retryAfter int, err error) {
	if b.maxInFlight > 0 {
		if b.inFlight.Add(1) > b.maxInFlight {
			b.inFlight.Add(-1)
			// NOTE: the server cannot know when an in-flight request will
			// end, so this Retry-After is a guess, unlike the rate limit's.
			return 1, errTooManyConcurrent
		}
	} else {
		b.inFlight.Add(1)
	}
	wait, ok := b.take(now)
	if !ok {
		b.inFlight.Add(-1)
		return retryAfterSeconds(wait), errTooManyRequests
	}
	return 0, nil
}

func (b *bucket) release() { b.inFlight.Add(-1) }

// retryAfterSeconds rounds wait up to whole seconds, at least 1, so that a
// request sent that many seconds later is admitted.
func retryAfterSeconds(wait time.Duration) int {
	s := int((wait + time.Second - 1) / time.Second)
	return max(s, 1)
}

// rejectLogInterval is how often the server logs a 429 at warn level for
// one token. Other 429s in between are logged at debug level and counted,
// so a flood of rejected requests writes a few lines instead of megabytes.
const rejectLogInterval = 10 * time.Second

// rejectLog decides which 429 replies are logged at warn level: the first
// for a token in each rejectLogInterval.
type rejectLog struct {
	mu      sync.Mutex
	windows map[string]*rejectWindow
}

type rejectWindow struct {
	start      time.Time
	suppressed int
}

// note records a 429 for key at now. It returns true when this one should
// be logged at warn level, with how many 429s for key were logged at debug
// level since the last warn line.
func (rl *rejectLog) note(key string, now time.Time) (warn bool, suppressed int) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if rl.windows == nil {
		rl.windows = map[string]*rejectWindow{}
	}
	w := rl.windows[key]
	if w == nil || now.Sub(w.start) >= rejectLogInterval {
		if w != nil {
			suppressed = w.suppressed
		}
		rl.windows[key] = &rejectWindow{start: now}
		return true, suppressed
	}
	w.suppressed++
	return false, 0
}
