package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// bridgeSession runs Main in bridge mode with the harness's environment and
// returns a function that sends one line and reads the reply line.
func bridgeSession(t *testing.T, h *harness, args ...string) func(line string) string {
	t.Helper()
	env := map[string]string{"JOAI_KEYCHAIN": "off", "JOAI_BASE_URL": h.mock.URL}
	for k, v := range h.env {
		env[k] = v
	}
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	var stderr strings.Builder
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, args, func(k string) string { return env[k] }, stdinR, stdoutW, &stderr)
		stdoutW.Close()
	}()
	t.Cleanup(func() {
		stdinW.Close()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("Main = %d, want 0; stderr:\n%s", code, stderr.String())
			}
		case <-time.After(20 * time.Second):
			t.Errorf("Main did not return after stdin closed")
		}
		cancel()
		h.outputs = append(h.outputs, stderr.String())
	})

	lines := bufio.NewReader(stdoutR)
	return func(line string) string {
		t.Helper()
		if _, err := io.WriteString(stdinW, line+"\n"); err != nil {
			t.Fatalf("writing to the bridge: %v", err)
		}
		if strings.Contains(line, `"id"`) {
			got := make(chan string, 1)
			go func() {
				s, _ := lines.ReadString('\n')
				got <- s
			}()
			select {
			case s := <-got:
				h.outputs = append(h.outputs, s)
				return s
			case <-time.After(20 * time.Second):
				t.Fatalf("no reply to %s; stderr:\n%s", line, stderr.String())
			}
		}
		return ""
	}
}

const (
	initializeLine  = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}`
	initializedLine = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
)

func toolsListLine(id int) string {
	return `{"jsonrpc":"2.0","id":` + string(rune('0'+id)) + `,"method":"tools/list"}`
}

// assertToolsResult fails unless reply is a tools/list result.
func assertToolsResult(t *testing.T, reply string) {
	t.Helper()
	var m struct {
		Result struct {
			Tools []json.RawMessage `json:"tools"`
		} `json:"result"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal([]byte(reply), &m); err != nil || m.Error != nil || len(m.Result.Tools) != 3 {
		t.Fatalf("reply = %s, want a tools/list result with 3 tools", reply)
	}
}

// TestBridgeStoredTokenRotation runs the bridge with the token that login
// stored in the fallback file, rotates it through the mock's token API and
// login, and checks that the bridge picks up the new token after one 401.
func TestBridgeStoredTokenRotation(t *testing.T) {
	h := newHarness(t)
	oldID, oldToken := h.createToken("desktop")
	h.mustRun(exitOK, oldToken+"\n", "login", "--mock-url", h.mock.URL, "--agent", h.info.AgentUUID)

	send := bridgeSession(t, h, "--agent", h.info.AgentUUID)
	send(initializeLine)
	send(initializedLine)
	assertToolsResult(t, send(toolsListLine(2)))

	_, newToken := h.createToken("desktop rotated")
	h.revokeToken(oldID)
	h.mustRun(exitOK, newToken+"\n", "login", "--mock-url", h.mock.URL, "--agent", h.info.AgentUUID)
	h.mock.ClearRequests()

	assertToolsResult(t, send(toolsListLine(3)))
	var statuses []int
	for _, r := range h.mock.Requests() {
		statuses = append(statuses, r.Status)
	}
	if len(statuses) != 2 || statuses[0] != 401 || statuses[1] != 200 {
		t.Errorf("statuses after the rotation = %v, want [401 200]", statuses)
	}
}

func TestBridgeTokenCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the token command is POSIX shell")
	}
	h := newHarness(t)
	path := filepath.Join(h.home, "vault.token")
	if err := os.WriteFile(path, []byte(h.info.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	send := bridgeSession(t, h, "--agent", h.info.AgentUUID, "--token-command", "cat "+path)
	send(initializeLine)
	send(initializedLine)
	assertToolsResult(t, send(toolsListLine(2)))
}

func TestBridgeRejectsMalformedEnvToken(t *testing.T) {
	h := newHarness(t)
	h.env["JOAI_API_TOKEN"] = `"` + h.info.Token + `"`
	send := bridgeSession(t, h, "--agent", h.info.AgentUUID)
	reply := send(initializeLine)
	if !strings.Contains(reply, "quote character") || strings.Contains(reply, h.info.Token) {
		t.Errorf("initialize with a quoted token = %s, want an error naming the quotes", reply)
	}
}
