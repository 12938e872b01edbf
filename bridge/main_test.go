package bridge_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/bridge/cli"
	"github.com/joai-ai/joai-mcp/mockserver"
)

// roleEnv makes the test binary act as another program: "bridge" runs
// cli.Main, and "parent" starts the bridge as its child and exits, for the
// parent-death test.
const roleEnv = "JOAI_BRIDGE_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "bridge":
		os.Exit(cli.Main(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
	case "parent":
		os.Exit(runParent())
	}
	code := m.Run()
	if code == 0 {
		if err := checkGoroutines(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// runParent starts the bridge with this process's stdin, stdout and
// arguments, prints its pid and exits without waiting for it to end.
func runParent() int {
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), roleEnv+"=bridge")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "starting the bridge:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "child pid %d\n", cmd.Process.Pid)
	// The bridge notes its parent's pid as it starts; exiting before then
	// would leave it nothing to watch.
	time.Sleep(time.Second)
	return 0
}

// checkGoroutines waits up to 5 seconds for every goroutine started by the
// bridge, mcp-go or net/http to end, and lists those that do not.
func checkGoroutines() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n")[1:] {
			if strings.Contains(g, "joai-mcp/") || strings.Contains(g, "mark3labs/") || strings.Contains(g, "net/http.") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d goroutines left behind after the tests:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testLogger returns a logger that writes to t.Log until the test ends.
func testLogger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	// mu guards t, which is nil once the test ended.
	mu sync.Mutex
	t  testing.TB
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.t != nil {
		w.t.Helper()
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t = nil
}

// newMock starts a mock server for the test.
func newMock(t testing.TB, opts *mockserver.Options) *mockserver.Server {
	t.Helper()
	srv := mockserver.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

// mockOptions returns bridge options for the mock's first agent.
func mockOptions(t testing.TB, srv *mockserver.Server) *bridge.Options {
	info := srv.Info()
	return &bridge.Options{
		URL:    srv.AgentURL(info.AgentUUID),
		Token:  bridge.StaticToken{Value: info.Token, Source: "the test token"},
		Logger: testLogger(t),
	}
}

// observedMock serves a mock through a handler that reports the JSON-RPC
// method of each request as it arrives, before the mock handles it: the
// mock's own log has a request only once it is answered.
type observedMock struct {
	*mockserver.Server
	// URL is the agent endpoint of the mock's first agent.
	URL     string
	arrived chan string
}

func newObservedMock(t testing.TB, opts *mockserver.Options) *observedMock {
	t.Helper()
	srv := mockserver.NewUnstartedServer(opts)
	m := &observedMock{Server: srv, arrived: make(chan string, 1000)}
	handler := srv.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		select {
		case m.arrived <- r.Method + " " + gjson.GetBytes(body, "method").Str:
		default:
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	m.URL = ts.URL + "/mcp/agents/" + srv.Info().AgentUUID
	return m
}

// options returns bridge options for the observed mock.
func (m *observedMock) options(t testing.TB) *bridge.Options {
	return &bridge.Options{
		URL:    m.URL,
		Token:  bridge.StaticToken{Value: m.Info().Token, Source: "the test token"},
		Logger: testLogger(t),
	}
}

// waitArrival waits until a request such as "POST tools/call" arrives.
func (m *observedMock) waitArrival(t testing.TB, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-m.arrived:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s to reach the mock", want)
		}
	}
}

// host drives a Bridge over pipes, as a desktop client drives its stdio.
type host struct {
	t       testing.TB
	stdin   *io.PipeWriter
	lines   chan []byte
	done    chan error
	cancel  context.CancelFunc
	stopped time.Time
	runErr  error
	ended   bool
}

// startBridge runs a bridge with opts until the test ends.
func startBridge(t testing.TB, opts *bridge.Options) *host {
	t.Helper()
	b, err := bridge.New(opts)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	h := &host{t: t, stdin: inW, lines: make(chan []byte, 1024), done: make(chan error, 1), cancel: cancel}
	go func() {
		err := b.Run(ctx, inR, outW)
		outW.Close()
		h.done <- err
	}()
	go func() {
		defer close(h.lines)
		r := bufio.NewReaderSize(outR, 1<<20)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 {
				h.lines <- line
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		inW.Close()
		h.wait()
		inR.Close()
	})
	return h
}

// send writes one line to the bridge's stdin.
func (h *host) send(line string) {
	h.t.Helper()
	if _, err := io.WriteString(h.stdin, line+"\n"); err != nil {
		h.t.Fatalf("writing to the bridge: %v", err)
	}
}

// recv returns the next line from the bridge's stdout, without its newline.
func (h *host) recv() []byte {
	h.t.Helper()
	select {
	case line, ok := <-h.lines:
		if !ok {
			h.t.Fatal("the bridge closed stdout")
		}
		if !bytes.HasSuffix(line, []byte("\n")) {
			h.t.Fatalf("the bridge wrote a line without a newline: %.200q", line)
		}
		line = line[:len(line)-1]
		if !gjson.ValidBytes(line) {
			h.t.Fatalf("the bridge wrote a line that is not JSON: %.200q", line)
		}
		return line
	case <-time.After(15 * time.Second):
		h.t.Fatal("timed out waiting for a line from the bridge")
	}
	return nil
}

// call sends a request and returns the next line, which must answer it.
func (h *host) call(id, method, params string) gjson.Result {
	h.t.Helper()
	msg := `{"jsonrpc":"2.0","id":` + id + `,"method":"` + method + `"`
	if params != "" {
		msg += `,"params":` + params
	}
	h.send(msg + "}")
	line := h.recv()
	got := gjson.ParseBytes(line)
	if got.Get("id").Raw != id {
		h.t.Fatalf("%s: response id = %s, want %s; line: %.300s", method, got.Get("id").Raw, id, line)
	}
	return got
}

// initialize performs the MCP handshake.
func (h *host) initialize() gjson.Result {
	h.t.Helper()
	res := h.call("0", "initialize", `{"protocolVersion":"2025-06-18","capabilities":{"sampling":{}},"clientInfo":{"name":"test-host","version":"1"}}`)
	if res.Get("error").Exists() {
		h.t.Fatalf("initialize failed: %s", res.Raw)
	}
	h.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return res
}

// expectNothing checks that the bridge writes nothing for d.
func (h *host) expectNothing(d time.Duration) {
	h.t.Helper()
	select {
	case line, ok := <-h.lines:
		if ok {
			h.t.Fatalf("unexpected line from the bridge: %.300s", line)
		}
	case <-time.After(d):
	}
}

// closeStdin closes stdin and waits for Run to return.
func (h *host) closeStdin() error {
	h.t.Helper()
	h.stdin.Close()
	return h.wait()
}

// stop cancels Run's context and waits for it to return.
func (h *host) stop() error {
	h.t.Helper()
	h.cancel()
	return h.wait()
}

func (h *host) wait() error {
	if h.ended {
		return h.runErr
	}
	select {
	case err := <-h.done:
		h.ended, h.runErr, h.stopped = true, err, time.Now()
		return err
	case <-time.After(20 * time.Second):
		h.t.Error("Run did not return within 20s")
		h.ended, h.runErr = true, errors.New("Run did not return")
		return h.runErr
	}
}

// rest returns the lines written after Run returned, until stdout closed.
func (h *host) rest() [][]byte {
	var lines [][]byte
	for line := range h.lines {
		lines = append(lines, bytes.TrimSuffix(line, []byte("\n")))
	}
	return lines
}

// requestsFor returns the mock's log entries with the given JSON-RPC method.
func requestsFor(srv *mockserver.Server, method string) []mockserver.Received {
	var out []mockserver.Received
	for _, r := range srv.Requests() {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
