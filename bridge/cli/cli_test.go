package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/mockserver"
)

// runMain runs Main with stdin and env and returns the exit status and the
// two outputs.
func runMain(t testing.TB, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(t.Context(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestHelpListsEveryFlag(t *testing.T) {
	code, stdout, stderr := runMain(t, nil, "", "--help")
	if code != 0 || stderr != "" {
		t.Fatalf("--help = %d, stderr %q; want 0 and nothing on stderr", code, stderr)
	}
	var cfg config
	newFlagSet(&cfg, io.Discard).VisitAll(func(f *flag.Flag) {
		if !strings.Contains(stdout, "-"+f.Name) {
			t.Errorf("--help does not list -%s", f.Name)
		}
	})
	for _, want := range []string{"(default 20s)", "(default 5m0s)", "default 64MiB", "(default 64)", "JOAI_API_TOKEN", "JOAI_AGENT_UUID", "JOAI_BASE_URL", DefaultBaseURL, "HTTPS_PROXY", "NO_PROXY"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runMain(t, nil, "", "--version")
	if code != 0 || !strings.HasPrefix(stdout, "joai-bridge ") {
		t.Errorf("--version = %d, %q; want 0 and \"joai-bridge VERSION\"", code, stdout)
	}
}

func TestConfigurationErrors(t *testing.T) {
	token := map[string]string{"JOAI_API_TOKEN": "joai_test_token_123456"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{name: "unknown-flag", args: []string{"--nope"}, want: "-nope"},
		{name: "unknown-command", args: []string{"frobnicate"}, want: `unknown command "frobnicate"`},
		{name: "extra-argument", args: []string{"--agent", "x", "extra"}, want: `unexpected argument "extra"`},
		{name: "no-agent", env: token, want: "--agent"},
		{name: "bad-agent", env: token, args: []string{"--agent", "a/b"}, want: `agent "a/b" is not a UUID`},
		{name: "agent-not-uuid", env: token, args: []string{"--agent", "not-a-uuid"}, want: `agent "not-a-uuid" is not a UUID such as 0b7e2c9a-1d3f-4c5e-8a6b-9c0d1e2f3a4b`},
		{name: "env-agent-not-uuid", env: map[string]string{"JOAI_API_TOKEN": "joai_test_token_123456", "JOAI_AGENT_UUID": "ada"}, want: `agent "ada" is not a UUID`},
		{name: "mock-agent-not-uuid", args: []string{"--mock", "--agent", "not-a-uuid"}, want: `agent "not-a-uuid" is not a UUID`},
		{name: "bad-base-url", env: map[string]string{"JOAI_API_TOKEN": "t", "JOAI_BASE_URL": "::"}, args: []string{"--agent", "0b7e2c9a-1d3f-4c5e-8a6b-9c0d1e2f3a4b"}, want: "JOAI_BASE_URL"},
		{name: "url-and-agent", env: token, args: []string{"--url", "https://example.com/mcp", "--agent", "x"}, want: "cannot be combined"},
		{name: "mock-and-url", args: []string{"--mock", "--url", "https://example.com/mcp"}, want: "cannot be combined"},
		{name: "insecure-http", env: token, args: []string{"--url", "http://example.com/mcp"}, want: "--allow-insecure-http"},
		{name: "bad-size", env: token, args: []string{"--agent", "x", "--max-message-size", "lots"}, want: `invalid size "lots"`},
		{name: "zero-size", env: token, args: []string{"--agent", "x", "--max-message-size", "0"}, want: "invalid size"},
		{name: "bad-duration", env: token, args: []string{"--agent", "x", "--timeout", "soon"}, want: "-timeout"},
		{name: "bad-concurrency", env: token, args: []string{"--agent", "x", "--max-concurrent", "0"}, want: "--max-concurrent"},
		{name: "negative-rpm", env: token, args: []string{"--agent", "x", "--max-rpm", "-1"}, want: "--max-rpm"},
		{name: "bad-log-level", env: token, args: []string{"--agent", "x", "--log-level", "loud"}, want: "--log-level"},
		{name: "missing-ca-file", env: token, args: []string{"--agent", "x", "--ca-file", "/nonexistent/ca.pem"}, want: "/nonexistent/ca.pem"},
		{name: "log-file-in-missing-dir", env: token, args: []string{"--agent", "x", "--log-file", "/nonexistent/dir/log"}, want: "--log-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, tt.env, "", tt.args...)
			if code != 2 {
				t.Errorf("exit status = %d, want 2", code)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing: stdout is for JSON-RPC only", stdout)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to mention %q", stderr, tt.want)
			}
		})
	}
}

func TestRelayFromEnvironment(t *testing.T) {
	srv := mockserver.NewServer(nil)
	t.Cleanup(srv.Close)
	info := srv.Info()
	env := map[string]string{"JOAI_API_TOKEN": info.Token, "JOAI_AGENT_UUID": info.AgentUUID, "JOAI_BASE_URL": srv.URL}

	code, stdout, stderr := runMain(t, env, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`+"\n")
	if code != 0 {
		t.Fatalf("exit status = %d, want 0; stderr:\n%s", code, stderr)
	}
	if !gjson.Get(stdout, "result.tools").IsArray() {
		t.Errorf("stdout = %.300q, want the tools", stdout)
	}
	if strings.Contains(stderr, info.Token) {
		t.Errorf("stderr contains the token: %s", stderr)
	}
}

func TestTokenFileAndLogFile(t *testing.T) {
	srv := mockserver.NewServer(nil)
	t.Cleanup(srv.Close)
	info := srv.Info()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(info.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "bridge.log")

	code, stdout, stderr := runMain(t, nil, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`+"\n",
		"--url", srv.AgentURL(info.AgentUUID), "--token-file", tokenFile, "--log-file", logFile, "--log-level", "debug")
	if code != 0 || !gjson.Get(stdout, "result.tools").IsArray() {
		t.Fatalf("exit status = %d, stdout = %.300q; want 0 and the tools", code, stdout)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing with --log-file", stderr)
	}
	logs, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logs), "msg=relayed") || !strings.Contains(string(logs), "token-file") {
		t.Errorf("log file = %q, want a debug line per request and the token source", logs)
	}
	if strings.Contains(string(logs), info.Token) {
		t.Errorf("the log file contains the token")
	}
}

