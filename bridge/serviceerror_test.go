package bridge_test

import (
	"strings"
	"testing"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/mockserver"
)

func TestServiceJSONRPCErrorRelayed(t *testing.T) {
	t.Parallel()
	const token = "jo_test_secret_token_1234567890"
	tests := []struct {
		name   string
		status int
		body   string
		want   string // the error object the host receives
	}{
		{
			name:   "bad-request-with-data",
			status: 400,
			body:   `{"jsonrpc":"2.0","id":null,"error":{"code":-32602,"message":"invalid params","data":{"field":"name",  "n":1.50}}}`,
			want:   `{"code":-32602,"message":"invalid params","data":{"field":"name",  "n":1.50}}`,
		},
		{
			name:   "unprocessable-without-data",
			status: 422,
			body:   `{"jsonrpc":"2.0","id":7,"error":{"code":-32000,"message":"the agent is paused"}}`,
			want:   `{"code":-32000,"message":"the agent is paused"}`,
		},
		{
			name:   "token-in-data-redacted",
			status: 400,
			body:   `{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"bad","data":"` + token + `"}}`,
			want:   `{"code":-32600,"message":"bad","data":"…7890"}`,
		},
		{
			name:   "fractional-code",
			status: 400,
			body:   `{"jsonrpc":"2.0","id":1,"error":{"code":-32600.5,"message":"bad"}}`,
		},
		{
			name:   "message-not-a-string",
			status: 400,
			body:   `{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":3}}`,
		},
		{
			name:   "not-jsonrpc",
			status: 400,
			body:   `{"error":{"code":-32600,"message":"bad"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/list", Status: tt.status, Body: tt.body, Count: 1}}})
			opts := mockOptions(t, srv)
			opts.Token = bridge.StaticToken{Value: token, Source: "the test token"}
			h := startBridge(t, opts)

			got := h.call("1", "tools/list", "")
			e := got.Get("error")
			if tt.want == "" {
				if e.Get("code").Int() != bridge.CodeBadRequest {
					t.Errorf("error = %s, want the bridge's %d for a body that is not a usable JSON-RPC error", e.Raw, bridge.CodeBadRequest)
				}
				return
			}
			if e.Raw != tt.want {
				t.Errorf("error = %s, want the service's %s", e.Raw, tt.want)
			}
			if strings.Contains(got.Raw, token) {
				t.Errorf("the response contains the token: %s", got.Raw)
			}
		})
	}
}

func TestMockParamsErrorRelayed(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	h := startBridge(t, mockOptions(t, srv))
	h.initialize()

	got := h.call("1", "tools/call", `"str"`)
	e := got.Get("error")
	if c := e.Get("code").Int(); c == bridge.CodeBadRequest || c > -32600 || c < -32700 {
		t.Errorf("error = %s, want the service's own JSON-RPC code", e.Raw)
	}
	if e.Get("data.httpStatus").Exists() {
		t.Errorf("error = %s, want no data.httpStatus from the bridge", e.Raw)
	}
}
