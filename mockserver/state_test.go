package mockserver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	childEnv      = "JOAI_MOCK_TEST_CHILD"
	childStateEnv = "JOAI_MOCK_TEST_STATE"
)

// runChild is the re-executed test binary: a server with a state file that
// prints its Info line and serves until it is killed.
func runChild() {
	s, err := New(&Options{StateFile: os.Getenv(childStateEnv), Limits: Limits{RequestsPerMinute: -1, Concurrent: -1}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	s.Start()
	line, _ := json.Marshal(s.Info())
	fmt.Printf("%s\n", line)
	select {}
}

func readMemories(tb testing.TB, s *Server, uuid, token string) []any {
	tb.Helper()
	got := do(tb, "POST", s.AgentURL(uuid), token,
		`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"mcp://agent/`+uuid+`/memories"}}`)
	text := field(tb, got.body, "result.contents").([]any)[0].(map[string]any)["text"].(string)
	return field(tb, text, "memories").([]any)
}

func TestStatePersistsAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := startServer(t, &Options{StateFile: path})
	in := s.Info()
	rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_memory","arguments":{"content":"Survives restarts."}}}`)
	rpc(t, s, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"update_memory","arguments":{"memoryId":"mem-0002","content":"Project renamed to Beacon."}}}`)
	created := do(t, "POST", s.URL+"/api/tokens", in.Token, `{"name":"Restart check"}`)
	newToken, _ := field(t, created.body, "token").(string)
	if revoked := do(t, "DELETE", s.URL+"/api/tokens/tok_babbage_ci", in.Token, ""); revoked.status != 200 {
		t.Fatalf("revoke = %d %s", revoked.status, revoked.body)
	}
	s.Close()

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{in.Token, in.RevokedToken, in.OtherTeamToken, newToken} {
		if strings.Contains(string(data), tok) {
			t.Errorf("state file contains a token value ending …%s", tok[len(tok)-4:])
		}
	}

	// The second server gets another seed, which the state file overrides.
	other := DefaultSeed()
	other.Memories = nil
	s2 := startServer(t, &Options{StateFile: path, Seed: other})
	mems := readMemories(t, s2, in.AgentUUID, in.Token)
	var contents []string
	for _, m := range mems {
		contents = append(contents, m.(map[string]any)["content"].(string))
	}
	want := []string{"The user prefers answers in British English.", "Project renamed to Beacon.", "Survives restarts."}
	if strings.Join(contents, "|") != strings.Join(want, "|") {
		t.Errorf("memories after restart = %q, want %q", contents, want)
	}
	if got := do(t, "POST", s2.AgentURL(in.AgentUUID), newToken, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); got.status != 200 {
		t.Errorf("created token after restart: %d %s", got.status, got.body)
	}
	babbage := "4e8d2a17-93c6-4b05-a1f8-6c3e9d0b2a54"
	if got := do(t, "POST", s2.AgentURL(babbage), "joai_mock_babbage_8c2e6a4f0d1b3957e4a0", `{"jsonrpc":"2.0","id":1,"method":"ping"}`); got.status != 401 {
		t.Errorf("revoked token after restart: %d %s, want 401", got.status, got.body)
	}
	created2 := rpc(t, s2, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_memory","arguments":{"content":"After restart."}}}`)
	if id := field(t, created2.body, "result.structuredContent.memoryId"); id != "mem-0005" {
		t.Errorf("memory id after restart = %v, want mem-0005 (ids are not reused)", id)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("state directory holds %d entries, want only the state file (temporary files removed)", len(entries))
	}
}

func TestResetPersistsSeed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s := startServer(t, &Options{StateFile: path})
	in := s.Info()
	rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_memory","arguments":{"content":"Gone after reset."}}}`)
	s.Reset()
	if n := len(readMemories(t, s, in.AgentUUID, in.Token)); n != 2 {
		t.Errorf("memories after Reset = %d, want the seed's 2", n)
	}
	s.Close()
	if strings.Contains(readFile(t, path), "Gone after reset.") {
		t.Error("state file still has a memory created before Reset")
	}
}

