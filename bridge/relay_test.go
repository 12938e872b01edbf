package bridge_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/mockserver"
)

func TestPingAnsweredLocally(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	h := startBridge(t, mockOptions(t, srv))

	if got := h.call("1", "ping", ""); got.Get("result").Raw != "{}" {
		t.Errorf("ping = %s, want an empty result", got.Raw)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("the mock received %d requests for a ping, want 0", n)
	}
}

func TestSessionHeaders(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Sessions: true})
	h := startBridge(t, mockOptions(t, srv))

	init := h.initialize()
	if v := init.Get("result.protocolVersion").Str; v != "2025-06-18" {
		t.Errorf("negotiated version = %q, want the host's 2025-06-18", v)
	}
	if got := h.call("1", "tools/list", ""); !got.Get("result.tools").IsArray() {
		t.Fatalf("tools/list = %.300s, want the tools", got.Raw)
	}

	inits := requestsFor(srv, "initialize")
	if len(inits) != 1 {
		t.Fatalf("the mock received %d initialize requests, want 1", len(inits))
	}
	if got := gjson.GetBytes(inits[0].Body, "params.protocolVersion").Str; got != "2025-06-18" {
		t.Errorf("initialize forwarded with version %q, want the host's", got)
	}
	lists := requestsFor(srv, "tools/list")
	if len(lists) != 1 {
		t.Fatalf("the mock received %d tools/list requests, want 1", len(lists))
	}
	hdr := lists[0].Header
	if hdr.Get("Mcp-Session-Id") == "" {
		t.Errorf("tools/list carried no Mcp-Session-Id; headers: %v", hdr)
	}
	if got := hdr.Get("Mcp-Protocol-Version"); got != "2025-06-18" {
		t.Errorf("tools/list carried MCP-Protocol-Version %q, want 2025-06-18", got)
	}
	if got := hdr.Get("Authorization"); !strings.HasPrefix(got, "Bearer ") {
		t.Errorf("tools/list carried Authorization %q, want a Bearer token", got)
	}
	waitFor(t, "notifications/initialized", func() bool { return len(requestsFor(srv, "notifications/initialized")) == 1 })
}

func TestResponsesByteExact(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	h := startBridge(t, mockOptions(t, srv))
	uuid := srv.Info().AgentUUID

	requests := []struct{ method, params string }{
		{"tools/list", ""},
		{"resources/list", ""},
		{"resources/read", fmt.Sprintf(`{"uri":"mcp://agent/%s/info"}`, uuid)},
		{"tools/call", `{"name":"prompt_agent","arguments":{"message":"Hello from API! <&> \u2028"}}`},
		{"tools/call", `{"name":"no_such_tool","arguments":{}}`},
	}
	for i, r := range requests {
		id := fmt.Sprint(i + 1)
		got := h.call(id, r.method, r.params)
		direct := directCall(t, srv, id, r.method, r.params)
		if got.Raw != string(direct) {
			t.Errorf("%s through the bridge differs from the direct reply:\n bridge: %.400s\n direct: %.400s", r.method, got.Raw, direct)
		}
	}
}

