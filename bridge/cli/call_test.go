package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/bridge/credentials"
)

func TestAgents(t *testing.T) {
	h := newHarness(t)
	h.login()
	stdout, _ := h.mustRun(exitOK, "", "agents", "--mock-url", h.mock.URL)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "UUID") {
		t.Fatalf("agents table:\n%s", stdout)
	}
	for _, want := range []string{h.info.AgentUUID, "Ada", "Babbage", "team-northwind", "Research assistant for the Northwind team"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("agents table lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "Grace") {
		t.Errorf("agents lists an agent of another team:\n%s", stdout)
	}

	stdout, _ = h.mustRun(exitOK, "", "agents", "--json", "--mock-url", h.mock.URL)
	var reply struct {
		Agents []agentInfo `json:"agents"`
	}
	if err := json.Unmarshal([]byte(stdout), &reply); err != nil || len(reply.Agents) != 2 {
		t.Errorf("agents --json = %v, %s", err, stdout)
	}
}

func TestAgentsWithoutToken(t *testing.T) {
	h := newHarness(t)
	_, stderr := h.mustRun(exitUsage, "", "agents", "--mock-url", h.mock.URL)
	if !strings.Contains(stderr, "joai-bridge login --agent UUID") {
		t.Errorf("stderr:\n%s", stderr)
	}
	h.env["JOAI_API_TOKEN"] = h.info.RevokedToken
	_, stderr = h.mustRun(exitFailed, "", "agents", "--mock-url", h.mock.URL)
	if !strings.Contains(stderr, "HTTP 401") || !strings.Contains(stderr, "revoked or rotated") {
		t.Errorf("stderr with a revoked token:\n%s", stderr)
	}
}

func TestCall(t *testing.T) {
	h := newHarness(t)
	h.login()
	stdout, _ := h.mustRun(exitOK, "", "call", "--mock-url", h.mock.URL, "prompt_agent", "message=Hello from API!")
	if got, want := stdout, "Hello! I am Ada, the Northwind research assistant. How can I help?\n"; got != want {
		t.Errorf("call prompt_agent printed %q, want %q", got, want)
	}

	stdout, _ = h.mustRun(exitOK, "", "call", "--mock-url", h.mock.URL, "create_memory", "content=likes tea", "--json")
	var result struct {
		Content []map[string]any `json:"content"`
	}
	if err := json.Unmarshal([]byte(stdout), &result); err != nil || len(result.Content) == 0 {
		t.Errorf("call --json = %v, %s", err, stdout)
	}

	stdout, _ = h.mustRun(exitOK, "", "read", "--mock-url", h.mock.URL, "memories")
	if !strings.Contains(stdout, "likes tea") {
		t.Errorf("read memories lacks the new memory:\n%s", stdout)
	}
	stdout, _ = h.mustRun(exitOK, "", "read", "--json", "--mock-url", h.mock.URL, "mcp://agent/"+h.info.AgentUUID+"/info")
	if !strings.Contains(stdout, `"contents"`) || !strings.Contains(stdout, "Research assistant") {
		t.Errorf("read --json info:\n%s", stdout)
	}
}

func TestCallRejects(t *testing.T) {
	h := newHarness(t)
	h.login()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no-tool", nil, exitUsage, "no tool named"},
		{"unknown-tool", []string{"delete_agent"}, exitUsage, `no tool "delete_agent": it has prompt_agent, create_memory, update_memory`},
		{"not-key-value", []string{"prompt_agent", "hello"}, exitUsage, `argument "hello" is not key=value`},
		{"bad-json", []string{"prompt_agent", "message:=hello"}, exitUsage, "is not valid JSON"},
		{"duplicate", []string{"prompt_agent", "message=a", "message=b"}, exitUsage, "given twice"},
		{"invalid-arguments", []string{"prompt_agent", "text=hi"}, exitFailed, "JSON-RPC error -32602"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr := h.mustRun(tt.code, "", append([]string{"call", "--mock-url", h.mock.URL}, tt.args...)...)
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr)
			}
		})
	}
}