func readFile(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func TestStateFileErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"not-json", "{", "decoding"},
		{"wrong-version", `{"version":9,"agents":[],"tokens":[],"memories":[]}`, "version 9"},
		{"unknown-field", `{"version":1,"agents":[],"tokens":[],"memories":[],"extra":1}`, "unknown field"},
		{"bad-hash", `{"version":1,"agents":[{"uuid":"a","team":"t","name":"A","character":""}],"tokens":[{"id":"x","name":"x","team":"t","agent_uuid":"a","status":"active","created_at":"2025-01-01T00:00:00Z","sha256":"zz"}],"memories":[]}`, "sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := New(&Options{StateFile: path})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("New() error = %v, want one naming %s and containing %q", err, path, tt.want)
			}
		})
	}
}

func TestStateWriteFailureIsNotAcknowledged(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, &Options{StateFile: filepath.Join(dir, "state.json")})
	in := s.Info()
	// With its directory gone, the state file cannot be replaced, even by
	// root.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_memory","arguments":{"content":"Never saved."}}}`)
	if code := field(t, got.body, "error.code"); fmt.Sprint(code) != "-32603" {
		t.Errorf("create_memory with a failing state file = %s, want error -32603", got.body)
	}
	if n := len(readMemories(t, s, in.AgentUUID, in.Token)); n != 2 {
		t.Errorf("memories = %d, want 2: a write that was not saved must not show", n)
	}
	got = rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"update_memory","arguments":{"memoryId":"mem-0001","content":"Never saved."}}}`)
	if code := field(t, got.body, "error.code"); fmt.Sprint(code) != "-32603" {
		t.Errorf("update_memory with a failing state file = %s, want error -32603", got.body)
	}
	if c := readMemories(t, s, in.AgentUUID, in.Token)[0].(map[string]any)["content"]; c != "The user prefers answers in British English." {
		t.Errorf("mem-0001 = %q after a failed update, want the old content", c)
	}
}

func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=serve", childStateEnv+"="+path)
	cmd.Stderr = tbWriter{t}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the child's Info line: %v", err)
	}
	var in Info
	if err := json.Unmarshal([]byte(line), &in); err != nil {
		t.Fatalf("child's Info line %q: %v", line, err)
	}

	// Two writers create memories as fast as they can; the child is killed
	// right after the 20th acknowledgement, while writes are in flight.
	var (
		mu    sync.Mutex
		acked []string
		once  sync.Once
		done  = make(chan struct{})
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				content := fmt.Sprintf("crash-%d-%d", w, i)
				req, _ := http.NewRequest("POST", in.URL+"/mcp/agents/"+in.AgentUUID, strings.NewReader(
					`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_memory","arguments":{"content":"`+content+`"}}}`))
				req.Header.Set("Authorization", "Bearer "+in.Token)
				resp, err := client.Do(req)
				if err != nil {
					return // the child is gone
				}
				var body struct {
					Result *struct{} `json:"result"`
				}
				err = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if err != nil || body.Result == nil {
					return
				}
				mu.Lock()
				acked = append(acked, content)
				n := len(acked)
				mu.Unlock()
				if n >= 20 {
					once.Do(func() {
						cmd.Process.Signal(syscall.SIGKILL)
						close(done)
					})
					return
				}
			}
		}()
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the child acknowledged fewer than 20 writes in 60 s")
	}
	wg.Wait()
	cmd.Wait()
	killed = true

	data := readFile(t, path)
	var sf stateFile
	if err := json.Unmarshal([]byte(data), &sf); err != nil {
		t.Fatalf("state file after SIGKILL does not parse: %v\n%s", err, data)
	}
	have := map[string]bool{}
	for _, m := range sf.Memories {
		have[m.Content] = true
	}
	mu.Lock()
	defer mu.Unlock()
	for _, c := range acked {
		if !have[c] {
			t.Errorf("acknowledged memory %q is missing from the state file", c)
		}
	}
	if _, err := New(&Options{StateFile: path}); err != nil {
		t.Errorf("a server cannot start from the state file left by SIGKILL: %v", err)
	}
}
