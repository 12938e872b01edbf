package mockserver

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestUnauthorized(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	tests := []struct {
		name, authorization string
	}{
		{"missing-header", ""},
		{"wrong-scheme", "Basic " + in.Token},
		{"empty-bearer", "Bearer "},
		{"scheme-only", "Bearer"},
		{"unknown-token", "Bearer joai_mock_unknown_0000000000000000"},
		{"revoked-token", "Bearer " + in.RevokedToken},
		{"token-with-extra-characters", "Bearer " + in.Token + "x"},
	}
	endpoints := []struct{ name, method, url, body string }{
		{"post-agent", "POST", s.AgentURL(in.AgentUUID), `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`},
		{"get-agent", "GET", s.AgentURL(in.AgentUUID), ""},
		{"post-mcp", "POST", s.URL + "/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`},
		{"get-agents", "GET", s.URL + "/api/agents", ""},
		{"get-tokens", "GET", s.URL + "/api/tokens", ""},
	}
	for _, tt := range tests {
		for _, ep := range endpoints {
			t.Run(tt.name+"-"+ep.name, func(t *testing.T) {
				var hdr []string
				if tt.authorization != "" {
					hdr = []string{"Authorization", tt.authorization}
				}
				got := do(t, ep.method, ep.url, "", ep.body, hdr...)
				if got.status != 401 {
					t.Errorf("status = %d, want 401", got.status)
				}
				if got.body != `{"error":"unauthorized","error_description":"Invalid or expired token"}` {
					t.Errorf("body = %s, want the documented 401 body", got.body)
				}
				if v := got.header.Get("WWW-Authenticate"); v != "Bearer" {
					t.Errorf("WWW-Authenticate = %q, want Bearer", v)
				}
				if v := got.header.Get("Content-Type"); v != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", v)
				}
			})
		}
	}
}

