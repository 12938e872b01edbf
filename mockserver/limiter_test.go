package mockserver

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/joai-ai/joai-mcp/internal/syncbuf"
)

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		wait time.Duration
		want int
	}{
		{0, 1},
		{time.Nanosecond, 1},
		{999 * time.Millisecond, 1},
		{time.Second, 1},
		{time.Second + time.Nanosecond, 2},
		{59*time.Second + 500*time.Millisecond, 60},
	}
	for _, tt := range tests {
		if got := retryAfterSeconds(tt.wait); got != tt.want {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", tt.wait, got, tt.want)
		}
	}
}

func TestBucketAllowsBurstThenPaces(t *testing.T) {
	// 60 per second with a burst of 4: interval 1/60 s, 5 back to back.
	b := newBucket(Limits{RequestsPerMinute: 60, Burst: 4, Concurrent: -1, Window: time.Second})
	now := int64(1)
	for i := range 5 {
		if _, ok := b.take(now); !ok {
			t.Fatalf("request %d of the burst was rejected", i+1)
		}
	}
	wait, ok := b.take(now)
	if ok {
		t.Fatal("the 6th back-to-back request was admitted, want rejected")
	}
	interval := int64(time.Second / 60)
	if want := time.Duration(interval); wait != want {
		t.Errorf("wait = %v, want one interval, %v", wait, want)
	}
	if _, ok := b.take(now + int64(wait) - 1); ok {
		t.Error("admitted 1 ns before the wait ended")
	}
	if _, ok := b.take(now + int64(wait)); !ok {
		t.Error("rejected when the wait ended")
	}
}

func TestBucketWindowAllowance(t *testing.T) {
	// In any stretch as long as Window, at most RequestsPerMinute+Burst
	// requests are admitted when a client sends as fast as it is allowed.
	l := Limits{RequestsPerMinute: 10, Burst: 3, Concurrent: -1, Window: time.Second}
	b := newBucket(l)
	admitted := 0
	for now := int64(1); now < int64(time.Second); now += int64(time.Millisecond) {
		for {
			if _, ok := b.take(now); !ok {
				break
			}
			admitted++
		}
	}
	if admitted != 13 {
		t.Errorf("admitted %d requests in one window, want RequestsPerMinute+Burst = 13", admitted)
	}
}

func TestBucketState(t *testing.T) {
	b := newBucket(Limits{RequestsPerMinute: 10, Burst: 2, Concurrent: 3, Window: time.Second})
	base := time.Now()
	st := b.state(1, base)
	if st.Limit != 3 || st.Remaining != 3 || st.MaxInFlight != 3 || !st.NextAllowed.IsZero() {
		t.Errorf("fresh state = %+v, want limit 3 (burst 2 plus one), remaining 3, max in flight 3, no wait", st)
	}
	b.take(1)
	if st = b.state(1, base); st.Remaining != 2 || !st.NextAllowed.IsZero() {
		t.Errorf("state after 1 = %+v, want remaining 2 and no wait", st)
	}
	for range 2 {
		b.take(1)
	}
	st = b.state(1, base)
	if st.Remaining != 0 {
		t.Errorf("remaining after 3 = %d, want 0", st.Remaining)
	}
	if _, ok := b.take(1); ok {
		t.Error("take after the burst was admitted, want it limited while remaining is 0")
	}
	if want := base.Add(time.Duration(1 + int64(time.Second/10))); !st.NextAllowed.Equal(want) {
		t.Errorf("next allowed = %v, want %v", st.NextAllowed, want)
	}
	// One interval later exactly one request is allowed again.
	later := 1 + int64(time.Second/10)
	if st = b.state(later, base); st.Remaining != 1 || !st.NextAllowed.IsZero() {
		t.Errorf("state one interval later = %+v, want remaining 1 and no wait", st)
	}
}

func TestUnlimitedBucket(t *testing.T) {
	b := newBucket(Limits{RequestsPerMinute: -1, Concurrent: -1, Window: time.Minute})
	for range 10000 {
		if _, err := b.admit(1); err != nil {
			t.Fatalf("admit on a bucket without limits: %v", err)
		}
	}
}

