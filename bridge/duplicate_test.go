package bridge_test

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/mockserver"
)

func TestDuplicateMembersRejected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		line   string
		member string
	}{
		{name: "id", line: `{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}`, member: `"id"`},
		{name: "method", line: `{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/list"}`, member: `"method"`},
		{name: "escaped-key", line: `{"jsonrpc":"2.0","id":1,"\u0069d":2,"method":"ping"}`, member: `"id"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startBridge(t, mockOptions(t, newMock(t, &mockserver.Options{})))

			h.send(tt.line)
			got := h.recv()
			if !strings.Contains(string(got), `"id":null`) || !strings.Contains(string(got), `"code":-32600`) {
				t.Errorf("response = %s, want -32600 with id null", got)
			}
			if message := gjson.GetBytes(got, "error.message").Str; !strings.Contains(message, tt.member) {
				t.Errorf("message = %q, want it to name the member %s", message, tt.member)
			}
		})
	}
}