func TestMissingContext(t *testing.T) {
	s := startServer(t, nil)
	got := do(t, "POST", s.URL+"/mcp", s.Info().Token, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if got.status != 400 || got.header.Get("Content-Type") != "application/json" {
		t.Errorf("POST /mcp = %d %q, want 400 application/json", got.status, got.header.Get("Content-Type"))
	}
	if got.body != `{"error":"missing_context","error_description":"API tokens require explicit agent selection"}` {
		t.Errorf("body = %s, want the documented missing_context body", got.body)
	}
}

func TestAgentNotFound(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	babbage := "4e8d2a17-93c6-4b05-a1f8-6c3e9d0b2a54"
	tests := []struct {
		name, token, agent string
	}{
		{"other-team-agent", in.Token, in.OtherAgentUUID},
		{"other-team-token", in.OtherTeamToken, in.AgentUUID},
		{"same-team-other-agent", in.Token, babbage},
		{"unknown-agent", in.Token, "00000000-0000-4000-8000-000000000000"},
		{"agent-uuid-placeholder", in.Token, "agent-uuid"},
	}
	for _, tt := range tests {
		for _, method := range []string{"POST", "GET", "DELETE"} {
			t.Run(tt.name+"-"+strings.ToLower(method), func(t *testing.T) {
				got := do(t, method, s.AgentURL(tt.agent), tt.token, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
				if got.status != 404 || got.header.Get("Content-Type") != "application/json" {
					t.Errorf("status = %d %q, want 404 application/json", got.status, got.header.Get("Content-Type"))
				}
				if got.body != `{"error":"not_found","error_description":"Agent not found"}` {
					t.Errorf("body = %s, want the documented not_found body", got.body)
				}
			})
		}
	}
}

func TestRateLimitedReply(t *testing.T) {
	s := startServer(t, &Options{Limits: Limits{RequestsPerMinute: 1, Burst: -1, Window: 10 * 60e9}})
	rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	got := rpc(t, s, `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	if got.status != 429 || got.header.Get("Content-Type") != "application/json" {
		t.Fatalf("status = %d %q, want 429 application/json", got.status, got.header.Get("Content-Type"))
	}
	if got.body != `{"error":"rate_limited","error_description":"Rate limit exceeded"}` {
		t.Errorf("body = %s", got.body)
	}
	ra, err := strconv.Atoi(got.header.Get("Retry-After"))
	if err != nil || ra < 590 || ra > 600 {
		t.Errorf("Retry-After = %q, want an integer near 600 (a 10-minute window, one request)", got.header.Get("Retry-After"))
	}
}

func TestBodyTooLarge(t *testing.T) {
	s := startServer(t, &Options{MaxBodyBytes: 64})
	got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"`+strings.Repeat("x", 100)+`"}}}`)
	if got.status != 413 {
		t.Errorf("status = %d, want 413", got.status)
	}
	if got.body != `{"error":"payload_too_large","error_description":"Request body exceeds 64 bytes"}` {
		t.Errorf("body = %s", got.body)
	}
	if ok := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); ok.status != 200 {
		t.Errorf("a small request after the 413 = %d, want 200", ok.status)
	}
}

func TestJSONRPCErrors(t *testing.T) {
	s := startServer(t, nil)
	uuid := s.Info().AgentUUID
	tests := []struct {
		name      string
		body      string
		status    int
		code      int
		id        string // raw JSON
		message   string // a substring of error.message
		dataField string // error.data.field, if any
		dataURI   string // error.data.uri, if any
	}{
		{"empty-body", ``, 400, -32700, "null", "empty", "", ""},
		{"not-json", `{"jsonrpc":`, 400, -32700, "null", "not valid JSON", "", ""},
		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, 400, -32600, "null", "batch", "", ""},
		{"empty-batch", `[]`, 400, -32600, "null", "batch", "", ""},
		{"not-an-object", `"ping"`, 400, -32600, "null", "object", "", ""},
		{"wrong-version", `{"jsonrpc":"1.0","id":1,"method":"ping"}`, 400, -32600, "1", `"2.0"`, "", ""},
		{"missing-version", `{"id":1,"method":"ping"}`, 400, -32600, "1", `"2.0"`, "", ""},
		{"null-id", `{"jsonrpc":"2.0","id":null,"method":"ping"}`, 400, -32600, "null", "id", "", ""},
		{"object-id", `{"jsonrpc":"2.0","id":{},"method":"ping"}`, 400, -32600, "null", "id", "", ""},
		{"method-not-string", `{"jsonrpc":"2.0","id":1,"method":5}`, 400, -32600, "1", "method", "", ""},
		{"no-method", `{"jsonrpc":"2.0","id":1}`, 400, -32600, "1", "method", "", ""},
		{"params-scalar", `{"jsonrpc":"2.0","id":1,"method":"ping","params":3}`, 400, -32600, "1", "params", "", ""},
		{"unknown-method", `{"jsonrpc":"2.0","id":1,"method":"prompts/list"}`, 200, -32601, "1", "prompts/list", "", ""},
		{"params-array", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["prompt_agent"]}`, 200, -32602, "1", "object", "", ""},
		{"call-without-name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`, 200, -32602, "1", "name", "", ""},
		{"call-name-not-string", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":1}}`, 200, -32602, "1", `"name"`, "", ""},
		{"unknown-tool", `{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"delete_agent"}}`, 200, -32602, `"a"`, "delete_agent", "", ""},
		{"missing-message", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":{}}}`, 200, -32602, "1", `argument "message" is required`, "message", ""},
		{"no-arguments", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_memory"}}`, 200, -32602, "1", `argument "content" is required`, "content", ""},
		{"message-not-string", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":42}}}`, 200, -32602, "1", `argument "message" must be of type string`, "message", ""},
		{"missing-memory-id", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"update_memory","arguments":{"content":"x"}}}`, 200, -32602, "1", `argument "memoryId" is required`, "memoryId", ""},
		{"arguments-not-object", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":"hi"}}`, 200, -32602, "1", "must be an object", "", ""},
		{"read-without-uri", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{}}`, 200, -32602, "1", "uri", "", ""},
		{"unknown-uri", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"mcp://agent/` + uuid + `/secrets"}}`, 200, -32002, "1", "mcp://agent/" + uuid + "/secrets", "", "mcp://agent/" + uuid + "/secrets"},
		{"other-agents-uri", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"mcp://agent/c7a41e92-5f3b-4d86-b0e7-1d9a6c2f8e35/info"}}`, 200, -32002, "1", "c7a41e92", "", "mcp://agent/c7a41e92-5f3b-4d86-b0e7-1d9a6c2f8e35/info"},
		{"initialize-without-version", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`, 200, -32602, "1", "protocolVersion", "", ""},
		{"string-id-kept", `{"jsonrpc":"2.0","id":"req-7","method":"nope"}`, 200, -32601, `"req-7"`, "nope", "", ""},
		{"float-id-kept", `{"jsonrpc":"2.0","id":1.50,"method":"nope"}`, 200, -32601, `1.50`, "nope", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rpc(t, s, tt.body)
			if got.status != tt.status {
				t.Errorf("status = %d, want %d", got.status, tt.status)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if !strings.HasPrefix(got.body, `{"jsonrpc":"2.0","id":`+tt.id+`,"error":`) {
				t.Errorf("body = %s, want a JSON-RPC error with id %s", got.body, tt.id)
			}
			if code := fmt.Sprint(field(t, got.body, "error.code")); code != strconv.Itoa(tt.code) {
				t.Errorf("error.code = %s, want %d", code, tt.code)
			}
			if msg, _ := field(t, got.body, "error.message").(string); !strings.Contains(msg, tt.message) {
				t.Errorf("error.message = %q, want it to contain %q", msg, tt.message)
			}
			if tt.dataField != "" {
				if f := field(t, got.body, "error.data.field"); f != tt.dataField {
					t.Errorf("error.data.field = %v, want %q", f, tt.dataField)
				}
			}
			if tt.dataURI != "" {
				if u := field(t, got.body, "error.data.uri"); u != tt.dataURI {
					t.Errorf("error.data.uri = %v, want %q", u, tt.dataURI)
				}
			}
		})
	}
}