func TestRetryAfterIsHonest(t *testing.T) {
	// Two requests per 3 s and no burst: one request every 1.5 s. The
	// second request is rejected with Retry-After 2; one second later it is
	// still rejected (0.5 s early), and two seconds later it succeeds.
	s := startServer(t, &Options{Limits: Limits{RequestsPerMinute: 2, Burst: -1, Window: 3 * time.Second}})
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	if got := rpc(t, s, ping); got.status != 200 {
		t.Fatalf("first request = %d, want 200", got.status)
	}
	limited := rpc(t, s, ping)
	received := time.Now()
	if limited.status != 429 {
		t.Fatalf("second request = %d, want 429", limited.status)
	}
	ra, err := strconv.Atoi(limited.header.Get("Retry-After"))
	if err != nil || ra != 2 {
		t.Fatalf("Retry-After = %q, want 2", limited.header.Get("Retry-After"))
	}
	time.Sleep(time.Until(received.Add(time.Duration(ra-1) * time.Second)))
	if got := rpc(t, s, ping); got.status != 429 {
		t.Errorf("request after Retry-After minus one second = %d, want 429", got.status)
	}
	time.Sleep(time.Until(received.Add(time.Duration(ra) * time.Second)))
	if got := rpc(t, s, ping); got.status != 200 {
		t.Errorf("request after Retry-After = %d, want 200: %s", got.status, got.body)
	}
}

func TestRetryAfterSubSecondWindow(t *testing.T) {
	// A window shorter than a second still gives a whole-second
	// Retry-After of at least 1, and the request after it succeeds.
	s := startServer(t, &Options{Limits: Limits{RequestsPerMinute: 3, Burst: -1, Window: 300 * time.Millisecond}})
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	var limited reply
	for range 10 {
		if limited = rpc(t, s, ping); limited.status == 429 {
			break
		}
	}
	received := time.Now()
	if limited.status != 429 {
		t.Fatal("10 back-to-back requests with 3 per 300 ms and no burst were all admitted")
	}
	ra, err := strconv.Atoi(limited.header.Get("Retry-After"))
	if err != nil || ra != 1 {
		t.Fatalf("Retry-After = %q, want 1", limited.header.Get("Retry-After"))
	}
	time.Sleep(time.Until(received.Add(time.Duration(ra) * time.Second)))
	if got := rpc(t, s, ping); got.status != 200 {
		t.Errorf("request after Retry-After = %d, want 200", got.status)
	}
}

func TestLimitsArePerToken(t *testing.T) {
	s := startServer(t, &Options{Limits: Limits{RequestsPerMinute: 1, Burst: -1, Window: time.Hour}})
	in := s.Info()
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	do(t, "POST", s.AgentURL(in.AgentUUID), in.Token, ping)
	if got := do(t, "POST", s.AgentURL(in.AgentUUID), in.Token, ping); got.status != 429 {
		t.Fatalf("second request of the first token = %d, want 429", got.status)
	}
	if got := do(t, "POST", s.AgentURL(in.OtherAgentUUID), in.OtherTeamToken, ping); got.status != 200 {
		t.Errorf("first request of another token = %d, want 200", got.status)
	}
	// Rejected requests do not use up the allowance: Retry-After stays put.
	a := do(t, "POST", s.AgentURL(in.AgentUUID), in.Token, ping).header.Get("Retry-After")
	b := do(t, "POST", s.AgentURL(in.AgentUUID), in.Token, ping).header.Get("Retry-After")
	if a != b {
		t.Errorf("Retry-After grew from %s to %s across rejected requests", a, b)
	}
}

func TestTokenLimitsFromSeed(t *testing.T) {
	seed := DefaultSeed()
	seed.Tokens[0].Limits = &Limits{RequestsPerMinute: 1, Burst: -1, Window: time.Hour}
	s := startServer(t, &Options{Seed: seed})
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	rpc(t, s, ping)
	if got := rpc(t, s, ping); got.status != 429 {
		t.Errorf("second request under the token's own limit = %d, want 429", got.status)
	}
	in := s.Info()
	for range 5 {
		if got := do(t, "POST", s.AgentURL(in.OtherAgentUUID), in.OtherTeamToken, ping); got.status != 200 {
			t.Fatalf("token with the default limits = %d, want 200", got.status)
		}
	}
}

