package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joai-ai/joai-mcp/internal/syncbuf"
	"github.com/joai-ai/joai-mcp/mockserver"
)

// start runs the command with args until the test ends and returns its
// startup line and everything it wrote to stdout and stderr.
func start(t *testing.T, args ...string) (mockserver.Info, *syncbuf.Buffer, *syncbuf.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	stdout, stderr := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	code := make(chan int, 1)
	go func() {
		// stdout first, so the buffer has the startup line by the time the
		// reader below has it.
		code <- run(ctx, args, io.MultiWriter(stdout, pw), stderr)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case c := <-code:
			if c != 0 {
				t.Errorf("run returned %d after cancel, want 0; stderr:\n%s", c, stderr)
			}
		case <-time.After(10 * time.Second):
			t.Error("run did not return within 10 s of cancel")
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	if err != nil {
		t.Fatalf("reading the startup line: %v; stderr:\n%s", err, stderr)
	}
	var in mockserver.Info
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("startup line %q: %v", line, err)
	}
	return in, stdout, stderr
}

func post(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStartupLineAndURL(t *testing.T) {
	in, stdout, stderr := start(t, "--listen", "127.0.0.1:0", "--log-level", "debug")
	if !strings.HasPrefix(in.URL, "http://127.0.0.1:") || in.AgentUUID == "" || in.Token == "" ||
		in.RevokedToken == "" || in.OtherAgentUUID == "" || in.OtherTeamToken == "" {
		t.Errorf("startup line = %+v, want the URL and every seed value", in)
	}
	status, body := post(t, in.URL+"/mcp/agents/"+in.AgentUUID, in.Token, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if status != 200 || !strings.Contains(body, `"prompt_agent"`) {
		t.Errorf("tools/list = %d %s", status, body)
	}
	if status, _ := post(t, in.URL+"/mcp/agents/"+in.AgentUUID, in.RevokedToken, `{}`); status != 401 {
		t.Errorf("revoked token = %d, want 401", status)
	}
	if lines := strings.Count(stdout.String(), "\n"); lines != 1 {
		t.Errorf("stdout has %d lines, want exactly one:\n%s", lines, stdout)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stderr.String(), "method=tools/list") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	logs := stderr.String()
	if !strings.Contains(logs, "method=tools/list") {
		t.Errorf("debug log lacks the request line:\n%s", logs)
	}
	if strings.Contains(logs, in.Token) || strings.Contains(logs, in.RevokedToken) {
		t.Errorf("stderr contains a token:\n%s", logs)
	}
}

func TestFlagsReachTheServer(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	in, _, _ := start(t, "--listen", "127.0.0.1:0", "--state", state, "--rpm", "1", "--burst", "-1", "--window", "1h",
		"--fail-status", "503", "--fail-count", "1", "--fail-method", "ping")
	url := in.URL + "/mcp/agents/" + in.AgentUUID
	if status, _ := post(t, url, in.Token, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); status != 503 {
		t.Errorf("first ping = %d, want the injected 503", status)
	}
	if status, _ := post(t, url, in.Token, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_memory","arguments":{"content":"flag test"}}}`); status != 200 {
		t.Errorf("create_memory = %d, want 200", status)
	}
	if status, _ := post(t, url, in.Token, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); status != 429 {
		t.Errorf("request over --rpm 1 = %d, want 429", status)
	}
	if _, err := mockserver.New(&mockserver.Options{StateFile: state}); err != nil {
		t.Errorf("the --state file does not load: %v", err)
	}
}

func TestModeFlags(t *testing.T) {
	in, _, _ := start(t, "--listen", "127.0.0.1:0", "--plain", "--max-body", "100")
	url := in.URL + "/mcp/agents/" + in.AgentUUID
	_, body := post(t, url, in.Token, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`)
	if !strings.Contains(body, "-32601") {
		t.Errorf("initialize with --plain = %s, want -32601", body)
	}
	if status, _ := post(t, url, in.Token, `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"`+strings.Repeat("x", 100)+`"}}`); status != 413 {
		t.Errorf("body over --max-body = %d, want 413", status)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"remote-address", []string{"--listen", "0.0.0.0:0"}, 2, "not a loopback address"},
		{"all-interfaces", []string{"--listen", ":0"}, 2, "not a loopback address"},
		{"host-name", []string{"--listen", "example.invalid:0"}, 2, "not a loopback address"},
		{"not-host-port", []string{"--listen", "127.0.0.1"}, 2, "not host:port"},
		{"plain-and-sessions", []string{"--plain", "--sessions"}, 2, "conflict"},
		{"bad-log-level", []string{"--log-level", "loud"}, 2, "--log-level"},
		{"bad-drop", []string{"--drop", "sideways"}, 2, `drop "sideways"`},
		{"bad-fault-status", []string{"--fault", `{"status":99}`}, 2, "status 99"},
		{"bad-fault-json", []string{"--fault", `{"stauts":1}`}, 2, `unknown fault field "stauts"`},
		{"fault-not-json", []string{"--fault", `status=503`}, 2, "not valid JSON"},
		{"empty-fault", []string{"--fault", `{}`}, 2, "the fault has no effect"},
		{"array-fault", []string{"--fault", `[{"status":503}]`}, 2, "not an array"},
		{"negative-window", []string{"--window", "-1s"}, 2, "negative"},
		{"zero-max-body", []string{"--max-body", "0"}, 2, "--max-body"},
		{"stray-argument", []string{"serve"}, 2, "unexpected argument"},
		{"missing-seed", []string{"--seed", "/nonexistent/seed.json", "--listen", "127.0.0.1:0"}, 1, "seed.json"},
		{"unknown-flag", []string{"--colour"}, 2, "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tt.args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("run(%q) = %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing on a usage error", stdout.String())
			}
			if strings.Contains(stderr.String(), "Usage:") {
				t.Errorf("stderr = %q, want the error without the usage", stderr.String())
			}
			if tt.code == 2 && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("stderr = %q, want one line", stderr.String())
			}
			if strings.Contains(stderr.String(), "mockserver.") {
				t.Errorf("stderr = %q names a Go type", stderr.String())
			}
		})
	}
}

func TestBadFlagValueNamesHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"--fault", "{}"}, &stdout, &stderr); code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	for _, want := range []string{"-fault", "--help"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr = %q, want it to contain %q", stderr.String(), want)
		}
	}
}

func TestHelpNamesUnitsAndDefaults(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"--help"}, &stdout, &stderr); code != 0 {
		t.Errorf("--help exit code = %d, want 0", code)
	}
	help := stderr.String()
	for _, want := range []string{"127.0.0.1:8787", "else 600", "else 60", "else 16", "else 1m", "bytes", "(default 4194304)", "--allow-remote", "--no-get-stream", "--sse", "--sessions", "--latency"} {
		if !strings.Contains(help, strings.TrimPrefix(want, "-")) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
}
