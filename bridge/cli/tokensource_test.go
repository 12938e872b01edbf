package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/internal/syncbuf"
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

// hangingBridge is a bridge in bridge mode whose --token-command never
// prints a token. Each run of the command starts a grandchild, sleep, and
// appends its process id to pidFile.
type hangingBridge struct {
	stdin   io.WriteCloser
	stderr  *syncbuf.Buffer
	replies chan string
	// code is Main's exit status, set before done is closed.
	code    int
	done    chan struct{}
	cancel  context.CancelFunc
	pidFile string
}

// startHangingBridge runs Main with a token command that sleeps for 100
// seconds.
func startHangingBridge(t *testing.T, h *harness, extraArgs ...string) *hangingBridge {
	t.Helper()
	hb := &hangingBridge{
		stderr:  &syncbuf.Buffer{},
		replies: make(chan string, 16),
		done:    make(chan struct{}),
		pidFile: filepath.Join(h.home, "sleep.pid"),
	}
	env := map[string]string{"JOAI_KEYCHAIN": "off", "JOAI_BASE_URL": h.mock.URL}
	for k, v := range h.env {
		env[k] = v
	}
	command := "sleep 100 & echo $! >> " + hb.pidFile + "; wait"
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	hb.stdin = stdinW
	ctx, cancel := context.WithCancel(t.Context())
	hb.cancel = cancel
	go func() {
		defer close(hb.done)
		args := append([]string{"--agent", h.info.AgentUUID, "--token-command", command}, extraArgs...)
		hb.code = Main(ctx, args, func(k string) string { return env[k] }, stdinR, stdoutW, hb.stderr)
		stdoutW.Close()
	}()
	go func() {
		sc := bufio.NewScanner(stdoutR)
		for sc.Scan() {
			hb.replies <- sc.Text()
		}
		close(hb.replies)
	}()
	t.Cleanup(func() {
		cancel()
		stdinW.Close()
		select {
		case <-hb.done:
		case <-time.After(20 * time.Second):
			t.Errorf("Main did not return; stderr:\n%s", hb.stderr.String())
		}
		if pid := hb.sleepPID(); pid > 0 {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
	})
	return hb
}

// send writes line to the bridge's stdin.
func (hb *hangingBridge) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(hb.stdin, line+"\n"); err != nil {
		t.Fatalf("writing to the bridge: %v", err)
	}
}

// waitForRun waits until the token command has run n times.
func (hb *hangingBridge) waitForRun(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for hb.runCount() < n || hb.sleepPID() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the token command ran %d times, want %d; stderr:\n%s", hb.runCount(), n, hb.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (hb *hangingBridge) runCount() int {
	b, _ := os.ReadFile(hb.pidFile)
	return strings.Count(string(b), "\n")
}

// sleepPID returns the process id of the last run's sleep, or 0.
func (hb *hangingBridge) sleepPID() int {
	b, _ := os.ReadFile(hb.pidFile)
	lines := strings.Fields(string(b))
	if len(lines) == 0 {
		return 0
	}
	pid, _ := strconv.Atoi(lines[len(lines)-1])
	return pid
}

// readReplies reads n replies, or fails after a generous deadline.
func (hb *hangingBridge) readReplies(t *testing.T, n int) map[string]string {
	t.Helper()
	got := map[string]string{}
	timeout := time.After(20 * time.Second)
	for len(got) < n {
		select {
		case line, ok := <-hb.replies:
			if !ok {
				t.Fatalf("stdout closed after %d of %d replies %v; stderr:\n%s", len(got), n, got, hb.stderr.String())
			}
			got[gjson.Get(line, "id").Raw] = line
		case <-timeout:
			t.Fatalf("got %d of %d replies %v; stderr:\n%s", len(got), n, got, hb.stderr.String())
		}
	}
	return got
}

