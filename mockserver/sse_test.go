package mockserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sseEvent is one server-sent event.
type sseEvent struct {
	event, data string
}

// sseStream reads events from an open text/event-stream reply.
type sseStream struct {
	resp *http.Response
	rd   *bufio.Reader
}

// openSSE posts body (GET when body is empty) with Accept for both JSON and
// event streams, and returns the open reply. The caller must close it.
func openSSE(tb testing.TB, ctx context.Context, method, url, token, body string, header ...string) *sseStream {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	return &sseStream{resp: resp, rd: bufio.NewReader(resp.Body)}
}

func (s *sseStream) close() { s.resp.Body.Close() }

// next returns the next event, skipping comments, or an error at the end of
// the stream.
func (s *sseStream) next() (sseEvent, error) {
	var ev sseEvent
	var data []string
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			return ev, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if len(data) > 0 {
				ev.data = strings.Join(data, "\n")
				return ev, nil
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event:"):
			ev.event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
}

// all reads the events up to the end of the stream.
func (s *sseStream) all(tb testing.TB) ([]sseEvent, error) {
	var out []sseEvent
	for {
		ev, err := s.next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return out, err
		}
		out = append(out, ev)
	}
}

func TestSSEMode(t *testing.T) {
	s := startServer(t, &Options{SSE: true})
	in := s.Info()
	st := openSSE(t, t.Context(), "POST", s.AgentURL(in.AgentUUID), in.Token, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	defer st.close()
	if ct := st.resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q, want text/event-stream", ct)
	}
	events, err := st.all(t)
	if err != nil || len(events) != 1 {
		t.Fatalf("events = %v (%v), want exactly one", events, err)
	}
	if events[0].event != "message" {
		t.Errorf("event type = %q, want message", events[0].event)
	}
	wantJSON(t, "SSE tools/list", events[0].data, `{"jsonrpc":"2.0","id":1,"result":{"tools":`+referenceTools+`}}`)

	// The documentation's examples send no Accept header and no id, and
	// read JSON; a client that accepts only JSON gets JSON too.
	if got := rpc(t, s, `{"jsonrpc":"2.0","method":"tools/list"}`); got.header.Get("Content-Type") != "application/json" {
		t.Errorf("id-less request in SSE mode: Content-Type %q, want application/json", got.header.Get("Content-Type"))
	}
	if got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "Accept", "application/json"); got.header.Get("Content-Type") != "application/json" {
		t.Errorf("Accept: application/json in SSE mode: Content-Type %q, want application/json", got.header.Get("Content-Type"))
	}
	if got := rpc(t, s, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); got.status != 202 {
		t.Errorf("notification in SSE mode = %d, want 202", got.status)
	}
}

func TestSessions(t *testing.T) {
	s := startServer(t, &Options{Sessions: true})
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	got := rpc(t, s, init)
	sid := got.header.Get("Mcp-Session-Id")
	if got.status != 200 || sid == "" {
		t.Fatalf("initialize = %d, session %q: %s", got.status, sid, got.body)
	}
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	if got := rpc(t, s, list); got.status != 400 {
		t.Errorf("request without a session = %d, want 400", got.status)
	}
	if got := rpc(t, s, list, "Mcp-Session-Id", sid); got.status != 200 {
		t.Errorf("request with the session = %d, want 200", got.status)
	}
	if got := rpc(t, s, list, "Mcp-Session-Id", "not-a-session"); got.status != 404 {
		t.Errorf("request with an unknown session = %d, want 404", got.status)
	}
	// A session belongs to its agent.
	in := s.Info()
	babbageToken := "joai_mock_babbage_8c2e6a4f0d1b3957e4a0"
	if got := do(t, "POST", s.AgentURL("4e8d2a17-93c6-4b05-a1f8-6c3e9d0b2a54"), babbageToken, list, "Mcp-Session-Id", sid); got.status != 404 {
		t.Errorf("session used on another agent = %d, want 404", got.status)
	}

	s.ExpireSessions()
	got = rpc(t, s, list, "Mcp-Session-Id", sid)
	if got.status != 404 {
		t.Fatalf("request on an expired session = %d, want 404", got.status)
	}
	wantJSON(t, "expired session", got.body, `{"jsonrpc":"2.0","id":2,"error":{"code":-32001,"message":"Session not found; send initialize to start a new session"}}`)

	sid2 := rpc(t, s, init).header.Get("Mcp-Session-Id")
	if sid2 == "" || sid2 == sid {
		t.Fatalf("second session id = %q, want a new one", sid2)
	}
	if got := do(t, "DELETE", s.AgentURL(in.AgentUUID), in.Token, "", "Mcp-Session-Id", sid2); got.status != 204 {
		t.Errorf("DELETE session = %d, want 204", got.status)
	}
	if got := rpc(t, s, list, "Mcp-Session-Id", sid2); got.status != 404 {
		t.Errorf("request on a deleted session = %d, want 404", got.status)
	}
}