// directCall posts one request to the mock and returns its JSON reply.
func directCall(t testing.TB, srv *mockserver.Server, id, method, params string) []byte {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":` + id + `,"method":"` + method + `"`
	if params != "" {
		body += `,"params":` + params
	}
	body += "}"
	req, err := http.NewRequest(http.MethodPost, srv.AgentURL(srv.Info().AgentUUID), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+srv.Info().Token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

// fidelityServer is an MCP endpoint whose replies carry what typed clients
// lose: unknown fields and content types, _meta, integers beyond 2^53,
// escapes, error data, and a notification before the response.
func fidelityServer(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		body, _ := io.ReadAll(r.Body)
		id := gjson.GetBytes(body, "id").Raw
		switch gjson.GetBytes(body, "method").Str {
		case "tools/call":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, ": a comment\n\n")
			fmt.Fprintf(w, "id: e1\nevent: message\ndata: %s\n\n", fidelityNotification)
			fmt.Fprintf(w, "id: e2\ndata: {\"jsonrpc\":\"2.0\",\ndata: \"id\":%s,\ndata: \"result\":%s}\n\n", id, fidelityResult)
		case "resources/read":
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			fmt.Fprintf(w, "{\n  \"jsonrpc\": \"2.0\",\n  \"id\": %s,\n  \"error\": %s\n}\n", id, fidelityError)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

const (
	fidelityNotification = `{"jsonrpc":"2.0","method":"notifications/progress","params":{"_meta":{"vendor/x":9007199254740993},"progressToken":9007199254740993,"progress":1,"x-extra":["\u003c",1e400]}}`
	fidelityResult       = `{"_meta":{"big":9007199254740993},"content":[{"type":"future_kind","blob":"?","x-item":{"n":1.0}},{"type":"text","text":"a <b> & \u2028 \"q\""}],"x-top":{"k":"v"},"isError":false}`
	fidelityError        = `{"code":-32029,"message":"agent busy","data":{"retry":9007199254740993,"nested":{"a":[1,2]}}}`
)

func TestUnusualMessagesCrossUnchanged(t *testing.T) {
	t.Parallel()
	srv := fidelityServer(t)
	h := startBridge(t, &bridge.Options{URL: srv.URL, Token: bridge.StaticToken{Value: "fidelity-token-1234", Source: "test"}, Logger: testLogger(t)})

	h.send(`{"jsonrpc":"2.0","id":"call-1","method":"tools/call","params":{"name":"x","_meta":{"progressToken":9007199254740993}}}`)
	if got := string(h.recv()); got != fidelityNotification {
		t.Errorf("notification = %s\nwant %s", got, fidelityNotification)
	}
	want := `{"jsonrpc":"2.0","id":"call-1","result":` + fidelityResult + `}`
	if got := string(h.recv()); got != want {
		t.Errorf("response = %s\nwant %s", got, want)
	}

	// A pretty-printed JSON reply arrives on one line, otherwise unchanged.
	got := h.call("2", "resources/read", `{"uri":"x"}`)
	wantErr := `{  "jsonrpc": "2.0",  "id": 2,  "error": ` + fidelityError + `}`
	if got.Raw != wantErr {
		t.Errorf("error response = %s\nwant %s", got.Raw, wantErr)
	}
}

func TestRequestBytesReachService(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	h := startBridge(t, mockOptions(t, srv))

	params := `{"name":"prompt_agent","arguments":{"message":"<b>&amp; \u00e9 \u2028"},"_meta":{"progressToken":"p-1","vendor/extra":9007199254740993},"x-unknown":[1.0,2e3]}`
	h.call("41", "tools/call", params)
	calls := requestsFor(srv, "tools/call")
	if len(calls) != 1 {
		t.Fatalf("the mock received %d tools/call, want 1", len(calls))
	}
	sent := string(calls[0].Body)
	if !strings.Contains(sent, `"params":`+params) {
		t.Errorf("the mock received %s\nwant the params byte for byte: %s", sent, params)
	}
}

func TestProgressBeforeResponse(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/call", Progress: 3}}})
	h := startBridge(t, mockOptions(t, srv))
	h.initialize()

	for i := range 20 {
		id := fmt.Sprint(100 + i)
		h.send(`{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"hi"},"_meta":{"progressToken":"tok-` + id + `"}}}`)
		for n := range 3 {
			got := gjson.ParseBytes(h.recv())
			if got.Get("method").Str != "notifications/progress" || got.Get("params.progressToken").Str != "tok-"+id {
				t.Fatalf("call %s line %d = %s, want progress for tok-%s", id, n, got.Raw, id)
			}
		}
		if got := gjson.ParseBytes(h.recv()); got.Get("id").Raw != id || !got.Get("result").Exists() {
			t.Fatalf("call %s: after the progress got %s, want its response", id, got.Raw)
		}
	}
}

func TestServerRequestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"sampling/createMessage", "roots/list", "elicitation/create"} {
		t.Run(strings.ReplaceAll(method, "/", "-"), func(t *testing.T) {
			t.Parallel()
			srv := newMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/call", ServerRequest: method, Count: 1}}})
			h := startBridge(t, mockOptions(t, srv))
			h.initialize()

			h.send(`{"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"hi"}}}`)
			req := gjson.ParseBytes(h.recv())
			if req.Get("method").Str != method {
				t.Fatalf("got %s, want the server's %s request", req.Raw, method)
			}
			if req.Get("id").Type != gjson.Number {
				t.Errorf("server request id = %s, want a bridge number", req.Get("id").Raw)
			}
			h.send(`{"jsonrpc":"2.0","id":` + req.Get("id").Raw + `,"result":` + serverRequestAnswer(method) + `}`)
			got := gjson.ParseBytes(h.recv())
			if got.Get("id").Str != "c1" || got.Get("error").Exists() || got.Get("result.isError").Bool() {
				t.Errorf("tools/call after answering %s = %s, want success", method, got.Raw)
			}
		})
	}
}

// serverRequestAnswer returns a valid client result for a server request.
func serverRequestAnswer(method string) string {
	switch method {
	case "sampling/createMessage":
		return `{"role":"assistant","content":{"type":"text","text":"sampled"},"model":"test-model","stopReason":"endTurn"}`
	case "roots/list":
		return `{"roots":[{"uri":"file:///tmp","name":"tmp"}]}`
	case "elicitation/create":
		return `{"action":"accept","content":{"answer":"yes"}}`
	}
	return `{}`
}

func TestServerPingAnsweredByBridge(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/call", ServerRequest: "ping", Count: 1}}})
	h := startBridge(t, mockOptions(t, srv))

	got := h.call("1", "tools/call", `{"name":"prompt_agent","arguments":{"message":"hi"}}`)
	if got.Get("error").Exists() || got.Get("result.isError").Bool() {
		t.Errorf("tools/call with a server ping = %s, want success: the mock checks the ping's answer", got.Raw)
	}
}

func TestHostResponseForUnknownRequestDropped(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	h := startBridge(t, mockOptions(t, srv))

	h.send(`{"jsonrpc":"2.0","id":99,"result":{}}`)
	h.send(`{"jsonrpc":"2.0","id":"nope","error":{"code":1,"message":"x"}}`)
	if got := h.call("1", "ping", ""); got.Get("result").Raw != "{}" {
		t.Errorf("ping = %s", got.Raw)
	}
	for _, r := range srv.Requests() {
		if r.Method == "" && r.HTTPMethod == http.MethodPost {
			t.Errorf("the mock received a response the bridge should have dropped: %s", r.Body)
		}
	}
}

func TestGETStreamNotificationsRelayed(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Sessions: true})
	h := startBridge(t, mockOptions(t, srv))
	h.initialize()

	msg := json.RawMessage(`{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"n":9007199254740993}}}`)
	waitFor(t, "the GET stream", func() bool { return srv.Notify(srv.Info().AgentUUID, msg) > 0 })
	if got := h.recv(); string(got) != string(msg) {
		t.Errorf("notification from the GET stream = %s, want %s", got, msg)
	}
}

