package mockserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// startServer starts a server for one test and closes it at cleanup.
func startServer(tb testing.TB, opts *Options) *Server {
	tb.Helper()
	s := NewServer(opts)
	tb.Cleanup(s.Close)
	return s
}

// reply is an HTTP reply read in full.
type reply struct {
	status int
	header http.Header
	body   string
}

// do sends one request with the given token ("" for none) and JSON body.
func do(tb testing.TB, method, url, token, body string, header ...string) reply {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(tb.Context(), method, url, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return reply{resp.StatusCode, resp.Header, string(b)}
}

// decode parses a JSON body into a generic value for cmp.Diff.
func decode(tb testing.TB, body string) any {
	tb.Helper()
	var v any
	d := json.NewDecoder(bytes.NewReader([]byte(body)))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		tb.Fatalf("decoding %q: %v", body, err)
	}
	return v
}

func TestSmokeToolsList(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	got := do(t, "POST", s.AgentURL(in.AgentUUID), in.Token, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if got.status != 200 {
		t.Fatalf("status = %d, want 200: %s", got.status, got.body)
	}
	if !strings.Contains(got.body, `"name":"prompt_agent"`) {
		t.Errorf("body = %s, want prompt_agent", got.body)
	}
	got = do(t, "POST", s.AgentURL(in.AgentUUID), "", `{}`)
	if diff := cmp.Diff(bodyUnauthorized, got.body); diff != "" || got.status != 401 {
		t.Errorf("no token: status %d, body (-want +got):\n%s", got.status, diff)
	}
	got = do(t, "POST", s.AgentURL(in.OtherAgentUUID), in.Token, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if got.status != 404 || got.body != bodyAgentNotFound {
		t.Errorf("other agent: %d %s", got.status, got.body)
	}
	t.Log(do(t, "POST", s.AgentURL(in.AgentUUID), in.Token, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":5}}}`).body)
	t.Log(do(t, "POST", s.AgentURL(in.AgentUUID), in.Token, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"update_memory","arguments":{"content":"x"}}}`).body)
	t.Log(do(t, "POST", s.AgentURL(in.AgentUUID), in.Token, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"hi"}}}`).body)
	t.Log(do(t, "POST", s.AgentURL(in.AgentUUID), in.Token, `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"mcp://agent/`+in.AgentUUID+`/info"}}`).body)
	t.Log(do(t, "GET", s.AgentURL(in.AgentUUID), in.Token, ``).body)
	t.Log(do(t, "POST", s.AgentURL(in.AgentUUID), in.Token, `{"jsonrpc":"2.0","method":"tools/list"}`).body)
}