func TestDeleteWithoutSessions(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	got := do(t, "DELETE", s.AgentURL(in.AgentUUID), in.Token, "")
	if got.status != 405 || got.header.Get("Allow") != "GET, POST" {
		t.Errorf("DELETE without sessions = %d Allow %q, want 405 Allow GET, POST", got.status, got.header.Get("Allow"))
	}
}

func TestSessionsWithSSEInitialize(t *testing.T) {
	s := startServer(t, &Options{Sessions: true, SSE: true})
	in := s.Info()
	st := openSSE(t, t.Context(), "POST", s.AgentURL(in.AgentUUID), in.Token,
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}`)
	defer st.close()
	if sid := st.resp.Header.Get("Mcp-Session-Id"); sid == "" {
		t.Error("initialize answered over SSE has no Mcp-Session-Id header")
	}
	events, _ := st.all(t)
	if len(events) != 1 || !strings.Contains(events[0].data, `"protocolVersion":"2025-11-25"`) {
		t.Errorf("events = %v, want the initialize result", events)
	}
}

func TestPlainMode(t *testing.T) {
	s := startServer(t, &Options{Plain: true})
	got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`)
	wantJSON(t, "plain initialize", got.body, `{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found: initialize"}}`)
	if got := rpc(t, s, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`); got.status != 200 || field(t, got.body, "result.tools") == nil {
		t.Errorf("tools/list in plain mode = %d %s", got.status, got.body)
	}
}

func TestGETStream(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st := openSSE(t, ctx, "GET", s.AgentURL(in.AgentUUID), in.Token, "", "Accept", "text/event-stream")
	defer st.close()
	if st.resp.StatusCode != 200 || st.resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET stream = %d %q, want 200 text/event-stream", st.resp.StatusCode, st.resp.Header.Get("Content-Type"))
	}
	msg := `{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`
	deadline := time.Now().Add(5 * time.Second)
	for s.Notify(in.AgentUUID, []byte(msg)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the GET stream never registered")
		}
		time.Sleep(time.Millisecond)
	}
	if n := s.Notify(in.OtherAgentUUID, []byte(msg)); n != 0 {
		t.Errorf("Notify(other agent) reached %d streams, want 0", n)
	}
	ev, err := st.next()
	if err != nil || ev.data != msg {
		t.Errorf("GET stream event = %+v (%v), want %s", ev, err, msg)
	}
}

func TestGETStreamEndsOnClose(t *testing.T) {
	s := NewServer(nil)
	in := s.Info()
	st := openSSE(t, t.Context(), "GET", s.AgentURL(in.AgentUUID), in.Token, "", "Accept", "text/event-stream")
	defer st.close()
	done := make(chan struct{})
	go func() {
		s.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return while a GET stream was open")
	}
	if _, err := st.all(t); err != nil {
		t.Logf("stream ended with %v", err)
	}
}

func TestGETStreamEndsWithSession(t *testing.T) {
	s := startServer(t, &Options{Sessions: true})
	in := s.Info()
	sid := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`).header.Get("Mcp-Session-Id")
	if got := do(t, "GET", s.AgentURL(in.AgentUUID), in.Token, "", "Accept", "text/event-stream"); got.status != 400 {
		t.Errorf("GET stream without a session = %d, want 400", got.status)
	}
	st := openSSE(t, t.Context(), "GET", s.AgentURL(in.AgentUUID), in.Token, "", "Accept", "text/event-stream", "Mcp-Session-Id", sid)
	defer st.close()
	if st.resp.StatusCode != 200 {
		t.Fatalf("GET stream with a session = %d", st.resp.StatusCode)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Notify(in.AgentUUID, []byte(`{"jsonrpc":"2.0","method":"notifications/x"}`)) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s.ExpireSessions()
	events, err := st.all(t)
	if err != nil || len(events) > 1 {
		t.Errorf("stream after ExpireSessions: %d events, %v; want it to end cleanly", len(events), err)
	}
}

func TestNoGETStream(t *testing.T) {
	s := startServer(t, &Options{NoGETStream: true})
	in := s.Info()
	got := do(t, "GET", s.AgentURL(in.AgentUUID), in.Token, "", "Accept", "text/event-stream")
	if got.status != 405 {
		t.Errorf("GET stream when disabled = %d, want 405", got.status)
	}
	if got := do(t, "GET", s.AgentURL(in.AgentUUID), in.Token, ""); got.status != 200 {
		t.Errorf("GET listing when streams are disabled = %d, want 200", got.status)
	}
}

func TestServerRequestOnSSE(t *testing.T) {
	tests := []struct {
		name, method, answer, wantError string
	}{
		{"ping-answered", "ping", `{"jsonrpc":"2.0","id":"mock-1","result":{}}`, ""},
		{"sampling-answered", "sampling/createMessage", `{"jsonrpc":"2.0","id":"mock-1","result":{"role":"assistant","content":{"type":"text","text":"hi"},"model":"m"}}`, ""},
		{"sampling-without-model", "sampling/createMessage", `{"jsonrpc":"2.0","id":"mock-1","result":{"role":"assistant","content":{"type":"text","text":"hi"}}}`, `without \"model\"`},
		{"ping-error", "ping", `{"jsonrpc":"2.0","id":"mock-1","error":{"code":-1,"message":"no"}}`, "answered with an error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, nil)
			in := s.Info()
			s.AddFault(Fault{Method: "tools/call", ServerRequest: tt.method, Count: 1})
			st := openSSE(t, t.Context(), "POST", s.AgentURL(in.AgentUUID), in.Token,
				`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"ping"}}}`)
			defer st.close()
			ev, err := st.next()
			if err != nil {
				t.Fatal(err)
			}
			if got := field(t, ev.data, "method"); got != tt.method {
				t.Fatalf("first event = %s, want a %s request", ev.data, tt.method)
			}
			if got := rpc(t, s, tt.answer); got.status != 202 {
				t.Errorf("posting the answer = %d, want 202", got.status)
			}
			ev, err = st.next()
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantError == "" {
				wantJSON(t, "response", ev.data, `{"jsonrpc":"2.0","id":9,"result":{"content":[{"type":"text","text":"pong"}]}}`)
			} else if !strings.Contains(ev.data, tt.wantError) || !strings.Contains(ev.data, "-32603") {
				t.Errorf("response = %s, want a -32603 error containing %s", ev.data, tt.wantError)
			}
			// The end of the stream comes after the handler, and so the
			// request log entry, is done.
			st.all(t)
			var note string
			for _, r := range s.Requests() {
				if r.Method == "tools/call" {
					note = r.Note
				}
			}
			if !strings.Contains(note, "server request "+tt.method) {
				t.Errorf("request log note = %q, want the server request's outcome", note)
			}
		})
	}
}