func TestCancellationForwardedAndSuppressed(t *testing.T) {
	t.Parallel()
	srv := newObservedMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/call", Latency: 3 * time.Second}}})
	h := startBridge(t, srv.options(t))
	h.initialize()

	h.send(`{"jsonrpc":"2.0","id":"slow","method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"hi"}}}`)
	srv.waitArrival(t, "POST tools/call")
	h.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"slow","reason":"user gave up"}}`)

	waitFor(t, "the forwarded cancellation", func() bool { return len(requestsFor(srv.Server, "notifications/cancelled")) == 1 })
	waitFor(t, "the mock to log the aborted call", func() bool { return len(requestsFor(srv.Server, "tools/call")) == 1 })
	upstreamID := requestsFor(srv.Server, "tools/call")[0].ID
	cancelled := requestsFor(srv.Server, "notifications/cancelled")[0]
	if got := gjson.GetBytes(cancelled.Body, "params.requestId").Raw; got != upstreamID {
		t.Errorf("forwarded cancellation names request %s, want the upstream id %s", got, upstreamID)
	}
	if got := gjson.GetBytes(cancelled.Body, "params.reason").Str; got != "user gave up" {
		t.Errorf("forwarded reason = %q, want the host's", got)
	}

	// No response is ever written for the cancelled request.
	if got := h.call("2", "ping", ""); got.Get("result").Raw != "{}" {
		t.Fatalf("ping = %s", got.Raw)
	}
	h.expectNothing(500 * time.Millisecond)

	// The id is free again.
	srv.ClearFaults()
	if got := h.call(`"slow"`, "tools/list", ""); !got.Get("result.tools").IsArray() {
		t.Errorf("reusing the cancelled id = %.200s, want the tools", got.Raw)
	}
}

func TestCancelledInitializeNotForwarded(t *testing.T) {
	t.Parallel()
	srv := newObservedMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "initialize", Latency: 2 * time.Second, Count: 1}}})
	h := startBridge(t, srv.options(t))

	h.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	srv.waitArrival(t, "POST initialize")
	h.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":0}}`)
	h.call("1", "ping", "")
	h.expectNothing(300 * time.Millisecond)
	if n := len(requestsFor(srv.Server, "notifications/cancelled")); n != 0 {
		t.Errorf("the mock received %d cancellations of initialize, want 0 (MCP forbids them)", n)
	}
}

