package bridge_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/mockserver"
)

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter func() string
		minWait    time.Duration
	}{
		{name: "delta-seconds", retryAfter: func() string { return "1" }, minWait: 900 * time.Millisecond},
		// HTTP-dates have whole seconds, so two seconds ahead is at least
		// one second of wait.
		{name: "http-date", retryAfter: func() string { return time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat) }, minWait: 900 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newMock(t, nil)
			srv.AddFault(mockserver.Fault{Method: "tools/list", Status: 429, Header: map[string]string{"Retry-After": tt.retryAfter()}, Count: 1})
			h := startBridge(t, mockOptions(t, srv))

			start := time.Now()
			got := h.call("1", "tools/list", "")
			if !got.Get("result.tools").IsArray() {
				t.Fatalf("tools/list after a 429 = %.300s, want the tools", got.Raw)
			}
			if d := time.Since(start); d < tt.minWait {
				t.Errorf("answered after %v, want a wait of at least %v for Retry-After", d, tt.minWait)
			}
			waitFor(t, "the retried request in the mock's log", func() bool { return len(requestsFor(srv, "tools/list")) == 2 })
		})
	}
}

func TestRetryBudgetExceeded(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/list", Status: 429, Header: map[string]string{"Retry-After": "30"}}}})
	opts := mockOptions(t, srv)
	opts.RetryBudget = time.Second
	h := startBridge(t, opts)

	start := time.Now()
	got := h.call("1", "tools/list", "")
	e := got.Get("error")
	if e.Get("code").Int() != bridge.CodeRateLimited || e.Get("data.httpStatus").Int() != 429 {
		t.Errorf("error = %s, want %d with httpStatus 429", e.Raw, bridge.CodeRateLimited)
	}
	if e.Get("data.retryAfterSeconds").Int() != 30 {
		t.Errorf("retryAfterSeconds = %s, want 30", e.Get("data.retryAfterSeconds").Raw)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("answered after %v, want at once when the wait exceeds the budget", d)
	}

	// The gate now holds other requests back too, without hammering.
	got = h.call("2", "tools/call", `{"name":"prompt_agent","arguments":{"message":"hi"}}`)
	if got.Get("error.code").Int() != bridge.CodeRateLimited || got.Get("error.data.retryAfterSeconds").Int() < 25 {
		t.Errorf("a second request while the gate is closed = %s, want %d with about 30s to wait", got.Raw, bridge.CodeRateLimited)
	}
	waitFor(t, "the mock's log", func() bool { return len(requestsFor(srv, "tools/list")) == 1 })
	if n := len(requestsFor(srv, "tools/call")); n != 0 {
		t.Errorf("the mock received %d tools/call while the gate was closed, want 0", n)
	}
}

func TestRetryBudgetDisabled(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/list", Status: 429, Count: 1}}})
	opts := mockOptions(t, srv)
	opts.RetryBudget = -1
	h := startBridge(t, opts)

	got := h.call("1", "tools/list", "")
	if got.Get("error.code").Int() != bridge.CodeRateLimited || got.Get("error.data.retryAfterSeconds").Int() != 1 {
		t.Errorf("error = %s, want %d with the mock's retryAfterSeconds 1", got.Raw, bridge.CodeRateLimited)
	}
}

func TestBackoffWithoutRetryAfter(t *testing.T) {
	t.Parallel()
	for _, status := range []int{429, 503} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			srv := newMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/list", Status: status, Header: map[string]string{"Retry-After": "soon"}, Count: 2}}})
			h := startBridge(t, mockOptions(t, srv))

			got := h.call("1", "tools/list", "")
			if !got.Get("result.tools").IsArray() {
				t.Fatalf("tools/list after two %d = %.300s, want the tools", status, got.Raw)
			}
			waitFor(t, "three attempts in the mock's log", func() bool { return len(requestsFor(srv, "tools/list")) == 3 })
		})
	}
}

func TestSharedGateHoldsOtherRequests(t *testing.T) {
	t.Parallel()
	srv := newObservedMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/list", Status: 429, Header: map[string]string{"Retry-After": "2"}, Count: 1}}})
	h := startBridge(t, srv.options(t))

	h.send(`{"jsonrpc":"2.0","id":"first","method":"tools/list"}`)
	srv.waitArrival(t, "POST tools/list")
	waitFor(t, "the 429 in the mock's log", func() bool { return len(requestsFor(srv.Server, "tools/list")) == 1 })
	refused := requestsFor(srv.Server, "tools/list")[0].Time
	// The mock logs the 429 as it sends it; give the bridge time to read it.
	time.Sleep(200 * time.Millisecond)
	for i := range 3 {
		h.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"resources/list"}`, i))
	}
	for range 4 {
		got := gjson.ParseBytes(h.recv())
		if got.Get("error").Exists() {
			t.Errorf("response = %s, want success after the wait", got.Raw)
		}
	}
	for _, r := range requestsFor(srv.Server, "resources/list") {
		if wait := r.Time.Sub(refused); wait < 1800*time.Millisecond {
			t.Errorf("resources/list reached the mock %v after the 429, want it held at the gate for about 2s", wait)
		}
	}
}

func TestMockRateLimitPacedThrough(t *testing.T) {
	t.Parallel()
	// One request per 500ms and no burst: the mock's 429s carry the honest
	// Retry-After of its limiter.
	srv := newMock(t, &mockserver.Options{Limits: mockserver.Limits{RequestsPerMinute: 4, Burst: -1, Window: 2 * time.Second}})
	h := startBridge(t, mockOptions(t, srv))

	for i := range 4 {
		h.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`, i))
	}
	for range 4 {
		if got := gjson.ParseBytes(h.recv()); !got.Get("result.tools").IsArray() {
			t.Errorf("response = %.300s, want the tools", got.Raw)
		}
	}
}

