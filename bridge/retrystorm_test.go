package bridge_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/internal/syncbuf"
	"github.com/joai-ai/joai-mcp/mockserver"
)

// TestRetriesAfter429DoNotMultiplyLoad sends 100 tools/call at once to a
// service that takes 16 at a time and replies to each after 200 ms. A bridge
// that keeps 64 in flight and retries them together made 302 requests here.
// The adaptive limit made 132 to 154 in nine runs, some under load. The
// bound of 180 leaves a margin for the first burst, whose 64 requests go
// out before the first 429 returns.
func TestRetriesAfter429DoNotMultiplyLoad(t *testing.T) {
	t.Parallel()
	const calls = 100
	srv := newMock(t, &mockserver.Options{
		Limits: mockserver.Limits{Concurrent: 16},
		Faults: []mockserver.Fault{{Method: "tools/call", Latency: 200 * time.Millisecond}},
	})
	opts := mockOptions(t, srv)
	warnings := &syncbuf.Buffer{}
	opts.Logger = slog.New(slog.NewTextHandler(warnings, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h := startBridge(t, opts)
	h.initialize()

	for i := range calls {
		h.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"hi %d"}}}`, i+1, i))
	}
	answered := make(map[int64]bool)
	deadline := time.Now().Add(60 * time.Second)
	for len(answered) < calls && time.Now().Before(deadline) {
		line := gjson.ParseBytes(h.recv())
		id := line.Get("id").Int()
		if answered[id] {
			t.Fatalf("a second answer for id %d: %s", id, line.Raw)
		}
		answered[id] = true
		if !line.Get("result").Exists() {
			t.Errorf("tools/call %d = %.300s, want a result", id, line.Raw)
		}
	}
	if len(answered) != calls {
		t.Fatalf("%d of %d tools/call answered", len(answered), calls)
	}

	received, refused := 0, 0
	for _, r := range requestsFor(srv, "tools/call") {
		received++
		if r.Status == 429 {
			refused++
		}
	}
	t.Logf("the mock received %d tools/call, %d of them refused with 429", received, refused)
	if received >= 180 {
		t.Errorf("the mock received %d tools/call for %d calls, want under 180", received, calls)
	}
	// The retries are logged at debug, with one warn line that counts them.
	if n := strings.Count(warnings.String(), "retrying"); n != 1 {
		t.Errorf("%d warn lines about retries for %d retries, want 1:\n%s", n, refused, warnings.String())
	}
}