func TestDuplicateIDRejected(t *testing.T) {
	t.Parallel()
	srv := newObservedMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/call", Latency: time.Second, Count: 1}}})
	h := startBridge(t, srv.options(t))

	h.send(`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"hi"}}}`)
	srv.waitArrival(t, "POST tools/call")
	h.send(`{"jsonrpc":"2.0","id":5,"method":"tools/list"}`)
	dup := gjson.ParseBytes(h.recv())
	if dup.Get("id").Raw != "5" || dup.Get("error.code").Int() != -32600 {
		t.Errorf("duplicate id = %s, want -32600 for id 5", dup.Raw)
	}
	first := gjson.ParseBytes(h.recv())
	if first.Get("id").Raw != "5" || !first.Get("result").Exists() {
		t.Errorf("first request = %.200s, want its result", first.Raw)
	}
}

func TestReinitializeAfterSessionExpired(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Sessions: true})
	h := startBridge(t, mockOptions(t, srv))
	h.initialize()
	h.call("1", "tools/list", "")
	firstSession := requestsFor(srv, "tools/list")[0].Header.Get("Mcp-Session-Id")

	srv.ExpireSessions()
	got := h.call("2", "tools/list", "")
	if !got.Get("result.tools").IsArray() {
		t.Fatalf("tools/list after the session expired = %.300s, want the tools", got.Raw)
	}

	inits := requestsFor(srv, "initialize")
	if len(inits) != 2 {
		t.Fatalf("the mock received %d initialize, want 2", len(inits))
	}
	if sid := inits[1].Header.Get("Mcp-Session-Id"); sid != "" {
		t.Errorf("the replayed initialize carried Mcp-Session-Id %q, want none", sid)
	}
	if diff := cmp.Diff(gjson.GetBytes(inits[0].Body, "params").Raw, gjson.GetBytes(inits[1].Body, "params").Raw); diff != "" {
		t.Errorf("the replayed initialize has other params (-first +replayed):\n%s", diff)
	}
	// The mock logs a request after replying, so the count is polled.
	waitFor(t, "a second notifications/initialized", func() bool { return len(requestsFor(srv, "notifications/initialized")) == 2 })
	lists := requestsFor(srv, "tools/list")
	last := lists[len(lists)-1]
	if last.Status != http.StatusOK || last.Header.Get("Mcp-Session-Id") == firstSession {
		t.Errorf("the retried tools/list got %d on session %q, want 200 on a new session", last.Status, last.Header.Get("Mcp-Session-Id"))
	}
}