func TestDishonestRetryAfterStillSucceeds(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{
		Limits: mockserver.Limits{RequestsPerMinute: 2, Burst: -1, Window: 2 * time.Second},
		Faults: []mockserver.Fault{{Break: mockserver.BreakDishonestRetryAfter}},
	})
	h := startBridge(t, mockOptions(t, srv))

	for i := range 3 {
		if got := h.call(fmt.Sprint(i), "tools/list", ""); !got.Get("result.tools").IsArray() {
			t.Errorf("tools/list %d = %.300s, want the tools", i, got.Raw)
		}
	}
}

func TestMaxRPM(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	opts := mockOptions(t, srv)
	opts.MaxRPM = 2
	opts.RetryBudget = time.Second
	h := startBridge(t, opts)

	for i := range 2 {
		if got := h.call(fmt.Sprint(i), "tools/list", ""); got.Get("error").Exists() {
			t.Fatalf("request %d within --max-rpm = %s", i, got.Raw)
		}
	}
	got := h.call("2", "tools/list", "")
	e := got.Get("error")
	if e.Get("code").Int() != bridge.CodeRateLimited || e.Get("data.retryAfterSeconds").Int() < 55 {
		t.Errorf("third request in a minute = %s, want %d with about 60s to wait", e.Raw, bridge.CodeRateLimited)
	}
	if !strings.Contains(e.Get("message").Str, "--max-rpm") {
		t.Errorf("message = %q, want it to name --max-rpm", e.Get("message").Str)
	}
	waitFor(t, "the mock's log", func() bool { return len(requestsFor(srv, "tools/list")) == 2 })
}

func TestMaxConcurrent(t *testing.T) {
	t.Parallel()
	var inFlight, peak atomic.Int32
	srv := newMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/call", Latency: 150 * time.Millisecond}}})
	opts := mockOptions(t, srv)
	opts.MaxConcurrent = 2
	opts.Transport = countingTransport(t, &inFlight, &peak)
	h := startBridge(t, opts)

	for i := range 6 {
		h.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"x"}}}`, i))
	}
	for range 6 {
		if got := gjson.ParseBytes(h.recv()); !got.Get("result").Exists() {
			t.Errorf("response = %.300s", got.Raw)
		}
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("peak requests in flight = %d, want --max-concurrent 2", p)
	}
}

// countingTransport counts the POSTs in flight and records the peak.
func countingTransport(t testing.TB, inFlight, peak *atomic.Int32) http.RoundTripper {
	base, err := bridge.NewHTTPTransport(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(base.CloseIdleConnections)
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method != http.MethodPost || gjson.GetBytes(peekBody(r), "method").Str != "tools/call" {
			return base.RoundTrip(r)
		}
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		return base.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// peekBody returns the request body and leaves it readable.
func peekBody(r *http.Request) []byte {
	if r.GetBody == nil {
		return nil
	}
	body, err := r.GetBody()
	if err != nil {
		return nil
	}
	defer body.Close()
	b, _ := io.ReadAll(io.LimitReader(body, 256))
	return b
}

// rotatingToken returns old until Reload, then new.
type rotatingToken struct {
	old, new string
	rotate   bool
	reloads  atomic.Int32
}

func (r *rotatingToken) Token(context.Context) (string, error) { return r.old, nil }
func (r *rotatingToken) Reload(context.Context) (string, error) {
	r.reloads.Add(1)
	if r.rotate {
		return r.new, nil
	}
	return r.old, nil
}
func (r *rotatingToken) Describe() string { return "the rotating test token" }

func TestUnauthorizedReloadsToken(t *testing.T) {
	t.Parallel()
	for _, rotate := range []bool{true, false} {
		t.Run(fmt.Sprintf("rotated-%v", rotate), func(t *testing.T) {
			t.Parallel()
			srv := newMock(t, nil)
			info := srv.Info()
			tok := &rotatingToken{old: info.RevokedToken, new: info.Token, rotate: rotate}
			opts := mockOptions(t, srv)
			opts.Token = tok
			h := startBridge(t, opts)

			got := h.call("1", "tools/list", "")
			if rotate && !got.Get("result.tools").IsArray() {
				t.Errorf("tools/list with a rotated token = %.300s, want the tools", got.Raw)
			}
			if !rotate && got.Get("error.code").Int() != bridge.CodeUnauthorized {
				t.Errorf("tools/list with an unchanged revoked token = %.300s, want %d", got.Raw, bridge.CodeUnauthorized)
			}
			if n := tok.reloads.Load(); n != 1 {
				t.Errorf("Reload called %d times, want 1", n)
			}
			want := 1
			if rotate {
				want = 2
			}
			waitFor(t, "the mock's log", func() bool { return len(requestsFor(srv, "tools/list")) == want })
		})
	}
}
