package bridge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/mockserver"
)

// bridgeProcess is the test binary running as joai-bridge.
type bridgeProcess struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *bytes.Buffer
	exited chan error
}

// startProcess starts the bridge as a child process with args.
func startProcess(t testing.TB, env []string, args ...string) *bridgeProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), roleEnv+"=bridge"), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &bridgeProcess{t: t, cmd: cmd, stdin: stdin, stdout: bufio.NewReader(stdout), stderr: &bytes.Buffer{}, exited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("bridge stderr:\n%s", p.stderr.String())
		}
	})
	return p
}

func (p *bridgeProcess) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatalf("writing to the bridge: %v", err)
	}
}

func (p *bridgeProcess) recv() gjson.Result {
	p.t.Helper()
	type result struct {
		line []byte
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		line, err := p.stdout.ReadBytes('\n')
		ch <- result{line, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			p.t.Fatalf("reading the bridge's stdout: %v", r.err)
		}
		return gjson.ParseBytes(r.line)
	case <-time.After(15 * time.Second):
		p.t.Fatal("timed out waiting for the bridge")
	}
	return gjson.Result{}
}

// waitExit waits for the process to exit and returns its status and how
// long it took from since.
func (p *bridgeProcess) waitExit(since time.Time) (int, time.Duration) {
	p.t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err // for the cleanup
		code := 0
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			code = exitErr.ExitCode()
		} else if err != nil {
			p.t.Fatalf("waiting for the bridge: %v", err)
		}
		return code, time.Since(since)
	case <-time.After(20 * time.Second):
		p.t.Fatal("the bridge did not exit within 20s")
	}
	return 0, 0
}

func mockArgs(srv *mockserver.Server) ([]string, []string) {
	info := srv.Info()
	return []string{"JOAI_API_TOKEN=" + info.Token}, []string{"--url", srv.AgentURL(info.AgentUUID), "--log-level", "debug"}
}

