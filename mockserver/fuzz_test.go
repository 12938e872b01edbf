package mockserver

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"
)

// FuzzHandleJSONRPC posts arbitrary bodies to the agent endpoint of a
// running server and checks that every reply is well formed: 202 with no
// body, or a JSON-RPC 2.0 response with exactly one of result and error,
// and that the server keeps replying.
func FuzzHandleJSONRPC(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"Hello from API!"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_memory","arguments":{"content":"x"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"update_memory","arguments":{"memoryId":"mem-0001","content":"y"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"update_memory","arguments":{"memoryId":7}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"resources/list"}`,
		`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"mcp://agent/9b2f6c1e-4d7a-4e3b-8c15-2a6f0d9e7b41/info"}}`,
		`{"jsonrpc":"2.0","id":"x","method":"initialize","params":{"protocolVersion":"2025-06-18"}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":"mock-1","result":{}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`,
		`{"jsonrpc":"2.0","id":null,"method":"ping"}`,
		`{"jsonrpc":"2.0","id":1.5e300,"method":"ping","params":[]}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"\ud800"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":{}},"name":null}}`,
		`{"jsonrpc":"2.0","jsonrpc":"1.0","id":1,"method":"ping"}`,
		`{"id":1,"method":"ping","params":{"a":[[[[[[[[[[]]]]]]]]]]}}`,
		"\xff\xfe{}",
		``,
		`null`,
		`{}`,
	} {
		f.Add([]byte(seed))
	}
	// testing.F may not log from inside the fuzz function, so the server's
	// warnings are discarded.
	s := startServer(f, &Options{
		Limits:       Limits{RequestsPerMinute: -1, Concurrent: -1},
		MaxBodyBytes: 1 << 16,
		Logger:       slog.New(slog.DiscardHandler),
	})
	in := s.Info()
	url := s.AgentURL(in.AgentUUID)
	client := &http.Client{Timeout: 10 * time.Second}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := http.NewRequest("POST", url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+in.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST %q: %v", body, err)
		}
		reply, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("POST %q: reading the reply: %v", body, err)
		}
		switch resp.StatusCode {
		case http.StatusAccepted:
			if len(reply) != 0 {
				t.Fatalf("POST %q: 202 with body %q", body, reply)
			}
			return
		case http.StatusRequestEntityTooLarge:
			return
		case http.StatusOK, http.StatusBadRequest:
		default:
			t.Fatalf("POST %q: status %d: %s", body, resp.StatusCode, reply)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("POST %q: Content-Type %q", body, ct)
		}
		checkResponse(t, body, reply, resp.StatusCode)
	})
}

// checkResponse checks that reply is one JSON-RPC 2.0 response.
func checkResponse(t *testing.T, body, reply []byte, status int) {
	t.Helper()
	var r struct {
		JSONRPC string          `json:"jsonrpc"`
		Result  json.RawMessage `json:"result"`
		Error   *struct {
			Code    *int    `json:"code"`
			Message *string `json:"message"`
		} `json:"error"`
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(reply, &members); err != nil {
		t.Fatalf("POST %q: reply %q is not a JSON object: %v", body, reply, err)
	}
	if err := json.Unmarshal(reply, &r); err != nil {
		t.Fatalf("POST %q: reply %q is not a JSON-RPC response: %v", body, reply, err)
	}
	if _, hasID := members["id"]; r.JSONRPC != "2.0" || !hasID {
		t.Fatalf("POST %q: reply %s lacks jsonrpc 2.0 or an id", body, reply)
	}
	if (r.Result == nil) == (r.Error == nil) {
		t.Fatalf("POST %q: reply %s must have exactly one of result and error", body, reply)
	}
	if r.Error != nil && (r.Error.Code == nil || r.Error.Message == nil) {
		t.Fatalf("POST %q: error reply %s lacks code or message", body, reply)
	}
	if status == http.StatusBadRequest && r.Error == nil {
		t.Fatalf("POST %q: 400 without a JSON-RPC error: %s", body, reply)
	}
}
