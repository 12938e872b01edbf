package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// claudeConfig returns the path of Claude Desktop's file for the harness's
// Linux user.
func claudeConfig(h *harness) string {
	return filepath.Join(h.env["XDG_CONFIG_HOME"], "Claude", "claude_desktop_config.json")
}

const otherServers = `{
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/ana/Desktop"]
    },
    "weather": {"command": "/usr/local/bin/weather-mcp", "env": {"UNITS": "metric"}}
  },
  "globalShortcut": "Alt+Space"
}
`

func TestConfigPrintsEntry(t *testing.T) {
	h := newHarness(t)
	h.login()
	stdout, stderr := h.mustRun(exitOK, "", "config", "claude", "--mock-url", h.mock.URL)
	var doc struct {
		MCPServers map[string]struct {
			Command string            `json:"command"`
			Args    []string          `json:"args"`
			Env     map[string]string `json:"env"`
		} `json:"mcpServers"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("config output is not JSON: %v\n%s", err, stdout)
	}
	entry := doc.MCPServers["joai"]
	if want := filepath.Join(h.home, "bin", "joai-bridge"); entry.Command != want {
		t.Errorf("command = %q, want the absolute path %q", entry.Command, want)
	}
	if diff := cmp.Diff([]string{"--agent", h.info.AgentUUID}, entry.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	wantEnv := map[string]string{"JOAI_BASE_URL": h.mock.URL, "XDG_CONFIG_HOME": h.env["XDG_CONFIG_HOME"]}
	if diff := cmp.Diff(wantEnv, entry.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if !strings.Contains(stderr, claudeConfig(h)) || !strings.Contains(stderr, "--write") {
		t.Errorf("stderr does not say where the entry goes:\n%s", stderr)
	}
	if _, err := os.Stat(claudeConfig(h)); !os.IsNotExist(err) {
		t.Errorf("config without --write created the host's file")
	}
}

func TestConfigVSCodeShape(t *testing.T) {
	h := newHarness(t)
	h.login()
	stdout, _ := h.mustRun(exitOK, "", "config", "vscode", "--mock-url", h.mock.URL, "--name", "ada")
	var doc struct {
		Servers map[string]map[string]any `json:"servers"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Servers["ada"]["type"] != "stdio" {
		t.Errorf("VS Code entry = %v, want type stdio under servers", doc.Servers)
	}
}

func TestConfigWriteMerges(t *testing.T) {
	h := newHarness(t)
	h.login()
	path := claudeConfig(h)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(otherServers), 0o644); err != nil {
		t.Fatal(err)
	}

	stdout, _ := h.mustRun(exitOK, "", "config", "claude", "--write", "--mock-url", h.mock.URL)
	if !strings.Contains(stdout, `Added server "joai" to `+path) || !strings.Contains(stdout, "quit Claude Desktop completely") {
		t.Errorf("config --write output:\n%s", stdout)
	}
	var doc map[string]any
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("merged file is not JSON: %v", err)
	}
	servers := doc["mcpServers"].(map[string]any)
	for _, name := range []string{"filesystem", "weather", "joai"} {
		if servers[name] == nil {
			t.Errorf("merged file lacks server %q:\n%s", name, data)
		}
	}
	if doc["globalShortcut"] != "Alt+Space" {
		t.Errorf("merged file lost another key:\n%s", data)
	}
	if !strings.HasPrefix(string(data), otherServers[:strings.Index(otherServers, "\n    \"weather\"")]) {
		t.Errorf("the merge reformatted the other servers:\n%s", data)
	}
	backups, _ := filepath.Glob(path + ".*.bak")
	if len(backups) != 1 {
		t.Fatalf("backups = %v, want one", backups)
	}
	if b, _ := os.ReadFile(backups[0]); string(b) != otherServers {
		t.Errorf("the backup is not the previous file")
	}

	// A second run changes nothing and makes no second backup.
	stdout, _ = h.mustRun(exitOK, "", "config", "claude", "--write", "--mock-url", h.mock.URL)
	if !strings.Contains(stdout, "nothing to do") {
		t.Errorf("second config --write output:\n%s", stdout)
	}
	if strings.Contains(stdout, "quit Claude Desktop") {
		t.Errorf("second config --write asks for a restart although nothing changed:\n%s", stdout)
	}
	if again, _ := os.ReadFile(path); string(again) != string(data) {
		t.Errorf("the second run changed the file")
	}
	if backups, _ := filepath.Glob(path + ".*.bak"); len(backups) != 1 {
		t.Errorf("backups after the second run = %v, want one", backups)
	}
}

