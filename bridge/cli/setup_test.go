package cli

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/joai-ai/joai-mcp/bridge/credentials"
	"github.com/joai-ai/joai-mcp/mockserver"
)

// setupRuns are the setup subcommands, called without the root dispatch so
// that tests can replace the keychain.
var setupRuns = map[string]func(*invocation) int{
	"login": runLogin, "logout": runLogout, "status": runStatus, "agents": runAgents,
	"doctor": runDoctor, "call": runCall, "read": runRead, "config": runConfig,
}

// harness runs setup subcommands for a user whose home is a temporary
// directory, against an in-process mock, with the keychain replaced. It
// checks at cleanup that no token reached any output or written file.
type harness struct {
	t       testing.TB
	mock    *mockserver.Server
	info    mockserver.Info
	home    string
	env     map[string]string
	keyring credentials.Keyring
	// secrets are every token value the test used.
	secrets []string
	// outputs are every stdout and stderr produced.
	outputs []string
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	mock := mockserver.NewServer(nil)
	t.Cleanup(mock.Close)
	home := t.TempDir()
	h := &harness{
		t: t, mock: mock, info: mock.Info(), home: home,
		env: map[string]string{
			"HOME":            home,
			"USERPROFILE":     home,
			"XDG_CONFIG_HOME": filepath.Join(home, ".config"),
			"APPDATA":         filepath.Join(home, "AppData", "Roaming"),
		},
		keyring: credentials.NoKeyring("no Secret Service in this test"),
	}
	h.secrets = append(h.secrets, h.info.Token, h.info.RevokedToken, h.info.OtherTeamToken)
	t.Cleanup(h.scanForTokens)
	return h
}

// run runs one subcommand with stdin and returns its outputs and status.
func (h *harness) run(stdin string, args ...string) (string, string, int) {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	inv := &invocation{
		ctx:     h.t.Context(),
		args:    args[1:],
		getenv:  func(k string) string { return h.env[k] },
		stdin:   strings.NewReader(stdin),
		stdout:  &stdout,
		stderr:  &stderr,
		keyring: h.keyring,
		executable: func() (string, error) {
			return filepath.Join(h.home, "bin", "joai-bridge"), nil
		},
		goos: "linux",
	}
	cmd, ok := setupRuns[args[0]]
	if !ok {
		h.t.Fatalf("no setup subcommand %q", args[0])
	}
	code := cmd(inv)
	h.outputs = append(h.outputs, stdout.String(), stderr.String())
	return stdout.String(), stderr.String(), code
}

// mustRun is run that fails the test unless the status is want.
func (h *harness) mustRun(want int, stdin string, args ...string) (string, string) {
	h.t.Helper()
	stdout, stderr, code := h.run(stdin, args...)
	if code != want {
		h.t.Fatalf("joai-bridge %s = status %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, stdout, stderr)
	}
	return stdout, stderr
}

// login stores the mock's token for its first agent through the fallback
// file.
func (h *harness) login() {
	h.t.Helper()
	h.mustRun(exitOK, h.info.Token+"\n", "login", "--mock-url", h.mock.URL, "--agent", h.info.AgentUUID)
}

// fallbackFile returns the path of the fallback token file.
func (h *harness) fallbackFile() string {
	return filepath.Join(h.env["XDG_CONFIG_HOME"], "joai-bridge", credentials.FallbackFileName)
}

// createToken creates a token for the first agent through the mock's token
// management API and returns its id and value.
func (h *harness) createToken(name string) (string, string) {
	h.t.Helper()
	body := strings.NewReader(`{"name": "` + name + `", "agent_uuid": "` + h.info.AgentUUID + `"}`)
	req, _ := http.NewRequestWithContext(h.t.Context(), http.MethodPost, h.mock.URL+"/api/tokens", body)
	req.Header.Set("Authorization", "Bearer "+h.info.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var created struct {
		ID    string `json:"id"`
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != http.StatusCreated {
		h.t.Fatalf("POST /api/tokens = %d, %v", resp.StatusCode, err)
	}
	h.secrets = append(h.secrets, created.Token)
	return created.ID, created.Token
}

// revokeToken revokes a token through the mock's token management API.
func (h *harness) revokeToken(id string) {
	h.t.Helper()
	req, _ := http.NewRequestWithContext(h.t.Context(), http.MethodDelete, h.mock.URL+"/api/tokens/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+h.info.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("DELETE /api/tokens/%s = %d", id, resp.StatusCode)
	}
}

// scanForTokens fails the test if a token appears in any output, in any
// file under the home directory other than the fallback token file, or in
// the mock's request log.
func (h *harness) scanForTokens() {
	h.t.Helper()
	check := func(where, text string) {
		for _, s := range h.secrets {
			if s != "" && strings.Contains(text, s) {
				h.t.Errorf("a token appears in %s", where)
			}
		}
	}
	for i, out := range h.outputs {
		check([]string{"stdout", "stderr"}[i%2]+" of a command", out)
	}
	filepath.WalkDir(h.home, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == h.fallbackFile() || strings.HasSuffix(path, ".token") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err == nil {
			check("the file "+path, string(b))
		}
		return nil
	})
	log, _ := json.Marshal(h.mock.Requests())
	check("the mock's request log", string(log))
}
