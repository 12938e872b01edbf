package bridge_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/bridge"
)

func TestFramingRejectsBadLines(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	h := startBridge(t, mockOptions(t, srv))

	tests := []struct {
		name     string
		line     string
		wantID   string
		wantCode int64
	}{
		{name: "not-json", line: `{"jsonrpc":"2.0","id":1,`, wantID: "null", wantCode: -32700},
		{name: "batch", line: `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, wantID: "null", wantCode: -32600},
		{name: "scalar", line: `42`, wantID: "null", wantCode: -32600},
		{name: "no-method-with-id", line: `{"jsonrpc":"2.0","id":"x"}`, wantID: `"x"`, wantCode: -32600},
		{name: "method-not-string", line: `{"jsonrpc":"2.0","id":7,"method":3}`, wantID: "7", wantCode: -32600},
	}
	for _, tt := range tests {
		h.send(tt.line)
		got := gjson.ParseBytes(h.recv())
		if got.Get("id").Raw != tt.wantID || got.Get("error.code").Int() != tt.wantCode {
			t.Errorf("%s: response = %s, want id %s and code %d", tt.name, got.Raw, tt.wantID, tt.wantCode)
		}
	}

	// The bridge keeps running after every bad line.
	if got := h.call("8", "ping", ""); got.Get("result").Raw != "{}" {
		t.Errorf("ping after bad lines = %s, want an empty result", got.Raw)
	}
}

func TestFramingCRLFAndBlankLines(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	h := startBridge(t, mockOptions(t, srv))

	h.send("")
	h.send("   \t")
	h.send("\r")
	h.send(`{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\r")
	got := gjson.ParseBytes(h.recv())
	if got.Get("id").Raw != "1" || got.Get("result").Raw != "{}" {
		t.Errorf("ping with CRLF = %s, want id 1 and an empty result", got.Raw)
	}
	h.expectNothing(200 * time.Millisecond)
}

func TestFramingUnterminatedLastLine(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	h := startBridge(t, mockOptions(t, srv))

	if _, err := h.stdin.Write([]byte(`{"jsonrpc":"2.0","id":"last","method":"tools/list"}`)); err != nil {
		t.Fatal(err)
	}
	if err := h.closeStdin(); err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	lines := h.rest()
	if len(lines) != 1 {
		t.Fatalf("got %d lines after EOF, want 1: %q", len(lines), lines)
	}
	got := gjson.ParseBytes(lines[0])
	if got.Get("id").Raw != `"last"` || !got.Get("result.tools").IsArray() {
		t.Errorf("response to the unterminated line = %.300s, want the tools", lines[0])
	}
}

func TestFramingOversizedLine(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	opts := mockOptions(t, srv)
	opts.MaxMessageSize = 4 << 10
	h := startBridge(t, opts)

	big := strings.Repeat("x", 8<<10)
	h.send(`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"` + big + `"}},"id":"big"}`)
	got := gjson.ParseBytes(h.recv())
	if got.Get("id").Raw != `"big"` || got.Get("error.code").Int() != bridge.CodeMessageTooLarge {
		t.Errorf("oversized request = %.300s, want id \"big\" and code %d", got.Raw, bridge.CodeMessageTooLarge)
	}
	if got.Get("error.data.maxMessageSize").Int() != 4<<10 {
		t.Errorf("error data = %s, want maxMessageSize %d", got.Get("error.data").Raw, 4<<10)
	}

	// An oversized notification gets no response, and reading resumes at
	// the next line.
	h.send(`{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"` + big + `"}}`)
	if got := h.call("2", "tools/list", ""); !got.Get("result.tools").IsArray() {
		t.Errorf("tools/list after oversized lines = %.300s, want the tools", got.Raw)
	}
	if n := len(requestsFor(srv, "tools/call")); n != 0 {
		t.Errorf("the mock received %d oversized tools/call requests, want 0", n)
	}
}

func TestFramingLargeMessageWithinLimit(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	h := startBridge(t, mockOptions(t, srv))

	// Well past the 64 KiB line limits of other bridges, and small enough
	// for a loaded machine under the race detector.
	content := strings.Repeat("m", 512<<10)
	got := h.call("1", "tools/call", `{"name":"create_memory","arguments":{"content":"`+content+`"}}`)
	if got.Get("error").Exists() || got.Get("result.isError").Bool() {
		t.Fatalf("create_memory with 512 KiB = %.300s, want success", got.Raw)
	}
	read := h.call("2", "resources/read", fmt.Sprintf(`{"uri":"mcp://agent/%s/memories"}`, srv.Info().AgentUUID))
	if !strings.Contains(read.Get("result.contents.0.text").Str, content) {
		t.Errorf("the memories resource does not contain the 512 KiB memory (%d bytes read)", len(read.Raw))
	}
}

func TestIDsCrossExactly(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	h := startBridge(t, mockOptions(t, srv))
	h.initialize()

	for _, id := range []string{`9007199254740993`, `0`, `-1`, `"9007199254740993"`, `"a\"b\\c\u00e9"`, `""`, `1.5`, `12345678901234567890123`} {
		got := h.call(id, "tools/list", "")
		if !got.Get("result.tools").IsArray() {
			t.Errorf("tools/list with id %s = %.200s, want the tools", id, got.Raw)
		}
		if got := h.call(id, "ping", ""); got.Get("result").Raw != "{}" {
			t.Errorf("ping with id %s = %s, want an empty result", id, got.Raw)
		}
	}

	// The service saw the bridge's own small integer ids, never the host's.
	for _, r := range requestsFor(srv, "tools/list") {
		if strings.ContainsAny(r.ID, `".-`) || len(r.ID) > 6 {
			t.Errorf("the mock received tools/list with id %s, want a bridge id", r.ID)
		}
	}
}