func TestToolArgumentsFollowSchema(t *testing.T) {
	props := map[string]json.RawMessage{
		"n": json.RawMessage(`{"type": "integer"}`), "f": json.RawMessage(`{"type": "number"}`),
		"b": json.RawMessage(`{"type": "boolean"}`), "s": json.RawMessage(`{"type": "string"}`),
	}
	got, err := toolArguments([]string{"n=42", "f=1.5", "b=true", "s=42", "x=free text", "o:={\"k\": [1]}", "bad=oops", "n2:=7"}, props)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"n": `42`, "f": `1.5`, "b": `true`, "s": `"42"`, "x": `"free text"`, "o": `{"k": [1]}`, "bad": `"oops"`, "n2": `7`}
	gotText := map[string]string{}
	for k, v := range got {
		gotText[k] = string(v)
	}
	if diff := cmp.Diff(want, gotText); diff != "" {
		t.Errorf("toolArguments (-want +got):\n%s", diff)
	}
}

// TestTokenRotationAfter401 rotates the token in the file between two
// requests of one client: the second request gets 401 with the revoked
// token, reads the file again and succeeds with the new one.
func TestTokenRotationAfter401(t *testing.T) {
	h := newHarness(t)
	oldID, oldToken := h.createToken("before rotation")
	path := filepath.Join(h.home, "joai.token")
	if err := os.WriteFile(path, []byte(oldToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	chain := credentials.NewChain(bridge.FileToken{Path: path})
	tok, err := chain.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	client, _ := newHTTPClient("")
	rc := &rpcClient{http: client, url: h.mock.AgentURL(h.info.AgentUUID), token: tok, source: chain}
	if _, err := rc.request(t.Context(), "tools/list", nil); err != nil {
		t.Fatalf("first request: %v", err)
	}

	newID, newToken := h.createToken("after rotation")
	h.revokeToken(oldID)
	if err := os.WriteFile(path, []byte(newToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.mock.ClearRequests()
	if _, err := rc.request(t.Context(), "tools/list", nil); err != nil {
		t.Fatalf("request after rotation: %v", err)
	}
	var statuses []int
	for _, r := range h.mock.Requests() {
		statuses = append(statuses, r.Status)
	}
	if diff := cmp.Diff([]int{401, 200}, statuses); diff != "" {
		t.Errorf("statuses after rotation (-want +got):\n%s", diff)
	}
	if rc.token != newToken {
		t.Errorf("the client did not switch to the rotated token")
	}

	// Without a new token in the file, the 401 is the answer: one retry
	// only when the token changed, none with the same one.
	h.revokeToken(newID)
	h.mock.ClearRequests()
	if _, err := rc.request(t.Context(), "tools/list", nil); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("request with a revoked token and nothing new = %v, want the 401", err)
	}
	if n := len(h.mock.Requests()); n != 1 {
		t.Errorf("%d requests sent with an unchanged token, want 1", n)
	}
}

func TestCallErrorHints(t *testing.T) {
	const networkHint = "that this machine can reach it"
	h := newHarness(t)
	h.login()

	// The service answered these with JSON-RPC errors, so the network is
	// not the problem.
	_, stderr := h.mustRun(exitFailed, "", "call", "--mock-url", h.mock.URL, "prompt_agent")
	if !strings.Contains(stderr, "-32602") || strings.Contains(stderr, networkHint) {
		t.Errorf("call without the required argument: stderr = %q, want -32602 without the network hint", stderr)
	}
	_, stderr = h.mustRun(exitFailed, "", "read", "--mock-url", h.mock.URL, "nope")
	if !strings.Contains(stderr, "-32002") || strings.Contains(stderr, networkHint) {
		t.Errorf("read of an unknown resource: stderr = %q, want -32002 without the network hint", stderr)
	}

	// A server that drops every connection is a transport failure.
	drop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(drop.Close)
	h.env["JOAI_API_TOKEN"] = h.info.Token
	_, stderr = h.mustRun(exitFailed, "", "call", "--mock-url", drop.URL, "--agent", h.info.AgentUUID, "prompt_agent", "message=hi")
	if !strings.Contains(stderr, networkHint) {
		t.Errorf("call to a server that drops the connection: stderr = %q, want the network hint", stderr)
	}
}
