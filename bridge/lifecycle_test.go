package bridge_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/internal/inspector"
	"github.com/joai-ai/joai-mcp/mockserver"
)

func TestShutdownCancelsInFlight(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"stdin-eof", "context-cancel"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			srv := newObservedMock(t, &mockserver.Options{Sessions: true, Faults: []mockserver.Fault{{Method: "tools/call", Latency: 10 * time.Second}}})
			h := startBridge(t, srv.options(t))
			h.initialize()

			h.send(`{"jsonrpc":"2.0","id":"long","method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"hi"}}}`)
			srv.waitArrival(t, "POST tools/call")
			start := time.Now()
			var err error
			if how == "stdin-eof" {
				err = h.closeStdin()
			} else {
				err = h.stop()
			}
			if err != nil {
				t.Errorf("Run() error = %v, want nil", err)
			}
			if d := h.stopped.Sub(start); d > 2*time.Second {
				t.Errorf("Run returned %v after the stop, want within 2s", d)
			}

			lines := h.rest()
			if len(lines) != 1 {
				t.Fatalf("got %d lines at shutdown, want the one error: %q", len(lines), lines)
			}
			got := gjson.ParseBytes(lines[0])
			if got.Get("id").Str != "long" || got.Get("error.code").Int() != bridge.CodeShuttingDown {
				t.Errorf("response at shutdown = %s, want %d for id \"long\"", got.Raw, bridge.CodeShuttingDown)
			}

			waitFor(t, "the mock's log", func() bool {
				return len(requestsFor(srv.Server, "notifications/cancelled")) == 1 && deleteRequest(srv.Server) != nil
			})
			upstreamID := ""
			waitFor(t, "the aborted call in the mock's log", func() bool {
				calls := requestsFor(srv.Server, "tools/call")
				if len(calls) == 1 {
					upstreamID = calls[0].ID
				}
				return upstreamID != ""
			})
			cancelled := requestsFor(srv.Server, "notifications/cancelled")[0]
			if got := gjson.GetBytes(cancelled.Body, "params.requestId").Raw; got != upstreamID {
				t.Errorf("cancellation at shutdown names %s, want the upstream id %s", got, upstreamID)
			}
			del := deleteRequest(srv.Server)
			if del.Header.Get("Mcp-Session-Id") == "" {
				t.Errorf("the DELETE carried no session id")
			}
			if auth := del.Header.Get("Authorization"); !strings.HasPrefix(auth, "Bearer …") {
				t.Errorf("the DELETE carried Authorization %q, want the Bearer token", auth)
			}
		})
	}
}

// deleteRequest returns the mock's log entry of the first DELETE, or nil.
func deleteRequest(srv *mockserver.Server) *mockserver.Received {
	for _, r := range srv.Requests() {
		if r.HTTPMethod == http.MethodDelete {
			return &r
		}
	}
	return nil
}

func TestStdinEOFDrainsQuickRequests(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/call", Latency: 100 * time.Millisecond}}})
	h := startBridge(t, mockOptions(t, srv))

	// As with `printf '...' | joai-bridge`: the request and the EOF arrive
	// together, and the answer still comes.
	h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"ping"}}}`)
	if err := h.closeStdin(); err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	lines := h.rest()
	if len(lines) != 1 || !gjson.GetBytes(lines[0], "result").Exists() {
		t.Errorf("lines after EOF = %q, want the call's result", lines)
	}
}

func TestStdoutClosedEndsRun(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	b, err := bridge.New(mockOptions(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- b.Run(context.Background(), inR, outW) }()
	t.Cleanup(func() {
		inW.Close()
		inR.Close()
	})

	r := bufio.NewReader(outR)
	io.WriteString(inW, `{"jsonrpc":"2.0","id":1,"method":"ping"}`+"\n")
	if _, err := r.ReadBytes('\n'); err != nil {
		t.Fatal(err)
	}
	outR.Close() // the host is gone
	io.WriteString(inW, `{"jsonrpc":"2.0","id":2,"method":"ping"}`+"\n")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run() error = %v, want nil when the host closes stdout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after stdout closed")
	}
}

func TestRunTwiceRejected(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	b, err := bridge.New(mockOptions(t, srv))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Run(context.Background(), strings.NewReader(""), io.Discard); err != nil {
		t.Fatalf("first Run() error = %v", err)
	}
	if err := b.Run(context.Background(), strings.NewReader(""), io.Discard); err == nil {
		t.Error("second Run() error = nil, want an error")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tok := bridge.StaticToken{Value: "t", Source: "test"}
	tests := []struct {
		name string
		opts *bridge.Options
		want string
	}{
		{"nil", nil, "nil Options"},
		{"no-token", &bridge.Options{URL: "https://example.com/mcp"}, "JOAI_API_TOKEN"},
		{"no-url", &bridge.Options{Token: tok}, "--agent"},
		{"insecure", &bridge.Options{URL: "http://example.com/mcp", Token: tok}, "--allow-insecure-http"},
		{"negative-size", &bridge.Options{URL: "https://example.com/mcp", Token: tok, MaxMessageSize: -1}, "message size"},
		{"negative-rpm", &bridge.Options{URL: "https://example.com/mcp", Token: tok, MaxRPM: -1}, "--max-rpm"},
		{"negative-concurrency", &bridge.Options{URL: "https://example.com/mcp", Token: tok, MaxConcurrent: -2}, "--max-concurrent"},
	}
	for _, tt := range tests {
		_, err := bridge.New(tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New() error = %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
}

func TestTokenSourceErrorAnswered(t *testing.T) {
	t.Parallel()
	srv := newMock(t, nil)
	opts := mockOptions(t, srv)
	opts.Token = bridge.FileToken{Path: t.TempDir() + "/missing-token"}
	h := startBridge(t, opts)

	got := h.call("1", "tools/list", "")
	if got.Get("error.code").Int() != bridge.CodeUnauthorized || !strings.Contains(got.Get("error.message").Str, "missing-token") {
		t.Errorf("tools/list with a missing token file = %s, want %d naming the file", got.Raw, bridge.CodeUnauthorized)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("the mock received %d requests without a token, want 0", n)
	}
}

type recordingSink struct {
	events chan string
}

func (s *recordingSink) Publish(ev inspector.Event) {
	select {
	case s.events <- ev.Direction + " " + ev.Method + " " + ev.ID:
	default:
	}
}

func TestSinkReceivesEvents(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/call", Progress: 1}}})
	sink := &recordingSink{events: make(chan string, 100)}
	opts := mockOptions(t, srv)
	opts.Sink = sink
	h := startBridge(t, opts)

	h.call("1", "ping", "")
	h.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"x"},"_meta":{"progressToken":"p"}}}`)
	h.recv()
	h.recv()
	want := map[string]bool{"host→upstream ping 1": true, "upstream→host notifications/progress ": true, "host→upstream tools/call 2": true}
	deadline := time.After(5 * time.Second)
	for len(want) > 0 {
		select {
		case ev := <-sink.events:
			delete(want, ev)
		case <-deadline:
			t.Fatalf("events not published: %v", want)
		}
	}
}
