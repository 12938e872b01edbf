package hostconfig

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHostPaths(t *testing.T) {
	darwin := map[string]string{"HOME": "/Users/ana"}
	linux := map[string]string{"HOME": "/home/ana"}
	linuxXDG := map[string]string{"HOME": "/home/ana", "XDG_CONFIG_HOME": "/home/ana/cfg"}
	windows := map[string]string{"USERPROFILE": `C:\Users\ana`, "APPDATA": `C:\Users\ana\AppData\Roaming`}
	tests := []struct {
		host, goos string
		env        map[string]string
		want       string
	}{
		{"claude", "darwin", darwin, "/Users/ana/Library/Application Support/Claude/claude_desktop_config.json"},
		{"claude", "windows", windows, `C:\Users\ana\AppData\Roaming\Claude\claude_desktop_config.json`},
		{"claude", "linux", linux, "/home/ana/.config/Claude/claude_desktop_config.json"},
		{"claude", "linux", linuxXDG, "/home/ana/cfg/Claude/claude_desktop_config.json"},
		{"cursor", "darwin", darwin, "/Users/ana/.cursor/mcp.json"},
		{"cursor", "windows", windows, `C:\Users\ana\.cursor\mcp.json`},
		{"cursor", "linux", linuxXDG, "/home/ana/.cursor/mcp.json"},
		{"vscode", "darwin", darwin, "/Users/ana/Library/Application Support/Code/User/mcp.json"},
		{"vscode", "windows", windows, `C:\Users\ana\AppData\Roaming\Code\User\mcp.json`},
		{"vscode", "linux", linux, "/home/ana/.config/Code/User/mcp.json"},
		{"claude-code", "darwin", darwin, "/Users/ana/.claude.json"},
		{"claude-code", "windows", windows, `C:\Users\ana\.claude.json`},
		{"claude-code", "linux", linux, "/home/ana/.claude.json"},
	}
	for _, tt := range tests {
		t.Run(tt.host+"-"+tt.goos, func(t *testing.T) {
			h, err := Lookup(tt.host)
			if err != nil {
				t.Fatal(err)
			}
			dirs, err := DirsFromEnv(tt.goos, func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if got := h.Path(dirs); got != tt.want {
				t.Errorf("Path() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDirsFromEnvMissingHome(t *testing.T) {
	for _, goos := range []string{"linux", "darwin", "windows"} {
		_, err := DirsFromEnv(goos, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), "is not set") {
			t.Errorf("DirsFromEnv(%s, empty) = %v, want an error naming the variable", goos, err)
		}
	}
}

func TestDirsFromEnvRelativeXDG(t *testing.T) {
	d, err := DirsFromEnv("linux", func(k string) string {
		return map[string]string{"HOME": "/home/ana", "XDG_CONFIG_HOME": "cfg"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if d.Config != "/home/ana/.config" {
		t.Errorf("Config = %q, want the default for a relative XDG_CONFIG_HOME", d.Config)
	}
}

func TestLookupUnknown(t *testing.T) {
	_, err := Lookup("windsurf")
	if err == nil || !strings.Contains(err.Error(), "claude, cursor, vscode, claude-code") {
		t.Errorf("Lookup(windsurf) = %v, want an error listing the hosts", err)
	}
}

var testServer = Server{Command: "/opt/bin/joai-bridge", Args: []string{"--agent", "0b7e2c9a-1111-4222-8333-944455556666"}}

func TestSnippetShapes(t *testing.T) {
	tests := map[string]string{
		"claude": `{
  "mcpServers": {
    "joai": {
      "command": "/opt/bin/joai-bridge",
      "args": [
        "--agent",
        "0b7e2c9a-1111-4222-8333-944455556666"
      ]
    }
  }
}
`,
		"vscode": `{
  "servers": {
    "joai": {
      "type": "stdio",
      "command": "/opt/bin/joai-bridge",
      "args": [
        "--agent",
        "0b7e2c9a-1111-4222-8333-944455556666"
      ]
    }
  }
}
`,
	}
	tests["cursor"] = tests["claude"]
	tests["claude-code"] = strings.Replace(tests["vscode"], `"servers"`, `"mcpServers"`, 1)
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			h, _ := Lookup(name)
			got, err := h.Snippet("joai", testServer)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, string(got)); diff != "" {
				t.Errorf("Snippet (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSnippetEnvAndEscaping(t *testing.T) {
	h, _ := Lookup("claude")
	got, err := h.Snippet("joai", Server{Command: `C:\Program Files\joai & co\joai-bridge.exe`, Env: map[string]string{"JOAI_BASE_URL": "http://127.0.0.1:8080"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"command": "C:\\Program Files\\joai & co\\joai-bridge.exe"`, `"args": []`, `"JOAI_BASE_URL": "http://127.0.0.1:8080"`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("Snippet = %s, want it to contain %s", got, want)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"joai", "joai-agent_2", "J"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "-joai", "jo ai", "jo/ai", "joai\"", strings.Repeat("a", 65)} {
		if err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) = nil, want an error", bad)
		}
	}
}
