package bridge_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/mockserver"
)

const initializeLine = `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test-host","version":"1"}}}`

// answersByID reads n lines and returns them by id, failing on a second
// answer to the same id.
func answersByID(t *testing.T, h *host, n int) map[string]gjson.Result {
	t.Helper()
	got := make(map[string]gjson.Result)
	for range n {
		line := gjson.ParseBytes(h.recv())
		id := line.Get("id").Raw
		if _, dup := got[id]; dup {
			t.Fatalf("a second answer for id %s: %s", id, line.Raw)
		}
		got[id] = line
	}
	return got
}

func TestPipelinedRequestsWaitForInitialize(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Sessions: true, SSE: true, Faults: []mockserver.Fault{
		{Method: "initialize", Latency: 300 * time.Millisecond, Count: 1},
	}})
	h := startBridge(t, mockOptions(t, srv))

	h.send(initializeLine)
	h.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	h.send(`{"jsonrpc":"2.0","id":2,"method":"ping"}`)

	// The bridge answers ping itself, without waiting for initialize.
	first := gjson.ParseBytes(h.recv())
	if first.Get("id").Raw != "2" || !first.Get("result").Exists() {
		t.Fatalf("first line = %s, want the answer to ping", first.Raw)
	}
	got := answersByID(t, h, 2)
	if got["0"].Get("error").Exists() {
		t.Fatalf("initialize = %s, want a result", got["0"].Raw)
	}
	if !got["1"].Get("result.tools").IsArray() {
		t.Errorf("tools/list sent before the initialize reply = %s, want the tools", got["1"].Raw)
	}

	// The mock logs a request once it has answered it, which can be just
	// after the host has read the answer, so wait for all three entries.
	waitFor(t, "all three requests in the mock's log", func() bool {
		return len(requestsFor(srv, "initialize")) == 1 &&
			len(requestsFor(srv, "notifications/initialized")) == 1 &&
			len(requestsFor(srv, "tools/list")) == 1
	})
	// The log is in the order the mock answered, and initialize was
	// answered last because of its latency fault, so sort by arrival.
	var posts []mockserver.Received
	for _, r := range srv.Requests() {
		if r.HTTPMethod == "POST" {
			posts = append(posts, r)
		}
	}
	slices.SortStableFunc(posts, func(a, b mockserver.Received) int { return a.Time.Compare(b.Time) })
	var order []string
	for _, r := range posts {
		order = append(order, r.Method)
		if r.Method != "initialize" && r.Header.Get("Mcp-Session-Id") == "" {
			t.Errorf("%s reached the mock without Mcp-Session-Id", r.Method)
		}
		if r.Method != "initialize" && r.Header.Get("Mcp-Protocol-Version") != "2025-06-18" {
			t.Errorf("%s reached the mock with MCP-Protocol-Version %q, want 2025-06-18", r.Method, r.Header.Get("Mcp-Protocol-Version"))
		}
	}
	want := []string{"initialize", "notifications/initialized", "tools/list"}
	if len(order) != len(want) || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
		t.Errorf("the mock received %q, want %q", order, want)
	}
}

func TestHeldRequestsAnsweredWhenInitializeFails(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Sessions: true, Faults: []mockserver.Fault{
		{Method: "initialize", Latency: 300 * time.Millisecond, Status: 500},
	}})
	h := startBridge(t, mockOptions(t, srv))

	h.send(initializeLine)
	h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	h.send(`{"jsonrpc":"2.0","id":2,"method":"resources/list"}`)
	got := answersByID(t, h, 3)
	for _, id := range []string{"0", "1", "2"} {
		if !got[id].Get("error").Exists() {
			t.Errorf("answer %s = %s, want an error", id, got[id].Raw)
		}
	}
	h.expectNothing(300 * time.Millisecond)
}

func TestHeldRequestsAnsweredAtShutdown(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Sessions: true, Faults: []mockserver.Fault{
		{Method: "initialize", Latency: 5 * time.Second, Count: 1},
	}})
	h := startBridge(t, mockOptions(t, srv))

	h.send(initializeLine)
	h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	h.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	h.send(`{"jsonrpc":"2.0","id":2,"method":"resources/list"}`)
	h.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2}}`)
	if err := h.closeStdin(); err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	count := make(map[string]int)
	for _, line := range h.rest() {
		count[gjson.GetBytes(line, "id").Raw]++
	}
	if count["0"] != 1 || count["1"] != 1 || count["2"] != 0 {
		t.Errorf("answers by id = %v, want one each for 0 and 1 and none for the cancelled 2", count)
	}
	if n := len(requestsFor(srv, "tools/list")); n != 0 {
		t.Errorf("the mock received %d tools/list, want 0 before initialize was answered", n)
	}
}