func TestProcessExitsOnSignalAndEOF(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGTERM is a Unix signal")
	}
	t.Parallel()
	for _, how := range []string{"sigterm", "stdin-eof"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			srv := newMock(t, &mockserver.Options{Sessions: true, Faults: []mockserver.Fault{{Method: "tools/call", Latency: 10 * time.Second}}})
			env, args := mockArgs(srv)
			p := startProcess(t, env, args...)

			p.send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
			if got := p.recv(); !got.Get("result.protocolVersion").Exists() {
				t.Fatalf("initialize = %s", got.Raw)
			}
			p.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"hi"}}}`)
			time.Sleep(300 * time.Millisecond) // let the call reach the mock

			start := time.Now()
			if how == "sigterm" {
				if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			} else {
				p.stdin.Close()
			}
			if got := p.recv(); got.Get("id").Raw != "1" || !got.Get("error").Exists() {
				t.Errorf("the in-flight call got %s, want a shutdown error", got.Raw)
			}
			code, took := p.waitExit(start)
			if code != 0 {
				t.Errorf("exit status = %d, want 0", code)
			}
			t.Logf("exited %v after %s", took, how)
			// The requirement is 2s; the margin is for a loaded machine.
			if took > 5*time.Second {
				t.Errorf("exited %v after %s, want about 2s at most", took, how)
			}
			waitFor(t, "the DELETE", func() bool { return deleteRequest(srv) != nil })
		})
	}
}

func TestProcessExitsWhenParentDies(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the parent is watched on Unix only")
	}
	t.Parallel()
	srv := newMock(t, nil)
	env, args := mockArgs(srv)

	// The test keeps both pipes open, so the bridge sees no EOF: only the
	// death of the parent that started it can stop it.
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdinW.Close()
		stdoutR.Close()
	})
	// A file, not a pipe exec copies from: Run would wait for the child too,
	// since it inherits the parent's stderr.
	stderr, err := os.Create(t.TempDir() + "/stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	parent := exec.Command(os.Args[0], args...)
	parent.Env = append(append(os.Environ(), roleEnv+"=parent"), env...)
	parent.Stdin, parent.Stdout, parent.Stderr = stdinR, stdoutW, stderr
	if err := parent.Run(); err != nil {
		t.Fatalf("parent: %v", err)
	}
	start := time.Now()
	stdinR.Close()
	stdoutW.Close()
	defer func() {
		logs, _ := os.ReadFile(stderr.Name())
		t.Logf("stderr of the parent and the bridge:\n%s", logs)
	}()

	// stdout reaches EOF once the bridge, its last writer, exits.
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, stdoutR)
		done <- err
	}()
	select {
	case <-done:
		t.Logf("the bridge exited %v after its parent", time.Since(start))
	case <-time.After(15 * time.Second):
		t.Fatal("the bridge still runs 15s after its parent exited")
	}
}

func TestMCPGoStdioClient(t *testing.T) {
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Sessions: true})
	info := srv.Info()
	env, args := mockArgs(srv)
	stdio := transport.NewStdioWithOptions(os.Args[0], append(env, roleEnv+"=bridge"), args,
		transport.WithCommandStderrWriter(io.Discard))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := stdio.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(stdio, client.WithProtocolVersion(mcp.ProtocolVersion20250618))
	t.Cleanup(func() { c.Close() })

	init, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ProtocolVersion: mcp.ProtocolVersion20250618,
		ClientInfo:      mcp.Implementation{Name: "mcp-go-test", Version: "1"},
	}})
	if err != nil {
		t.Fatalf("Initialize() error = %v", err)
	}
	if init.ServerInfo.Name != "joai-mock" {
		t.Errorf("server name = %q, want the mock's", init.ServerInfo.Name)
	}

	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("ListTools() error = %v", err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if got := strings.Join(names, ","); got != "prompt_agent,create_memory,update_memory" {
		t.Errorf("tools = %s, want prompt_agent,create_memory,update_memory", got)
	}

	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "prompt_agent", Arguments: map[string]any{"message": "Hello from API!"}}})
	if err != nil {
		t.Fatalf("CallTool() error = %v", err)
	}
	if text := res.Content[0].(mcp.TextContent).Text; !strings.Contains(text, "Ada") {
		t.Errorf("prompt_agent replied %q, want Ada's scripted reply", text)
	}

	for _, name := range []string{"info", "character", "memories"} {
		uri := fmt.Sprintf("mcp://agent/%s/%s", info.AgentUUID, name)
		read, err := c.ReadResource(ctx, mcp.ReadResourceRequest{Params: mcp.ReadResourceParams{URI: uri}})
		if err != nil {
			t.Fatalf("ReadResource(%s) error = %v", uri, err)
		}
		if len(read.Contents) == 0 {
			t.Errorf("ReadResource(%s) returned no contents", uri)
		}
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("Ping() error = %v", err)
	}
}

func TestProxyAndCAFile(t *testing.T) {
	t.Parallel()
	mock := mockserver.NewUnstartedServer(nil)
	t.Cleanup(mock.Close)
	tlsSrv := httptest.NewTLSServer(mock.Handler())
	t.Cleanup(tlsSrv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	proxy, targets := connectProxy(t, tlsSrv.Listener.Addr().String())
	proxyURL, err := url.Parse(proxy)
	if err != nil {
		t.Fatal(err)
	}

	transport, err := bridge.NewHTTPTransport(&bridge.TransportOptions{CAFile: caFile, Proxy: http.ProxyURL(proxyURL)})
	if err != nil {
		t.Fatal(err)
	}
	// Only the proxy may be dialled: were the proxy ignored, this refuses
	// example.com before any DNS lookup, so nothing leaves the machine.
	transport.DialContext = loopbackOnlyDial
	t.Cleanup(transport.CloseIdleConnections)

	// httptest's certificate is valid for example.com; the proxy tunnels
	// every CONNECT to the TLS mock.
	info := mock.Info()
	h := startBridge(t, &bridge.Options{
		URL:       "https://example.com/mcp/agents/" + info.AgentUUID,
		Token:     bridge.StaticToken{Value: info.Token, Source: "test"},
		Transport: transport,
		Logger:    testLogger(t),
	})
	if got := h.call("1", "tools/list", ""); !got.Get("result.tools").IsArray() {
		t.Fatalf("tools/list through the proxy = %.300s, want the tools", got.Raw)
	}
	select {
	case target := <-targets:
		if target != "example.com:443" {
			t.Errorf("the proxy was asked to CONNECT to %q, want example.com:443", target)
		}
	default:
		t.Error("the request did not go through the proxy")
	}
}

// loopbackOnlyDial dials loopback IP addresses and refuses anything else
// without resolving it.
func loopbackOnlyDial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("the test refuses to dial %s", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func TestDefaultTransportUsesProxyEnvironment(t *testing.T) {
	transport, err := bridge.NewHTTPTransport(nil)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.ValueOf(transport.Proxy).Pointer() != reflect.ValueOf(http.ProxyFromEnvironment).Pointer() {
		t.Error("the default transport does not take its proxy from HTTPS_PROXY, HTTP_PROXY and NO_PROXY")
	}
}

// connectProxy starts a loopback HTTP proxy that answers every CONNECT by
// tunnelling to target, and reports the host each CONNECT asked for.
func connectProxy(t testing.TB, target string) (string, <-chan string) {
	t.Helper()
	targets := make(chan string, 10)
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "this proxy only tunnels", http.StatusMethodNotAllowed)
			return
		}
		targets <- r.Host
		upstream, err := net.Dial("tcp", target)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		client, buffered, err := w.(http.Hijacker).Hijack()
		if err != nil {
			upstream.Close()
			return
		}
		mu.Lock()
		conns = append(conns, client, upstream)
		mu.Unlock()
		io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n")
		wg.Go(func() {
			io.Copy(upstream, buffered)
			upstream.Close()
		})
		wg.Go(func() {
			io.Copy(client, upstream)
			client.Close()
		})
	}))
	t.Cleanup(func() {
		srv.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return srv.URL, targets
}

func TestProcessExitsWhileStdoutBlocked(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGTERM is a Unix signal")
	}
	t.Parallel()
	srv := newMock(t, &mockserver.Options{Faults: []mockserver.Fault{{Method: "resources/list", Latency: 10 * time.Second}}})
	env, args := mockArgs(srv)
	p := startProcess(t, env, args...)

	// A request still in flight at SIGTERM gets a shutdown error, which
	// waits behind a write that cannot finish: the echoed reply below is four
	// times what a pipe holds, and nothing reads it.
	p.send(`{"jsonrpc":"2.0","id":1,"method":"resources/list"}`)
	p.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"` + strings.Repeat("b", 256<<10) + `"}}}`)
	time.Sleep(time.Second)

	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, took := p.waitExit(start)
	t.Logf("exited %v after SIGTERM with stdout blocked", took)
	if code != 0 {
		t.Errorf("exit status = %d, want 0", code)
	}
	if took > 5*time.Second {
		t.Errorf("exited %v after SIGTERM, want about 2s at most", took)
	}
}
