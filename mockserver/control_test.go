package mockserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestControlFaults(t *testing.T) {
	s := startServer(t, nil)
	got := do(t, "POST", s.URL+"/_mock/faults", "", `{"method":"tools/list","status":503,"count":1,"latency":"10ms"}`)
	if got.status != 201 {
		t.Fatalf("POST /_mock/faults = %d %s", got.status, got.body)
	}
	wantJSON(t, "faults", do(t, "GET", s.URL+"/_mock/faults", "", "").body,
		`{"faults":[{"method":"tools/list","count":1,"status":503,"latency":"10ms"}]}`)
	if got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`); got.status != 503 {
		t.Errorf("tools/list under the fault = %d, want 503", got.status)
	}
	do(t, "POST", s.URL+"/_mock/faults", "", `{"status":500}`)
	if got := do(t, "DELETE", s.URL+"/_mock/faults", "", ""); got.status != 200 {
		t.Errorf("DELETE /_mock/faults = %d", got.status)
	}
	if got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`); got.status != 200 {
		t.Errorf("tools/list after clearing = %d, want 200", got.status)
	}
	for _, body := range []string{`{"status":42}`, `{"drop":"maybe"}`, `{"stauts":500}`, `not json`} {
		if got := do(t, "POST", s.URL+"/_mock/faults", "", body); got.status != 400 || field(t, got.body, "error") != "invalid_request" {
			t.Errorf("POST /_mock/faults %s = %d %s, want 400 invalid_request", body, got.status, got.body)
		}
	}
}