// waitExit waits for Main to return, and checks that stdout then ends
// without another reply.
func (hb *hangingBridge) waitExit(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-hb.done:
		if hb.code != 0 {
			t.Errorf("Main = %d, want 0; stderr:\n%s", hb.code, hb.stderr.String())
		}
	case <-time.After(within):
		t.Fatalf("Main did not return within %v of the stop; stderr:\n%s", within, hb.stderr.String())
	}
	for line := range hb.replies {
		t.Errorf("extra reply after the stop: %s", line)
	}
}

// assertSleepStopped fails if the token command's grandchild still runs.
// A process that was killed but not yet reaped, because the test's process
// 1 does not reap orphans, counts as stopped.
func assertSleepStopped(t *testing.T, pid int) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return // the check reads /proc
	}
	// The kill can land just after the reply that the request's timeout
	// produced, so give it a few seconds.
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return // gone
		}
		// The state follows the command name in parentheses.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) == 0 || fields[0] == "Z" || fields[0] == "X" {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the token command's child %d is still running (state %s) 5 s after it should have been stopped", pid, fields[0])
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBridgeHangingTokenCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the token command is POSIX shell")
	}
	listLine := func(id int) string {
		return `{"jsonrpc":"2.0","id":` + strconv.Itoa(id) + `,"method":"tools/list"}`
	}
	stops := []struct {
		name string
		stop func(hb *hangingBridge)
	}{
		{name: "stdin-eof", stop: func(hb *hangingBridge) { hb.stdin.Close() }},
		// Main's context is the one SIGTERM and SIGINT cancel.
		{name: "signal", stop: func(hb *hangingBridge) { hb.cancel() }},
	}
	for _, tt := range stops {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			hb := startHangingBridge(t, h)
			hb.send(t, listLine(1))
			hb.waitForRun(t, 1)
			hb.send(t, listLine(2))
			tt.stop(hb)

			got := hb.readReplies(t, 2)
			for _, id := range []string{"1", "2"} {
				if code := gjson.Get(got[id], "error.code").Int(); code != -32060 {
					t.Errorf("reply to id %s = %s, want error -32060", id, got[id])
				}
			}
			// The bridge stops within 2 seconds; 10 leaves room for a
			// loaded machine.
			hb.waitExit(t, 10*time.Second)
			assertSleepStopped(t, hb.sleepPID())
			if n := hb.runCount(); n != 1 {
				t.Errorf("the token command ran %d times, want 1", n)
			}
		})
	}

	t.Run("request-timeout", func(t *testing.T) {
		h := newHarness(t)
		hb := startHangingBridge(t, h, "--timeout", "1s")
		hb.send(t, listLine(1))
		hb.waitForRun(t, 1)
		pid := hb.sleepPID()

		reply := hb.readReplies(t, 1)["1"]
		if code := gjson.Get(reply, "error.code").Int(); code != -32020 {
			t.Errorf("reply = %s, want error -32020", reply)
		}
		if msg := gjson.Get(reply, "error.message").Str; !strings.Contains(msg, "--token-command (sleep) was still running when the request timed out") {
			t.Errorf("reply has message %q, want it to name the command and the request's timeout", msg)
		}
		assertSleepStopped(t, pid)
		hb.stdin.Close()
		hb.waitExit(t, 10*time.Second)
	})

	t.Run("timeout", func(t *testing.T) {
		old := tokenCommandTimeout
		tokenCommandTimeout = time.Second
		t.Cleanup(func() { tokenCommandTimeout = old })
		h := newHarness(t)
		hb := startHangingBridge(t, h)
		hb.send(t, listLine(1))
		hb.waitForRun(t, 1)
		pid := hb.sleepPID()
		hb.send(t, listLine(2))

		got := hb.readReplies(t, 2)
		for _, id := range []string{"1", "2"} {
			reply := got[id]
			if code := gjson.Get(reply, "error.code").Int(); code != -32020 {
				t.Errorf("reply to id %s = %s, want error -32020", id, reply)
			}
			if msg := gjson.Get(reply, "error.message").Str; !strings.Contains(msg, "--token-command (sleep)") || !strings.Contains(msg, "timed out after 1s") {
				t.Errorf("reply to id %s has message %q, want it to name the command and the timeout", id, msg)
			}
		}
		if n := hb.runCount(); n != 1 {
			t.Errorf("the token command ran %d times for two requests, want 1", n)
		}
		if log := hb.stderr.String(); !strings.Contains(log, "timed out after 1s") {
			t.Errorf("the log does not report the timeout:\n%s", log)
		}
		assertSleepStopped(t, pid)
		hb.stdin.Close()
		hb.waitExit(t, 10*time.Second)
	})
}