func TestConcurrencyLimit(t *testing.T) {
	s := startServer(t, &Options{Limits: Limits{Concurrent: 1}})
	// A slow reply holds the token's only slot.
	s.AddFault(Fault{Method: "tools/list", Latency: time.Second, Count: 1})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	}()
	b := s.limiter.bucketFor("tok_ada_dev", nil)
	deadline := time.Now().Add(10 * time.Second)
	for b.inFlight.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	got := rpc(t, s, `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	wg.Wait()
	if got.status != 429 {
		t.Fatalf("request while the slot is held = %d, want 429", got.status)
	}
	if got.body != `{"error":"rate_limited","error_description":"Too many concurrent requests"}` || got.header.Get("Retry-After") != "1" {
		t.Errorf("reply = %s Retry-After %q, want the concurrency body and 1", got.body, got.header.Get("Retry-After"))
	}
	if got := rpc(t, s, `{"jsonrpc":"2.0","id":3,"method":"ping"}`); got.status != 200 {
		t.Errorf("request after the slow one ended = %d, want 200", got.status)
	}
}

func TestLimitsJSON(t *testing.T) {
	var l Limits
	if err := json.Unmarshal([]byte(`{"requests_per_minute":5,"burst":-1,"concurrent":2,"window":"500ms"}`), &l); err != nil {
		t.Fatal(err)
	}
	want := Limits{RequestsPerMinute: 5, Burst: -1, Concurrent: 2, Window: 500 * time.Millisecond}
	if l != want {
		t.Errorf("Unmarshal = %+v, want %+v", l, want)
	}
	b, _ := json.Marshal(want)
	if string(b) != `{"requests_per_minute":5,"burst":-1,"concurrent":2,"window":"500ms"}` {
		t.Errorf("Marshal = %s", b)
	}
	if err := json.Unmarshal([]byte(`{"window":"soon"}`), &l); err == nil {
		t.Error(`Unmarshal window "soon" succeeded, want an error`)
	}
}

func TestRejectLogOncePerInterval(t *testing.T) {
	var rl rejectLog
	start := time.Unix(1000, 0)
	if warn, n := rl.note("tok_a", start); !warn || n != 0 {
		t.Errorf("first 429 = warn %v, suppressed %d; want warn, 0", warn, n)
	}
	for i := 1; i <= 5; i++ {
		if warn, _ := rl.note("tok_a", start.Add(time.Duration(i)*time.Second)); warn {
			t.Errorf("429 number %d inside the interval logged at warn", i+1)
		}
	}
	if warn, _ := rl.note("tok_b", start.Add(time.Second)); !warn {
		t.Error("first 429 of another token not logged at warn")
	}
	if warn, n := rl.note("tok_a", start.Add(rejectLogInterval)); !warn || n != 5 {
		t.Errorf("first 429 after the interval = warn %v, suppressed %d; want warn, 5", warn, n)
	}
}

func TestRateLimitFloodLogsFewLines(t *testing.T) {
	var logs syncbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s := startServer(t, &Options{Logger: logger, Limits: Limits{RequestsPerMinute: 1, Burst: -1, Window: time.Hour}})
	for i := range 20 {
		rpc(t, s, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"ping"}`, i))
	}
	do(t, "POST", s.AgentURL(s.Info().AgentUUID), "not-a-token", `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	do(t, "POST", s.AgentURL(s.Info().AgentUUID), "not-a-token", `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	text := logs.String()
	if n := strings.Count(text, "status=429"); n != 1 {
		t.Errorf("warn lines for 19 rejected requests = %d, want 1:\n%s", n, text)
	}
	if n := strings.Count(text, "status=401"); n != 2 {
		t.Errorf("warn lines for 2 unauthorized requests = %d, want 2:\n%s", n, text)
	}
}