func TestEmbeddedMock(t *testing.T) {
	stdin := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}` + "\n" +
		`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n" +
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"Hello from API!"}}}` + "\n"
	code, stdout, stderr := runMain(t, nil, stdin, "--mock")
	if code != 0 {
		t.Fatalf("--mock exit status = %d; stderr:\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("--mock wrote %d lines, want 2: %q", len(lines), stdout)
	}
	// The two requests run concurrently, so their responses come in either
	// order.
	byID := map[string]string{}
	for _, line := range lines {
		byID[gjson.Get(line, "id").Raw] = line
	}
	if gjson.Get(byID["0"], "result.serverInfo.name").Str != "joai-mock" {
		t.Errorf("initialize = %s, want the mock's", byID["0"])
	}
	if !strings.Contains(gjson.Get(byID["1"], "result.content.0.text").Str, "Ada") {
		t.Errorf("prompt_agent = %s, want Ada's reply", byID["1"])
	}
}

func TestTokenSourceOrder(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	src, err := tokenSource(config{tokenFile: "/x"}, env(map[string]string{"JOAI_API_TOKEN": "t"}))
	if err != nil || src.Describe() != "--token-file /x" {
		t.Errorf("with --token-file and JOAI_API_TOKEN: %v, %v; want the file", src, err)
	}
	src, err = tokenSource(config{}, env(map[string]string{"JOAI_API_TOKEN": "t"}))
	if err != nil || src.Describe() != "JOAI_API_TOKEN" {
		t.Errorf("with JOAI_API_TOKEN: %v, %v; want the variable", src, err)
	}

	saved := defaultTokenSource
	t.Cleanup(func() { defaultTokenSource = saved })
	defaultTokenSource = nil
	if _, err := tokenSource(config{}, env(nil)); err == nil || !strings.Contains(err.Error(), "JOAI_API_TOKEN") {
		t.Errorf("with no source at all: error %v, want one naming JOAI_API_TOKEN", err)
	}
	defaultTokenSource = func(func(string) string) (bridge.TokenSource, error) {
		return bridge.StaticToken{Value: "k", Source: "the keychain"}, nil
	}
	src, err = tokenSource(config{}, env(nil))
	if err != nil || src.Describe() != "the keychain" {
		t.Errorf("with only a default source: %v, %v; want the default source", src, err)
	}
}

func TestByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"1048576", 1 << 20}, {"64MiB", 64 << 20}, {"64M", 64 << 20}, {"512KiB", 512 << 10},
		{"10MB", 10e6}, {"1GiB", 1 << 30}, {" 2 KiB ", 2 << 10}, {"100B", 100},
	}
	for _, tt := range tests {
		var s byteSize
		if err := s.Set(tt.in); err != nil || int64(s) != tt.want {
			t.Errorf("Set(%q) = %d, %v; want %d", tt.in, s, err, tt.want)
		}
	}
	for _, bad := range []string{"", "-1", "0", "1.5MiB", "2TiB", "lots", "MiB"} {
		var s byteSize
		if err := s.Set(bad); err == nil {
			t.Errorf("Set(%q) = %d, want an error", bad, s)
		}
	}
	s := byteSize(64 << 20)
	if got := s.String(); got != "64MiB" {
		t.Errorf("String() = %q, want 64MiB", got)
	}
}

func TestOptionHooks(t *testing.T) {
	saved := optionHooks
	t.Cleanup(func() { optionHooks = saved })
	var seen string
	var stopped bool
	optionHooks = append(slices.Clone(optionHooks), func(fs *flag.FlagSet) optionApply {
		fs.StringVar(&seen, "test-hook", "", "a test flag")
		return func(ctx context.Context, opts *bridge.Options, _ *slog.Logger) (func(), error) {
			if opts.URL == "" {
				t.Error("hook applied before the URL was set")
			}
			return func() { stopped = true }, nil
		}
	})
	code, _, stderr := runMain(t, nil, "", "--mock", "--test-hook", "on")
	if code != 0 {
		t.Fatalf("exit status = %d; stderr:\n%s", code, stderr)
	}
	if seen != "on" || !stopped {
		t.Errorf("hook flag = %q, stopped = %v; want on, true", seen, stopped)
	}
}

func TestEndpointURLLowerCasesAgent(t *testing.T) {
	env := func(name string) string {
		if name == "JOAI_BASE_URL" {
			return "http://127.0.0.1:8787"
		}
		return ""
	}
	got, err := endpointURL(config{agent: "9B2F6C1E-4D7A-4E3B-8C15-2A6F0D9E7B41"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if want := "http://127.0.0.1:8787/mcp/agents/9b2f6c1e-4d7a-4e3b-8c15-2a6f0d9e7b41"; got != want {
		t.Errorf("endpointURL = %q, want %q", got, want)
	}
}

func TestMCPRemoteHabitsGetHints(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"url-argument", []string{"http://127.0.0.1:8787/mcp/agents/9b2f6c1e-4d7a-4e3b-8c15-2a6f0d9e7b41"}, "--url http://127.0.0.1:8787/mcp/agents/"},
		{"header-flag", []string{"--url", "http://127.0.0.1:1/mcp", "--header", "Authorization: Bearer joai_test_0123456789abcdef"}, "there is no --header flag"},
		{"header-equals", []string{"--header=Authorization:Bearer joai_test_0123456789abcdef"}, "JOAI_API_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, nil, "", tt.args...)
			if code != 2 {
				t.Errorf("exit status = %d, want 2", code)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want)
			}
			if strings.Contains(stderr, "0123456789abcdef") {
				t.Errorf("stderr repeats the token: %q", stderr)
			}
		})
	}
}

func TestHelpListsEnvironment(t *testing.T) {
	code, stdout, _ := runMain(t, nil, "", "--help")
	if code != 0 {
		t.Fatalf("--help exit status = %d, want 0", code)
	}
	for _, name := range []string{"JOAI_API_TOKEN", "JOAI_AGENT_UUID", "JOAI_BASE_URL", "JOAI_API_URL", "JOAI_KEYCHAIN"} {
		if !strings.Contains(stdout, name) {
			t.Errorf("--help does not mention %s", name)
		}
	}
}
