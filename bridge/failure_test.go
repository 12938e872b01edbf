package bridge_test

import (
	"context"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/mockserver"
)

func TestHTTPErrorsAnswered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		wantCode  int
		wantError string
		wantDesc  string
		wantText  string
	}{
		{name: "missing-context", status: 400, wantCode: bridge.CodeBadRequest, wantError: "missing_context", wantDesc: "API tokens require explicit agent selection", wantText: "--agent"},
		{name: "other-400", status: 400, body: `{"error":"invalid_request","error_description":"bad field"}`, wantCode: bridge.CodeBadRequest, wantError: "invalid_request", wantDesc: "bad field", wantText: "bad field"},
		{name: "unauthorized", status: 401, wantCode: bridge.CodeUnauthorized, wantError: "unauthorized", wantDesc: "Invalid or expired token", wantText: "the test token"},
		{name: "forbidden", status: 403, wantCode: bridge.CodeForbidden, wantError: "server_error", wantDesc: "Injected fault", wantText: "403"},
		{name: "not-found", status: 404, wantCode: bridge.CodeNotFound, wantError: "not_found", wantDesc: "Agent not found", wantText: "agent UUID"},
		{name: "too-large", status: 413, wantCode: bridge.CodeRejected, wantError: "server_error", wantDesc: "Injected fault", wantText: "too large"},
		{name: "teapot", status: 418, body: "short and stout", wantCode: bridge.CodeRejected, wantText: "418"},
		{name: "server-error", status: 500, wantCode: bridge.CodeServiceError, wantError: "server_error", wantDesc: "Injected fault", wantText: "HTTP 500"},
		{name: "bad-gateway-html", status: 502, body: "<html>bad gateway</html>", wantCode: bridge.CodeServiceError, wantText: "HTTP 502"},
		{name: "jsonrpc-error-object", status: 500, body: `{"error":{"code":"boom","message":"it broke"}}`, wantCode: bridge.CodeServiceError, wantError: "boom", wantDesc: "it broke"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/list", Status: tt.status, Body: tt.body, Count: 1}}})
			h := startBridge(t, mockOptions(t, srv))

			got := h.call("1", "tools/list", "")
			e := got.Get("error")
			if e.Get("code").Int() != int64(tt.wantCode) {
				t.Errorf("code = %d, want %d; error: %s", e.Get("code").Int(), tt.wantCode, e.Raw)
			}
			if e.Get("data.httpStatus").Int() != int64(tt.status) {
				t.Errorf("data.httpStatus = %s, want %d", e.Get("data.httpStatus").Raw, tt.status)
			}
			if e.Get("data.error").Str != tt.wantError {
				t.Errorf("data.error = %q, want %q", e.Get("data.error").Str, tt.wantError)
			}
			if e.Get("data.error_description").Str != tt.wantDesc {
				t.Errorf("data.error_description = %q, want %q", e.Get("data.error_description").Str, tt.wantDesc)
			}
			if !strings.Contains(e.Get("message").Str, tt.wantText) {
				t.Errorf("message = %q, want it to mention %q", e.Get("message").Str, tt.wantText)
			}
			if tt.body != "" && !strings.HasPrefix(tt.body, "{") && e.Get("data.body").Str != tt.body {
				t.Errorf("data.body = %q, want the service's text %q", e.Get("data.body").Str, tt.body)
			}
			// A 4xx or 5xx other than 429 and 503 is not retried.
			waitFor(t, "the mock's log", func() bool { return len(requestsFor(srv, "tools/list")) == 1 })
			time.Sleep(50 * time.Millisecond)
			if n := len(requestsFor(srv, "tools/list")); n != 1 {
				t.Errorf("the mock received %d tools/list, want 1", n)
			}
		})
	}
}

func TestRevokedTokenNamesItsSource(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	info := srv.Info()
	opts := mockOptions(t, srv)
	opts.Token = bridge.EnvToken("JOAI_API_TOKEN", func(string) string { return info.RevokedToken })
	h := startBridge(t, opts)

	got := h.call("1", "tools/list", "")
	msg := got.Get("error.message").Str
	if got.Get("error.code").Int() != bridge.CodeUnauthorized {
		t.Errorf("code = %d, want %d", got.Get("error.code").Int(), bridge.CodeUnauthorized)
	}
	if !strings.Contains(msg, "JOAI_API_TOKEN") || !strings.Contains(msg, "…"+info.RevokedToken[len(info.RevokedToken)-4:]) {
		t.Errorf("message = %q, want the source JOAI_API_TOKEN and the token's last 4 characters", msg)
	}
	if strings.Contains(got.Raw, info.RevokedToken) {
		t.Errorf("the response contains the token: %s", got.Raw)
	}
}

