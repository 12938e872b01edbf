package bridge

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		value  string
		want   time.Duration
		wantOK bool
	}{
		{value: "0", want: 0, wantOK: true},
		{value: "7", want: 7 * time.Second, wantOK: true},
		{value: " 120 ", want: 2 * time.Minute, wantOK: true},
		{value: "99999999999999999999999", want: maxRetryAfter, wantOK: true},
		{value: "86401", want: maxRetryAfter, wantOK: true},
		{value: now.Add(30 * time.Second).Format(http.TimeFormat), want: 30 * time.Second, wantOK: true},
		{value: "Sunday, 01-Mar-26 12:01:00 GMT", want: time.Minute, wantOK: true},
		{value: "Sun Mar  1 12:00:05 2026", want: 5 * time.Second, wantOK: true},
		{value: now.Add(-time.Hour).Format(http.TimeFormat), want: 0, wantOK: true},
		{value: now.Add(48 * time.Hour).Format(http.TimeFormat), want: maxRetryAfter, wantOK: true},
		{value: "", wantOK: false},
		{value: "-5", wantOK: false},
		{value: "1.5", wantOK: false},
		{value: "soon", wantOK: false},
		{value: "7s", wantOK: false},
		{value: "0x10", wantOK: false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.value, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.wantOK)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, seed := range []string{"0", "7", "18446744073709551616", "Sun, 01 Mar 2026 12:00:30 GMT", "garbage", " 3 ", "Mon, 32 Feb 2026 99:99:99 GMT"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		got, ok := ParseRetryAfter(value, now)
		if got < 0 || got > maxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v, outside [0, %v]", value, got, maxRetryAfter)
		}
		if !ok && got != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v with ok false, want 0", value, got)
		}
		// Plain digits are always delta-seconds.
		if secs, err := strconv.ParseUint(value, 10, 64); err == nil && value != "" && value[0] != '+' {
			want := maxRetryAfter
			if secs < uint64(maxRetryAfter/time.Second) {
				want = time.Duration(secs) * time.Second
			}
			if !ok || got != want {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v, true", value, got, ok, want)
			}
		}
	})
}

func TestBackoffFullJitter(t *testing.T) {
	for n := range 40 {
		ceiling := backoffCap
		if n < 20 {
			ceiling = min(backoffCap, backoffBase<<n)
		}
		for range 50 {
			if d := backoff(n); d <= 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %v, want in (0, %v]", n, d, ceiling)
			}
		}
	}
	// With full jitter the waits spread over the range instead of
	// clustering at the ceiling.
	var low int
	for range 1000 {
		if backoff(5) < backoffCap/2 {
			low++
		}
	}
	if low < 300 || low > 700 {
		t.Errorf("backoff(5) fell in the lower half %d times in 1000, want about 500", low)
	}
}

func TestBudget(t *testing.T) {
	b := newBudget(time.Second)
	if !b.spend(600 * time.Millisecond) {
		t.Fatal("spend(600ms) of 1s = false")
	}
	if b.spend(500 * time.Millisecond) {
		t.Error("spend(500ms) with 400ms left = true")
	}
	if !b.spend(400 * time.Millisecond) {
		t.Error("spend(400ms) with 400ms left = false")
	}
	if newBudget(-1).spend(1) {
		t.Error("a negative budget allowed a wait")
	}
}

func TestGate(t *testing.T) {
	var g gate
	if d := g.remaining(); d != 0 {
		t.Fatalf("new gate remaining = %v, want 0", d)
	}
	g.closeFor(2 * time.Second)
	g.closeFor(time.Second) // a shorter wait does not reopen it sooner
	if d := g.remaining(); d < 1500*time.Millisecond || d > 2*time.Second {
		t.Errorf("remaining = %v, want about 2s", d)
	}
}

func TestRPMLimiter(t *testing.T) {
	l := newRPMLimiter(3, time.Minute)
	for i := range 3 {
		if wait, ok := l.reserve(0); !ok || wait != 0 {
			t.Fatalf("reserve %d = %v, %v; want an immediate start", i, wait, ok)
		}
	}
	wait, ok := l.reserve(time.Second)
	if ok {
		t.Fatalf("reserve beyond the limit with a 1s budget = %v, true; want false", wait)
	}
	if wait < 59*time.Second || wait > time.Minute {
		t.Errorf("wait beyond the limit = %v, want about 1m", wait)
	}
	if wait, ok := l.reserve(2 * time.Minute); !ok || math.Abs((wait-time.Minute).Seconds()) > 1 {
		t.Errorf("reserve with a 2m budget = %v, %v; want about 1m, true", wait, ok)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST.": true, "api.localhost": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true,
		"cortex.joai.ai": false, "10.0.0.1": false, "localhost.example.com": false, "0.0.0.0": false, "::": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		raw           string
		allowInsecure bool
		wantErr       string
	}{
		{raw: "https://cortex.joai.ai/mcp/agents/x"},
		{raw: "http://127.0.0.1:8080/mcp/agents/x"},
		{raw: "http://localhost/mcp"},
		{raw: "http://[::1]:9/mcp"},
		{raw: "http://mcp.example.com/mcp", allowInsecure: true},
		{raw: "http://mcp.example.com/mcp", wantErr: "--allow-insecure-http"},
		{raw: "ftp://example.com/x", wantErr: "scheme"},
		{raw: "https://user:pw@example.com/x", wantErr: "user name or password"},
		{raw: "https:///x", wantErr: "no host"},
		{raw: "", wantErr: "--agent"},
		{raw: "::bad", wantErr: "invalid URL"},
	}
	for _, tt := range tests {
		_, err := ParseEndpoint(tt.raw, tt.allowInsecure)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ParseEndpoint(%q) error = %v, want none", tt.raw, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ParseEndpoint(%q) error = %v, want one mentioning %q", tt.raw, err, tt.wantErr)
		}
	}
}

func TestConcurrencyLimitAdapts(t *testing.T) {
	l := newConcurrencyLimit(8)
	var starts []time.Time
	for range 8 {
		start, err := l.acquire(t.Context())
		if err != nil {
			t.Fatalf("acquire() error = %v", err)
		}
		starts = append(starts, start)
	}

	// Rejections of requests sent before the limit was lowered lower it once.
	time.Sleep(time.Millisecond)
	for _, start := range starts[:4] {
		l.release(start, sentCongested)
	}
	if got := l.current(); got != 4 {
		t.Errorf("limit after a round of 429s = %d, want 4", got)
	}

	// A waiter gets no slot while the lowered limit is in use.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.acquire(ctx); err == nil {
		t.Errorf("acquire() with 4 of 4 slots in use succeeded, want it to wait")
	}

	// About one success per slot raises the limit by one.
	for _, start := range starts[4:] {
		l.release(start, sentOK)
	}
	if got := l.current(); got != 4 {
		t.Errorf("limit after 4 successes at 4 = %d, want 4", got)
	}
	start, err := l.acquire(t.Context())
	if err != nil {
		t.Fatalf("acquire() error = %v", err)
	}
	l.release(start, sentOK)
	if got := l.current(); got != 5 {
		t.Errorf("limit after 5 successes at 4 = %d, want 5", got)
	}

	// The limit never drops below 1.
	for range 10 {
		start, err := l.acquire(t.Context())
		if err != nil {
			t.Fatalf("acquire() error = %v", err)
		}
		time.Sleep(time.Millisecond)
		l.release(start, sentCongested)
	}
	if got := l.current(); got != 1 {
		t.Errorf("limit after repeated 429s = %d, want 1", got)
	}
}