func TestControlRequests(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	rpc(t, s, `{"jsonrpc":"2.0","id":"a-1","method":"tools/list"}`, "Mcp-Protocol-Version", "2025-06-18")
	rpc(t, s, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	got := do(t, "GET", s.URL+"/_mock/requests", "", "")
	if strings.Contains(got.body, in.Token) {
		t.Fatal("the request log contains the token")
	}
	var log struct {
		Requests []Received `json:"requests"`
	}
	if err := json.Unmarshal([]byte(got.body), &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Requests) != 2 {
		t.Fatalf("requests = %d, want 2 (control requests are not logged)", len(log.Requests))
	}
	first := log.Requests[0]
	if first.Method != "tools/list" || first.ID != `"a-1"` || first.HTTPMethod != "POST" || first.Status != 200 {
		t.Errorf("first request = %+v", first)
	}
	if v := first.Header.Get("Authorization"); v != "Bearer …c3e1" {
		t.Errorf("logged Authorization = %q, want Bearer …c3e1", v)
	}
	if v := first.Header.Get("Mcp-Protocol-Version"); v != "2025-06-18" {
		t.Errorf("logged MCP-Protocol-Version = %q", v)
	}
	if second := log.Requests[1]; second.Method != "notifications/initialized" || second.ID != "" || second.Status != 202 {
		t.Errorf("second request = %+v", second)
	}
	do(t, "DELETE", s.URL+"/_mock/requests", "", "")
	if n := len(s.Requests()); n != 0 {
		t.Errorf("requests after DELETE = %d, want 0", n)
	}
}

func TestRequestLogIsBounded(t *testing.T) {
	var l requestLog
	l.init(3)
	for i := range 5 {
		l.add(Received{Status: i})
	}
	got := l.all()
	if len(got) != 3 || got[0].Status != 2 || got[2].Status != 4 {
		t.Errorf("ring = %+v, want the last three in order", got)
	}
}

func TestControlResetAndSessions(t *testing.T) {
	s := startServer(t, &Options{Sessions: true})
	in := s.Info()
	sid := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`).header.Get("Mcp-Session-Id")
	rpc(t, s, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_memory","arguments":{"content":"temp"}}}`, "Mcp-Session-Id", sid)
	if got := do(t, "POST", s.URL+"/_mock/sessions/expire", "", ""); got.status != 200 {
		t.Fatalf("POST /_mock/sessions/expire = %d", got.status)
	}
	if got := rpc(t, s, `{"jsonrpc":"2.0","id":3,"method":"ping"}`, "Mcp-Session-Id", sid); got.status != 404 {
		t.Errorf("request on the expired session = %d, want 404", got.status)
	}
	if got := do(t, "POST", s.URL+"/_mock/reset", "", ""); got.status != 200 {
		t.Fatalf("POST /_mock/reset = %d", got.status)
	}
	sid = rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`).header.Get("Mcp-Session-Id")
	got := do(t, "POST", s.AgentURL(in.AgentUUID), in.Token,
		`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"mcp://agent/`+in.AgentUUID+`/memories"}}`, "Mcp-Session-Id", sid)
	if strings.Contains(got.body, "temp") {
		t.Errorf("memories after reset still have the new one: %s", got.body)
	}
	if n := len(s.Requests()); n != 2 {
		t.Errorf("request log after reset has %d entries, want the 2 since", n)
	}
}

func TestControlLimitsInfoNotify(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	var info Info
	json.Unmarshal([]byte(do(t, "GET", s.URL+"/_mock/info", "", "").body), &info)
	if info != in {
		t.Errorf("GET /_mock/info = %+v, want %+v", info, in)
	}
	wantJSON(t, "limits", do(t, "GET", s.URL+"/_mock/limits", "", "").body,
		`{"requests_per_minute":600,"burst":60,"concurrent":16,"window":"1m0s"}`)
	got := do(t, "PUT", s.URL+"/_mock/limits", "", `{"requests_per_minute":1,"burst":-1,"window":"1h"}`)
	wantJSON(t, "new limits", got.body, `{"requests_per_minute":1,"burst":-1,"concurrent":16,"window":"1h0m0s"}`)
	rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	if got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); got.status != 429 {
		t.Errorf("second request under the new limits = %d, want 429", got.status)
	}
	if got := do(t, "PUT", s.URL+"/_mock/limits", "", `{"window":"-1s"}`); got.status != 400 {
		t.Errorf("negative window = %d, want 400", got.status)
	}

	got = do(t, "POST", s.URL+"/_mock/notify", "", `{"agent_uuid":"`+in.AgentUUID+`","message":{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}}`)
	if got.status != 200 || field(t, got.body, "streams") != json.Number("0") {
		t.Errorf("notify without streams = %d %s, want 200 streams 0", got.status, got.body)
	}
	if got := do(t, "POST", s.URL+"/_mock/notify", "", `{"agent_uuid":"x","message":{"method":"x"}}`); got.status != 400 {
		t.Errorf("notify with a non-JSON-RPC message = %d, want 400", got.status)
	}
	if got := do(t, "GET", s.URL+"/_mock/nothing", "", ""); got.status != 404 {
		t.Errorf("unknown control path = %d, want 404", got.status)
	}
}

func TestControlRejectsRemoteClients(t *testing.T) {
	// A proxy in front of the handler makes requests look as if they came
	// from another host, as they would on a server started with
	// --allow-remote.
	s := NewUnstartedServer(nil)
	defer s.Close()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = "192.0.2.7:40000"
		s.Handler().ServeHTTP(w, r)
	}))
	defer ts.Close()
	got := do(t, "POST", ts.URL+"/_mock/reset", "", "")
	if got.status != 403 || field(t, got.body, "error") != "forbidden" {
		t.Errorf("control API from a remote client = %d %s, want 403 forbidden", got.status, got.body)
	}
	in := s.Info()
	if got := do(t, "POST", ts.URL+"/mcp/agents/"+in.AgentUUID, in.Token, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); got.status != 200 {
		t.Errorf("agent endpoint from a remote client = %d, want 200", got.status)
	}
}

func TestHandleControl(t *testing.T) {
	s := startServer(t, nil)
	s.HandleControl("GET /_mock/extra", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("page"))
	}))
	if got := do(t, "GET", s.URL+"/_mock/extra", "", ""); got.body != "page" {
		t.Errorf("GET /_mock/extra = %d %q, want the added handler", got.status, got.body)
	}
	defer func() {
		if recover() == nil {
			t.Error("HandleControl outside /_mock/ did not panic")
		}
	}()
	s.HandleControl("GET /api/x", http.NotFoundHandler())
}

func TestEventsPublished(t *testing.T) {
	sink := &eventSink{}
	s := startServer(t, &Options{Sink: sink, Limits: Limits{RequestsPerMinute: 100, Burst: 10}})
	in := s.Info()
	rpc(t, s, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"`+in.Token+`"}}}`)
	do(t, "POST", s.AgentURL(in.AgentUUID), "", `{}`)
	deadline := time.Now().Add(5 * time.Second)
	for len(sink.all()) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	events := sink.all()
	if len(events) != 2 {
		t.Fatalf("events = %d, want 2", len(events))
	}
	ev := events[0]
	if ev.Source != "mock" || ev.Direction != "client→mock" || ev.Method != "tools/call" || ev.ID != "7" || ev.HTTPStatus != 200 {
		t.Errorf("event = %+v", ev)
	}
	if ev.Token != "…c3e1" {
		t.Errorf("event token = %q, want …c3e1", ev.Token)
	}
	if strings.Contains(string(ev.Request), in.Token) || strings.Contains(string(ev.Response), in.Token) {
		t.Error("the event carries the token in its request or response")
	}
	if !json.Valid(ev.Request) || !json.Valid(ev.Response) || ev.Size == 0 {
		t.Errorf("event request %s, response %s, size %d; want both JSON", ev.Request, ev.Response, ev.Size)
	}
	if rl := ev.RateLimit; rl == nil || rl.Limit != 11 || rl.Remaining != 10 || rl.MaxInFlight != 16 {
		t.Errorf("event rate limit = %+v, want limit 11 (burst 10 plus one), remaining 10, max in flight 16", rl)
	}
	if unauth := events[1]; unauth.HTTPStatus != 401 || unauth.RateLimit != nil || unauth.Token != "" {
		t.Errorf("401 event = %+v, want status 401 and no token or rate limit", unauth)
	}
}