func TestConcurrentRequestsAfterSessionExpired(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Sessions: true})
	h := startBridge(t, mockOptions(t, srv))
	h.initialize()
	srv.ExpireSessions()

	for i := range 8 {
		h.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`, i+1))
	}
	seen := map[string]bool{}
	for range 8 {
		got := gjson.ParseBytes(h.recv())
		if !got.Get("result.tools").IsArray() {
			t.Errorf("response = %.200s, want the tools", got.Raw)
		}
		seen[got.Get("id").Raw] = true
	}
	if len(seen) != 8 {
		t.Errorf("got responses for %d distinct ids, want 8", len(seen))
	}
	if n := len(requestsFor(srv, "initialize")); n != 2 {
		t.Errorf("the mock received %d initialize, want 2: one re-initialization for all", n)
	}
}

func TestPlainEndpointFallback(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Plain: true})
	h := startBridge(t, mockOptions(t, srv))

	init := h.call("0", "initialize", `{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"t","version":"1"}}`)
	if v := init.Get("result.protocolVersion").Str; v != "2025-03-26" {
		t.Errorf("local initialize version = %q, want the host's 2025-03-26", v)
	}
	for _, c := range []string{"tools", "resources"} {
		if !init.Get("result.capabilities." + c).IsObject() {
			t.Errorf("local initialize lacks the %s capability: %s", c, init.Raw)
		}
	}
	if init.Get("result.serverInfo.name").Str != "joai-bridge" {
		t.Errorf("serverInfo = %s, want the bridge's", init.Get("result.serverInfo").Raw)
	}
	h.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if got := h.call("1", "tools/list", ""); !got.Get("result.tools").IsArray() {
		t.Errorf("tools/list on a plain endpoint = %.200s, want the tools", got.Raw)
	}
	// A second initialize is answered locally too.
	if got := h.call("2", "initialize", `{"protocolVersion":"2099-01-01","capabilities":{}}`); got.Get("result.protocolVersion").Str != "2025-11-25" {
		t.Errorf("initialize with an unknown version = %s, want 2025-11-25", got.Raw)
	}

	if n := len(requestsFor(srv, "initialize")); n != 1 {
		t.Errorf("the mock received %d initialize, want 1", n)
	}
	if n := len(requestsFor(srv, "notifications/initialized")); n != 0 {
		t.Errorf("the mock received %d notifications/initialized, want 0", n)
	}
	for _, r := range srv.Requests() {
		if r.HTTPMethod == http.MethodGet {
			t.Errorf("the bridge opened a GET stream on a plain endpoint")
		}
	}
}

func TestManyConcurrentRequests(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Limits: mockserver.Limits{Concurrent: -1, RequestsPerMinute: -1}})
	h := startBridge(t, mockOptions(t, srv))

	const n = 200
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			h.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"m%d"}}}`, i, i))
		}
	})
	got := map[int64]bool{}
	for range n {
		line := gjson.ParseBytes(h.recv())
		if !line.Get("result").Exists() {
			t.Fatalf("response = %.300s, want a result", line.Raw)
		}
		got[line.Get("id").Int()] = true
	}
	wg.Wait()
	if len(got) != n {
		t.Errorf("got %d distinct responses, want %d", len(got), n)
	}
}

func TestReplyStreamResumed(t *testing.T) {
	t.Parallel()
	type seen struct{ method, lastEventID, auth string }
	requests := make(chan seen, 10)
	// pendingID passes the upstream id of the request whose stream ended
	// early to the GET that resumes it.
	pendingID := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests <- seen{r.Method, r.Header.Get("Last-Event-ID"), r.Header.Get("Authorization")}
		w.Header().Set("Content-Type", "text/event-stream")
		switch {
		case r.Method == http.MethodPost:
			// The stream ends after an event id and before the response, as
			// MCP 2025-11-25 lets a server do; the client resumes with GET.
			body, _ := io.ReadAll(r.Body)
			id := gjson.GetBytes(body, "id").Raw
			fmt.Fprint(w, "retry: 10\nid: ev-1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":\"p\",\"progress\":1}}\n\n")
			pendingID <- id
		case r.Header.Get("Last-Event-ID") == "ev-1":
			fmt.Fprintf(w, "id: ev-2\ndata: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"resumed\":true}}\n\n", <-pendingID)
		default:
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	}))
	t.Cleanup(srv.Close)
	h := startBridge(t, &bridge.Options{URL: srv.URL, Token: bridge.StaticToken{Value: "resume-token-1234", Source: "test"}, Logger: testLogger(t)})

	h.send(`{"jsonrpc":"2.0","id":"r1","method":"tools/call","params":{"name":"x","_meta":{"progressToken":"p"}}}`)
	if got := gjson.ParseBytes(h.recv()); got.Get("method").Str != "notifications/progress" {
		t.Fatalf("first line = %s, want the progress notification", got.Raw)
	}
	if got := gjson.ParseBytes(h.recv()); got.Get("id").Str != "r1" || !got.Get("result.resumed").Bool() {
		t.Errorf("response = %s, want the resumed result for r1", got.Raw)
	}
	post, get := <-requests, <-requests
	if post.method != http.MethodPost || get.method != http.MethodGet || get.lastEventID != "ev-1" {
		t.Errorf("requests = %+v then %+v, want a POST then a GET with Last-Event-ID ev-1", post, get)
	}
	if get.auth != "Bearer resume-token-1234" {
		t.Errorf("the resuming GET carried Authorization %q, want the token", get.auth)
	}
}