func TestProtocolVersionHeader(t *testing.T) {
	s := startServer(t, nil)
	for _, v := range []string{"2025-03-26", "2025-06-18", "2025-11-25"} {
		if got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "MCP-Protocol-Version", v); got.status != 200 {
			t.Errorf("MCP-Protocol-Version %s: status %d, want 200", v, got.status)
		}
	}
	got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "MCP-Protocol-Version", "1999-01-01")
	if got.status != 400 || fmt.Sprint(field(t, got.body, "error.code")) != "-32600" {
		t.Errorf("unsupported MCP-Protocol-Version = %d %s, want 400 with -32600", got.status, got.body)
	}
}

func TestOriginCheck(t *testing.T) {
	s := startServer(t, nil)
	tests := []struct {
		origin string
		status int
	}{
		{"http://localhost:6274", 200},
		{"http://127.0.0.1:3000", 200},
		{"http://[::1]:3000", 200},
		{"https://evil.invalid", 403},
		{"null", 403},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "Origin", tt.origin)
			if got.status != tt.status {
				t.Errorf("Origin %s: status %d, want %d: %s", tt.origin, got.status, tt.status, got.body)
			}
		})
	}
}

func TestUnknownEndpointsAndMethods(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	tests := []struct {
		name, method, path string
		status             int
		allow              string
	}{
		{"put-agent", "PUT", "/mcp/agents/" + in.AgentUUID, 405, "GET, POST"},
		{"get-mcp", "GET", "/mcp", 405, "POST"},
		{"post-agents", "POST", "/api/agents", 405, "GET"},
		{"unknown-path", "GET", "/nowhere", 404, ""},
		{"below-agent", "POST", "/mcp/agents/" + in.AgentUUID + "/extra", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, tt.method, s.URL+tt.path, in.Token, "")
			if got.status != tt.status || got.header.Get("Allow") != tt.allow {
				t.Errorf("%s %s = %d Allow %q, want %d Allow %q", tt.method, tt.path, got.status, got.header.Get("Allow"), tt.status, tt.allow)
			}
			if got.header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got.header.Get("Content-Type"))
			}
		})
	}
}

func TestAgentAllowMatchesOptions(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		method string
		accept string
		allow  string
	}{
		{"put-without-sessions", Options{}, "PUT", "", "GET, POST"},
		{"delete-without-sessions", Options{}, "DELETE", "", "GET, POST"},
		{"put-with-sessions", Options{Sessions: true}, "PUT", "", "GET, POST, DELETE"},
		{"stream-disabled", Options{NoGETStream: true}, "GET", "text/event-stream", "POST"},
		{"stream-disabled-with-sessions", Options{NoGETStream: true, Sessions: true}, "GET", "text/event-stream", "POST, DELETE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, &tt.opts)
			in := s.Info()
			got := do(t, tt.method, s.AgentURL(in.AgentUUID), in.Token, "", "Accept", tt.accept)
			if got.status != 405 {
				t.Errorf("%s status = %d, want 405", tt.method, got.status)
			}
			if a := got.header.Get("Allow"); a != tt.allow {
				t.Errorf("%s Allow = %q, want %q", tt.method, a, tt.allow)
			}
		})
	}
}

func TestAgentUUIDAnyCase(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	for _, uuid := range []string{strings.ToUpper(in.AgentUUID), in.AgentUUID} {
		got := do(t, "POST", s.URL+"/mcp/agents/"+uuid, in.Token, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
		if got.status != 200 {
			t.Errorf("ping at agent %s = %d %s, want 200", uuid, got.status, got.body)
		}
	}
	if in.OtherAgentUUID == "" {
		t.Fatal("the default seed has no agent of another team")
	}
	got := do(t, "POST", s.URL+"/mcp/agents/"+strings.ToUpper(in.OtherAgentUUID), in.Token, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	if got.status != 404 {
		t.Errorf("ping at the other team's agent in upper case = %d, want 404", got.status)
	}
}