func TestUnknownAgentNotFound(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Sessions: true})
	opts := mockOptions(t, srv)
	opts.URL = srv.AgentURL("00000000-0000-4000-8000-000000000000")
	h := startBridge(t, opts)

	got := h.call("0", "initialize", `{"protocolVersion":"2025-06-18","capabilities":{}}`)
	if got.Get("error.code").Int() != bridge.CodeNotFound || got.Get("error.data.error").Str != "not_found" {
		t.Errorf("initialize of an unknown agent = %s, want %d with not_found", got.Raw, bridge.CodeNotFound)
	}
	got = h.call("1", "tools/list", "")
	if got.Get("error.code").Int() != bridge.CodeNotFound {
		t.Errorf("tools/list of an unknown agent = %s, want %d", got.Raw, bridge.CodeNotFound)
	}
}

func TestTokenNeverEchoed(t *testing.T) {
	t.Parallel()
	const token = "secret-token-abcdefgh-5678"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		auth := r.Header.Get("Authorization")
		var body [512]byte
		n, _ := r.Body.Read(body[:])
		id := gjson.GetBytes(body[:n], "id").Raw
		if gjson.GetBytes(body[:n], "method").Str == "tools/call" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"you sent %s"}]}}`, id, auth)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"error":"server_error","error_description":"token %s failed"}`, strings.TrimPrefix(auth, "Bearer "))
	}))
	t.Cleanup(echo.Close)
	h := startBridge(t, &bridge.Options{URL: echo.URL, Token: bridge.StaticToken{Value: token, Source: "test"}, Logger: testLogger(t)})

	for _, method := range []string{"tools/call", "tools/list"} {
		got := h.call("1", method, `{}`)
		if strings.Contains(got.Raw, token) {
			t.Errorf("%s: the response contains the token: %s", method, got.Raw)
		}
		if !strings.Contains(got.Raw, "…5678") {
			t.Errorf("%s: the response lacks the redacted token: %s", method, got.Raw)
		}
	}
}

func TestConnectionRefused(t *testing.T) {
	t.Parallel()
	h := startBridge(t, &bridge.Options{URL: closedPortURL(t), Token: bridge.StaticToken{Value: "t", Source: "test"}, Logger: testLogger(t)})

	start := time.Now()
	got := h.call("0", "initialize", `{"protocolVersion":"2025-06-18","capabilities":{}}`)
	if got.Get("error.code").Int() != bridge.CodeUnreachable || !strings.Contains(got.Get("error.message").Str, "refused") {
		t.Errorf("initialize with the service down = %s, want %d saying the connection was refused", got.Raw, bridge.CodeUnreachable)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("initialize took %v with the service down, want an answer well inside the host's 60s", d)
	}
}

// closedPortURL returns a loopback URL where nothing listens.
func closedPortURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/mcp/agents/x"
}

func TestDNSFailure(t *testing.T) {
	t.Parallel()
	resolver := nxdomainResolver(t)
	transport, err := bridge.NewHTTPTransport(nil)
	if err != nil {
		t.Fatal(err)
	}
	transport.DialContext = (&net.Dialer{Resolver: resolver, Timeout: 5 * time.Second}).DialContext
	h := startBridge(t, &bridge.Options{
		URL:       "https://joai-bridge-test.invalid/mcp/agents/x",
		Token:     bridge.StaticToken{Value: "t", Source: "test"},
		Transport: transport,
		Logger:    testLogger(t),
	})

	got := h.call("1", "tools/list", "")
	if got.Get("error.code").Int() != bridge.CodeUnreachable || !strings.Contains(got.Get("error.message").Str, "could not be resolved") {
		t.Errorf("tools/list with an unknown host = %s, want %d saying the name could not be resolved", got.Raw, bridge.CodeUnreachable)
	}
}

