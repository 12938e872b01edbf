package bridge_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/internal/syncbuf"
	"github.com/joai-ai/joai-mcp/mockserver"
)

func TestRetryAfterPastDateReported(t *testing.T) {
	t.Parallel()
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	srv := newMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "tools/list", Status: 429, Header: map[string]string{"Retry-After": past}}}})
	opts := mockOptions(t, srv)
	opts.RetryBudget = time.Second
	h := startBridge(t, opts)

	got := h.call("1", "tools/list", "")
	e := got.Get("error")
	if e.Get("code").Int() != bridge.CodeRateLimited {
		t.Errorf("error = %s, want %d", e.Raw, bridge.CodeRateLimited)
	}
	if s := e.Get("data.retryAfterSeconds"); s.Exists() && s.Int() != 0 {
		t.Errorf("retryAfterSeconds = %s, want 0 or none for a Retry-After date in the past", s.Raw)
	}
	if n := len(requestsFor(srv, "tools/list")); n < 2 {
		t.Errorf("the mock received %d tools/list, want a prompt retry after a date in the past", n)
	}
}

func TestListenFailureLoggedPlainly(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Faults: []mockserver.Fault{{HTTPMethod: "GET", Status: 500, Count: 1}}})
	opts := mockOptions(t, srv)
	logs := &syncbuf.Buffer{}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := startBridge(t, opts)
	h.initialize()

	waitFor(t, "the failed GET stream in the log", func() bool { return strings.Contains(logs.String(), "GET event stream failed") })
	if strings.Contains(logs.String(), "failed to listen to server") {
		t.Errorf("the log contains mcp-go's message about the GET stream:\n%s", logs.String())
	}
}