func TestBridgeTokenCommandFailure(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the token command is POSIX shell")
	}
	h := newHarness(t)
	env := map[string]string{"JOAI_KEYCHAIN": "off", "JOAI_BASE_URL": h.mock.URL}
	for k, v := range h.env {
		env[k] = v
	}
	var stdout, stderr bytes.Buffer
	args := []string{"--agent", h.info.AgentUUID, "--token-command", "echo vault locked >&2; exit 3"}
	if code := Main(t.Context(), args, func(k string) string { return env[k] }, strings.NewReader(toolsListLine(1)+"\n"), &stdout, &stderr); code != 0 {
		t.Fatalf("Main = %d, want 0; stderr:\n%s", code, stderr.String())
	}

	// The host sees only the error, so the error carries the command's
	// standard error, and the log has it once, in the failed request.
	msg := gjson.Get(stdout.String(), "error.message").Str
	if want := "--token-command (echo) exited with status 3; its standard error: vault locked"; !strings.Contains(msg, want) {
		t.Errorf("error message = %q, want it to contain %q", msg, want)
	}
	if n := strings.Count(stderr.String(), "vault locked"); n != 1 {
		t.Errorf("the log has the command's standard error %d times, want 1:\n%s", n, stderr.String())
	}
}

func TestEnvTokenWithSpacesRejectedLikeLogin(t *testing.T) {
	h := newHarness(t)
	padded := " " + h.info.Token + " "
	const want = "the token starts with a space"

	_, stderr := h.mustRun(exitFailed, padded+"\n", "login", "--mock-url", h.mock.URL, "--agent", h.info.AgentUUID)
	if !strings.Contains(stderr, want) {
		t.Errorf("login with a padded token: stderr = %q, want %q", stderr, want)
	}

	h.env["JOAI_API_TOKEN"] = padded
	_, stderr = h.mustRun(exitFailed, "", "agents", "--mock-url", h.mock.URL)
	if !strings.Contains(stderr, want) {
		t.Errorf("agents with a padded JOAI_API_TOKEN: stderr = %q, want %q", stderr, want)
	}

	send := bridgeSession(t, h, "--agent", h.info.AgentUUID)
	reply := send(initializeLine)
	if msg := gjson.Get(reply, "error.message").Str; !strings.Contains(msg, want) {
		t.Errorf("bridge with a padded JOAI_API_TOKEN: initialize = %s, want an error containing %q", reply, want)
	}
	for _, r := range h.mock.Requests() {
		if r.Status == 200 {
			t.Errorf("the mock answered %s with 200, want no request with the padded token", r.Method)
		}
	}
}

func TestBlankEnvTokenIsRejected(t *testing.T) {
	h := newHarness(t)
	h.login()
	// A variable of spaces is a mistake in the host's env block, not a
	// reason to use the stored token instead.
	h.env["JOAI_API_TOKEN"] = "   "
	send := bridgeSession(t, h, "--agent", h.info.AgentUUID)
	reply := send(initializeLine)
	if msg := gjson.Get(reply, "error.message").Str; !strings.Contains(msg, "JOAI_API_TOKEN") || !strings.Contains(msg, "starts with a space") {
		t.Errorf("initialize with JOAI_API_TOKEN of spaces = %s, want an error naming the variable and the space", reply)
	}
}