// nxdomainResolver returns a resolver whose only DNS server is a loopback
// one of the test's that answers every query with NXDOMAIN, so no query
// leaves the machine.
func nxdomainResolver(t testing.TB) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			reply := append([]byte(nil), buf[:n]...)
			flags := binary.BigEndian.Uint16(reply[2:4])
			// QR=1, keep the opcode and RD, RA=1, RCODE=3 (NXDOMAIN).
			binary.BigEndian.PutUint16(reply[2:4], 0x8000|flags&0x7900|0x0080|3)
			binary.BigEndian.PutUint16(reply[6:8], 0)  // no answers
			binary.BigEndian.PutUint16(reply[8:10], 0) // no authority
			binary.BigEndian.PutUint16(reply[10:12], 0)
			pc.WriteTo(reply, addr)
		}
	}()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", pc.LocalAddr().String())
		},
	}
}

func TestTLSUntrustedThenCAFile(t *testing.T) {
	t.Parallel()
	mock := mockserver.NewUnstartedServer(nil)
	t.Cleanup(mock.Close)
	ts := httptest.NewTLSServer(mock.Handler())
	t.Cleanup(ts.Close)
	url := ts.URL + "/mcp/agents/" + mock.Info().AgentUUID
	token := bridge.StaticToken{Value: mock.Info().Token, Source: "test"}

	h := startBridge(t, &bridge.Options{URL: url, Token: token, Logger: testLogger(t)})
	got := h.call("1", "tools/list", "")
	if got.Get("error.code").Int() != bridge.CodeTLS || !strings.Contains(got.Get("error.message").Str, "--ca-file") {
		t.Errorf("tools/list with an untrusted certificate = %s, want %d naming --ca-file", got.Raw, bridge.CodeTLS)
	}

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	transport, err := bridge.NewHTTPTransport(&bridge.TransportOptions{CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	trusted := startBridge(t, &bridge.Options{URL: url, Token: token, Transport: transport, Logger: testLogger(t)})
	if got := trusted.call("1", "tools/list", ""); !got.Get("result.tools").IsArray() {
		t.Errorf("tools/list with --ca-file = %.300s, want the tools", got.Raw)
	}
}

func TestCAFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ file, want string }{
		{filepath.Join(dir, "missing.pem"), "not found"},
		{garbage, "no PEM certificate"},
	} {
		_, err := bridge.NewHTTPTransport(&bridge.TransportOptions{CAFile: tt.file})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.file) {
			t.Errorf("NewHTTPTransport(CAFile: %s) error = %v, want one naming the file and %q", tt.file, err, tt.want)
		}
	}
}

func TestTimeoutAnsweredAndCancelled(t *testing.T) {
	t.Parallel()
	srv := newObservedMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/call", Latency: 5 * time.Second}}})
	opts := srv.options(t)
	opts.Timeout = 300 * time.Millisecond
	h := startBridge(t, opts)

	got := h.call("1", "tools/call", `{"name":"prompt_agent","arguments":{"message":"hi"}}`)
	if got.Get("error.code").Int() != bridge.CodeTimeout || !strings.Contains(got.Get("error.message").Str, "300ms") {
		t.Errorf("slow tools/call = %s, want %d naming the 300ms limit", got.Raw, bridge.CodeTimeout)
	}
	waitFor(t, "notifications/cancelled after the timeout", func() bool { return len(requestsFor(srv.Server, "notifications/cancelled")) == 1 })
	waitFor(t, "the mock's log of the call", func() bool { return len(requestsFor(srv.Server, "tools/call")) == 1 })
	if n := len(requestsFor(srv.Server, "tools/call")); n != 1 {
		t.Errorf("the mock received %d tools/call, want 1: a timed-out request is never resent", n)
	}
}

func TestInitializeTimeoutWhenServiceHangs(t *testing.T) {
	t.Parallel()
	hang := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		close(hang)
		ts.Close()
	})
	h := startBridge(t, &bridge.Options{URL: ts.URL, Token: bridge.StaticToken{Value: "t", Source: "test"}, Timeout: 500 * time.Millisecond, Logger: testLogger(t)})

	got := h.call("0", "initialize", `{"protocolVersion":"2025-06-18","capabilities":{}}`)
	if got.Get("error.code").Int() != bridge.CodeTimeout {
		t.Errorf("initialize against a hanging service = %s, want %d", got.Raw, bridge.CodeTimeout)
	}
}