func TestControlRejectsCrossSiteRequests(t *testing.T) {
	s := startServer(t, nil)
	tests := []struct {
		name, method, path, host, origin, contentType, body string
		want                                                int
	}{
		{"faults-from-evil-page", "POST", "/_mock/faults", "evil.example", "https://evil.example", "text/plain", `{"status":503}`, 403},
		{"reset-from-evil-page", "POST", "/_mock/reset", "evil.example", "https://evil.example", "text/plain", "", 403},
		{"info-rebound-host", "GET", "/_mock/info", "attacker.example", "", "", "", 403},
		{"info-loopback-host-evil-origin", "GET", "/_mock/info", "", "https://evil.example", "", "", 403},
		{"info-null-origin", "GET", "/_mock/info", "", "null", "", "", 403},
		{"faults-text-plain", "POST", "/_mock/faults", "", "", "text/plain", `{"status":503}`, 415},
		{"faults-form", "POST", "/_mock/faults", "", "", "application/x-www-form-urlencoded", `{"status":503}`, 415},
		{"reset-empty-form", "POST", "/_mock/reset", "", "", "application/x-www-form-urlencoded", "", 415},
		{"faults-no-content-type", "POST", "/_mock/faults", "", "", "", `{"status":503}`, 415},
		{"info-localhost", "GET", "/_mock/info", "localhost:1", "", "", "", 200},
		{"info-loopback-origin", "GET", "/_mock/info", "", "http://127.0.0.1:9", "", "", 200},
		{"reset-no-body", "POST", "/_mock/reset", "", "", "", "", 200},
		{"faults-json", "POST", "/_mock/faults", "", "http://localhost:8787", "application/json; charset=utf-8", `{"status":503,"count":1}`, 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, s.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d %s, want %d", resp.StatusCode, b, tt.want)
			}
		})
	}
	if faults := s.Faults(); len(faults) != 1 {
		t.Errorf("installed faults = %+v, want only the one from the loopback JSON request", faults)
	}
}
