package mockserver

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/joai-ai/joai-mcp/internal/inspector"
	"github.com/joai-ai/joai-mcp/internal/syncbuf"
)

func TestMain(m *testing.M) {
	// The crash test re-executes this binary as a server that it kills.
	if os.Getenv(childEnv) != "" {
		runChild()
		return
	}
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines left behind by the tests:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines returns the stacks of goroutines still running code of
// this package once the tests are done, waiting a few seconds for those
// that are finishing.
func leakedGoroutines() string {
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "mockserver.") && !strings.Contains(g, "leakedGoroutines") && !strings.Contains(g, "TestMain") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startServer starts a server for one test, logging to t.Log, and closes it
// at cleanup.
func startServer(tb testing.TB, opts *Options) *Server {
	tb.Helper()
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	s := NewServer(&o)
	tb.Cleanup(s.Close)
	return s
}

// tbWriter sends log lines to the test log.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// reply is an HTTP reply read in full.
type reply struct {
	status int
	header http.Header
	body   string
}

// do sends one request with the given token ("" for none), body ("" for
// none) and extra header name and value pairs. It sets Content-Type:
// application/json, as every example in the service's documentation does.
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

// rpc posts a JSON-RPC body to the info's agent with its token.
func rpc(tb testing.TB, s *Server, body string, header ...string) reply {
	tb.Helper()
	in := s.Info()
	return do(tb, "POST", s.AgentURL(in.AgentUUID), in.Token, body, header...)
}

// decode parses JSON into a generic value for cmp.Diff, keeping numbers
// as json.Number.
func decode(tb testing.TB, body string) any {
	tb.Helper()
	var v any
	d := json.NewDecoder(strings.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		tb.Fatalf("decoding %q: %v", body, err)
	}
	return v
}

// wantJSON compares a JSON body with the expected JSON text.
func wantJSON(tb testing.TB, what, got, want string) {
	tb.Helper()
	if diff := cmp.Diff(decode(tb, want), decode(tb, got)); diff != "" {
		tb.Errorf("%s: body mismatch (-want +got):\n%s", what, diff)
	}
}

// field extracts a value from a JSON body by a dotted path of object keys.
func field(tb testing.TB, body string, path string) any {
	tb.Helper()
	v := decode(tb, body)
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			tb.Fatalf("%s: %q is not an object in %s", path, k, body)
		}
		v = m[k]
	}
	return v
}

// eventSink collects inspector events.
type eventSink struct {
	mu     sync.Mutex
	events []inspector.Event
}

func (s *eventSink) Publish(ev inspector.Event) {
	s.mu.Lock()
	s.events = append(s.events, ev)
	s.mu.Unlock()
}

func (s *eventSink) all() []inspector.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]inspector.Event(nil), s.events...)
}

func TestNewRejectsConflictingOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"plain-and-sessions", Options{Plain: true, Sessions: true}, "conflict"},
		{"negative-body-limit", Options{MaxBodyBytes: -1}, "MaxBodyBytes -1"},
		{"negative-window", Options{Limits: Limits{Window: -1}}, "negative"},
		{"bad-fault", Options{Faults: []Fault{{Drop: "sideways"}}}, `drop "sideways"`},
		{"bad-seed", Options{Seed: &Seed{}}, "no agents"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(&tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestCloseTwiceAndUnstarted(t *testing.T) {
	s := NewServer(nil)
	s.Close()
	s.Close()

	u := NewUnstartedServer(nil)
	u.Close()
	u.Close()
}

func TestStartTwicePanics(t *testing.T) {
	s := startServer(t, nil)
	defer func() {
		if recover() == nil {
			t.Error("second Start did not panic")
		}
	}()
	s.Start()
}

func TestHandlerUnderAnotherServer(t *testing.T) {
	s := NewUnstartedServer(nil)
	defer s.Close()
	hs := &http.Server{Handler: s.Handler()}
	ln := listenLoopback(t)
	go hs.Serve(ln)
	defer hs.Close()
	in := s.Info()
	got := do(t, "POST", "http://"+ln.Addr().String()+"/mcp/agents/"+in.AgentUUID, in.Token, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	wantJSON(t, "ping", got.body, `{"jsonrpc":"2.0","id":1,"result":{}}`)
}

func TestLogsNeverContainTokens(t *testing.T) {
	var buf syncbuf.Buffer
	s := startServer(t, &Options{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	in := s.Info()
	rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	do(t, "POST", s.AgentURL(in.AgentUUID), in.RevokedToken, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	do(t, "POST", s.AgentURL(in.OtherAgentUUID), in.Token, `{"jsonrpc":"2.0","id":"`+in.Token+`","method":"tools/list"}`)
	created := do(t, "POST", s.URL+"/api/tokens", in.Token, `{"name":"log check"}`)
	value, _ := field(t, created.body, "token").(string)
	s.Close()

	logs := buf.String()
	for _, tok := range []string{in.Token, in.RevokedToken, value} {
		if tok == "" || strings.Contains(logs, tok) {
			t.Errorf("logs contain the token …%s (or it is empty):\n%s", tok[max(len(tok)-4, 0):], logs)
		}
	}
	if !strings.Contains(logs, "token=…c3e1") {
		t.Errorf("logs lack the redacted token …c3e1:\n%s", logs)
	}
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "status=404") {
		t.Errorf("logs lack a warning for the 404:\n%s", logs)
	}
}