func TestProgressFault(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	s.AddFault(Fault{Method: "tools/call", Progress: 2})
	st := openSSE(t, t.Context(), "POST", s.AgentURL(in.AgentUUID), in.Token,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":"p1"},"name":"prompt_agent","arguments":{"message":"ping"}}}`)
	defer st.close()
	events, err := st.all(t)
	if err != nil || len(events) != 3 {
		t.Fatalf("events = %v (%v), want 2 progress and the response", events, err)
	}
	for i, ev := range events[:2] {
		wantJSON(t, "progress", ev.data, fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"p1","progress":%d,"total":2}}`, i+1))
	}
	if field(t, events[2].data, "id") == nil || field(t, events[2].data, "result") == nil {
		t.Errorf("last event = %s, want the response", events[2].data)
	}
}

// TestGETStreamFreesItsSlot checks that an open GET stream does not hold a
// place under the token's concurrency limit: with a limit of one, a POST
// still succeeds while the stream stays open.
func TestGETStreamFreesItsSlot(t *testing.T) {
	s := startServer(t, &Options{Limits: Limits{Concurrent: 1}})
	in := s.Info()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st := openSSE(t, ctx, "GET", s.AgentURL(in.AgentUUID), in.Token, "", "Accept", "text/event-stream")
	defer st.close()
	if st.resp.StatusCode != 200 {
		t.Fatalf("GET stream = %d, want 200", st.resp.StatusCode)
	}
	if got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); got.status != 200 {
		t.Errorf("ping with a GET stream open and a concurrency limit of 1 = %d %s, want 200", got.status, got.body)
	}
}