func TestConfigWriteRejectsUnparsable(t *testing.T) {
	h := newHarness(t)
	h.login()
	path := claudeConfig(h)
	broken := strings.Replace(otherServers, `"weather": {`, `"weather" {`, 1)
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr := h.mustRun(exitFailed, "", "config", "claude", "--write", "--mock-url", h.mock.URL)
	if !strings.Contains(stderr, path+":7:15: unexpected character '{', expected : after the member name") || !strings.Contains(stderr, "not changed") {
		t.Errorf("stderr does not name the file, line and fix:\n%s", stderr)
	}
	if data, _ := os.ReadFile(path); string(data) != broken {
		t.Errorf("the unparsable file was changed")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("the directory gained files: %v", entries)
	}
}

func TestConfigRejects(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown-host", []string{"windsurf"}, "unknown host"},
		{"no-host", nil, "name one host"},
		{"bad-name", []string{"claude", "--name", "jo ai"}, "invalid server name"},
		{"no-agent", []string{"claude"}, "no agent given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr := h.mustRun(exitUsage, "", append([]string{"config", "--mock-url", h.mock.URL}, tt.args...)...)
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr)
			}
		})
	}
}

func TestConfigRejectsGoRunBinary(t *testing.T) {
	inv := &invocation{executable: func() (string, error) {
		return "/tmp/go-build123/b001/exe/joai-bridge", nil
	}}
	if _, err := inv.bridgePath(""); err == nil || !strings.Contains(err.Error(), "go install ./cmd/joai-bridge") {
		t.Errorf("bridgePath for a go run binary = %v, want the go install advice", err)
	}
}

// TestNoTokenInAnyOutput runs every setup subcommand, in text and JSON
// form, and relies on the harness's scan of every output, written file and
// the mock's request log.
func TestNoTokenInAnyOutput(t *testing.T) {
	h := newHarness(t)
	mock := []string{"--mock-url", h.mock.URL}
	h.login()
	runs := [][]string{
		{"status"}, {"agents"}, {"agents", "--json"}, {"doctor"}, {"doctor", "--json"},
		{"call", "prompt_agent", "message=Hello from API!"}, {"call", "--json", "prompt_agent", "message=ping"},
		{"read", "info"}, {"read", "--json", "character"},
		{"config", "claude"}, {"config", "cursor", "--write"}, {"config", "vscode", "--write"}, {"config", "claude-code", "--write"},
	}
	for _, args := range runs {
		h.mustRun(exitOK, "", append(append([]string{args[0]}, mock...), args[1:]...)...)
	}

	// The failures too: a malformed, a revoked and a foreign token.
	h.env["JOAI_API_TOKEN"] = "'" + h.info.Token + "'"
	h.run("", "doctor", "--mock-url", h.mock.URL)
	h.run("", "status", "--mock-url", h.mock.URL)
	h.env["JOAI_API_TOKEN"] = h.info.RevokedToken
	h.run("", "agents", "--mock-url", h.mock.URL)
	h.run("", "call", "--mock-url", h.mock.URL, "prompt_agent", "message=hi")
	h.env["JOAI_API_TOKEN"] = h.info.OtherTeamToken
	h.run("", "doctor", "--mock-url", h.mock.URL)
	h.run("", "read", "--mock-url", h.mock.URL, "info")
	delete(h.env, "JOAI_API_TOKEN")
	h.run("Bearer "+h.info.Token, "login", "--mock-url", h.mock.URL)
	h.mustRun(exitOK, "", "logout", "--mock-url", h.mock.URL)

	if len(h.outputs) < 2*len(runs) {
		t.Fatalf("only %d outputs were recorded", len(h.outputs))
	}
}