func TestConnectionLostNotResent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault mockserver.Fault
	}{
		{name: "drop-before-reply", fault: mockserver.Fault{Method: "tools/call", Drop: mockserver.DropBeforeReply}},
		{name: "drop-after-headers", fault: mockserver.Fault{Method: "tools/call", Drop: mockserver.DropAfterHeaders}},
		{name: "stream-cut", fault: mockserver.Fault{Method: "tools/call", Progress: 3, CutAfterEvents: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newMock(t, &mockserver.Options{Faults: []mockserver.Fault{tt.fault}})
			h := startBridge(t, mockOptions(t, srv))

			h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"hi"},"_meta":{"progressToken":1}}}`)
			var got gjson.Result
			for {
				got = gjson.ParseBytes(h.recv())
				if got.Get("method").Str != "notifications/progress" {
					break
				}
			}
			if got.Get("id").Raw != "1" || got.Get("error.code").Int() != bridge.CodeConnectionLost {
				t.Errorf("response = %s, want %d for id 1", got.Raw, bridge.CodeConnectionLost)
			}
			if !strings.Contains(got.Get("error.message").Str, "not resent") {
				t.Errorf("message = %q, want it to say the request was not resent", got.Get("error.message").Str)
			}
			if strings.Contains(got.Get("error.message").Str, "unexpected nil response") {
				t.Errorf("message = %q, want what happened instead of mcp-go's internal error", got.Get("error.message").Str)
			}
			time.Sleep(100 * time.Millisecond)
			waitFor(t, "the mock's log", func() bool { return len(requestsFor(srv, "tools/call")) >= 1 })
			if n := len(requestsFor(srv, "tools/call")); n != 1 {
				t.Errorf("the mock received %d tools/call, want 1", n)
			}
		})
	}
}

func TestInvalidReplies(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		// One Read may return only part of the body, and the case name
		// comes after the id in it.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		id := gjson.GetBytes(body, "id").Raw
		switch gjson.GetBytes(body, "params.case").Str {
		case "html":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html>login page</html>")
		case "not-json":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "{oops")
		case "other-id":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"jsonrpc":"2.0","id":999999,"result":{}}`)
		case "notification":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"jsonrpc":"2.0","method":"notifications/message"}`)
		case "too-large":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%s,"result":{"pad":"%s"}}`, id, strings.Repeat("p", 4096))
		case "too-large-sse":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"pad\":\"%s\"}}\n\n", id, strings.Repeat("p", 4096))
		case "sse-ends-early":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\n\n")
		case "sse-other-id-then-right":
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"jsonrpc\":\"2.0\",\"id\":424242,\"result\":{\"wrong\":true}}\n\n")
			fmt.Fprint(w, "data: not json at all\n\n")
			fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"right\":true}}\n\n", id)
		}
	}))
	t.Cleanup(ts.Close)
	h := startBridge(t, &bridge.Options{URL: ts.URL, Token: bridge.StaticToken{Value: "t", Source: "test"}, MaxMessageSize: 2048, Logger: testLogger(t)})

	for _, tt := range []struct {
		name     string
		wantCode int
	}{
		{"html", bridge.CodeUpstreamInvalid},
		{"not-json", bridge.CodeUpstreamInvalid},
		{"other-id", bridge.CodeUpstreamInvalid},
		{"notification", bridge.CodeUpstreamInvalid},
		{"too-large", bridge.CodeMessageTooLarge},
		{"too-large-sse", bridge.CodeMessageTooLarge},
	} {
		got := h.call(`"`+tt.name+`"`, "x/test", `{"case":"`+tt.name+`"}`)
		if got.Get("error.code").Int() != int64(tt.wantCode) {
			t.Errorf("%s: response = %.300s, want code %d", tt.name, got.Raw, tt.wantCode)
		}
	}

	h.send(`{"jsonrpc":"2.0","id":"early","method":"x/test","params":{"case":"sse-ends-early"}}`)
	if got := gjson.ParseBytes(h.recv()); got.Get("method").Str != "notifications/message" {
		t.Errorf("first line for sse-ends-early = %s, want the notification", got.Raw)
	}
	early := gjson.ParseBytes(h.recv())
	if early.Get("error.code").Int() != bridge.CodeConnectionLost || !strings.Contains(early.Get("error.message").Str, "before sending the response") {
		t.Errorf("stream ended without a response = %s, want %d saying so", early.Raw, bridge.CodeConnectionLost)
	}

	got := h.call("7", "x/test", `{"case":"sse-other-id-then-right"}`)
	if !got.Get("result.right").Bool() {
		t.Errorf("SSE reply with a stray response first = %s, want the right response only", got.Raw)
	}
	h.expectNothing(200 * time.Millisecond)
}
