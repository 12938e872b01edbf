package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/joai-ai/joai-mcp/internal/syncbuf"
)

func TestInspectServesBridgeTraffic(t *testing.T) {
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	var stderr syncbuf.Buffer
	exit := make(chan int, 1)
	go func() {
		exit <- Main(context.Background(), []string{"--mock", "--inspect", "127.0.0.1:0"},
			func(string) string { return "" }, stdinR, stdoutW, &stderr)
		stdoutW.Close()
	}()
	t.Cleanup(func() {
		stdinW.Close()
		stdoutR.Close()
	})

	// Port 0 picks a free port, which the bridge logs.
	urlPattern := regexp.MustCompile(`msg="inspector listening".* url=(http://127\.0\.0\.1:\d+/)`)
	var pageURL string
	for deadline := time.Now().Add(20 * time.Second); pageURL == ""; time.Sleep(10 * time.Millisecond) {
		if m := urlPattern.FindStringSubmatch(stderr.String()); m != nil {
			pageURL = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bridge logged no inspector URL:\n%s", stderr.String())
		}
	}

	resp, err := http.Get(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: status %d, Content-Type %q, want the page", pageURL, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	conn, _, err := websocket.DefaultDialer.DialContext(t.Context(), "ws"+strings.TrimPrefix(pageURL, "http"),
		http.Header{"Origin": {strings.TrimSuffix(pageURL, "/")}})
	if err != nil {
		t.Fatalf("dialing the inspector feed: %v", err)
	}
	defer conn.Close()

	io.WriteString(stdinW, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"inspect-test","version":"1"}}}`+"\n")
	io.WriteString(stdinW, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`+"\n")
	go io.Copy(io.Discard, stdoutR)

	// The feed carries the relayed exchanges, with the token redacted.
	var methods []string
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for !slices.Contains(methods, "tools/list") {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("reading the feed (methods so far %q): %v", methods, err)
		}
		for _, line := range bytes.Split(msg, []byte("\n")) {
			var m struct {
				Kind  string `json:"kind"`
				Event struct {
					Source string `json:"source"`
					Method string `json:"method"`
					Token  string `json:"token"`
				} `json:"event"`
			}
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("decoding feed message %q: %v", line, err)
			}
			if m.Kind != "event" {
				continue
			}
			if m.Event.Source != "bridge" || (m.Event.Token != "" && !strings.HasPrefix(m.Event.Token, "…")) {
				t.Errorf("event %+v, want source bridge and a redacted token", m.Event)
			}
			methods = append(methods, m.Event.Method)
		}
	}

	stdinW.Close()
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("Main = %d, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the bridge did not stop after stdin closed")
	}
	if _, err := http.Get(pageURL); err == nil {
		t.Errorf("the inspector still serves %s after the bridge stopped", pageURL)
	}
}

func TestInspectRejectsNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8222", ":8222", "192.0.2.1:8222", "8222"} {
		t.Run(addr, func(t *testing.T) {
			var stderr syncbuf.Buffer
			code := Main(context.Background(), []string{"--mock", "--inspect", addr},
				func(string) string { return "" }, strings.NewReader(""), io.Discard, &stderr)
			if code != bridgeExitUsage {
				t.Errorf("Main with --inspect %s = %d, want %d", addr, code, bridgeExitUsage)
			}
			if msg := stderr.String(); !strings.Contains(msg, "--inspect") || !strings.Contains(msg, addr) || !strings.Contains(msg, "127.0.0.1:8222") {
				t.Errorf("stderr = %q, want it to name --inspect, the address and an example", msg)
			}
		})
	}
}
