package hostconfig

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustHost(t testing.TB, name string) Host {
	t.Helper()
	h, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestMergeKeepsOtherServersAndKeys(t *testing.T) {
	in := `{
    "globalShortcut": "Ctrl+Space",
    "mcpServers": {
        "filesystem": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/ana/Desktop"]
        }
    },
    "theme": {"dark": true, "scale": 1.25e0}
}
`
	want := `{
    "globalShortcut": "Ctrl+Space",
    "mcpServers": {
        "filesystem": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/ana/Desktop"]
        },
        "joai": {
            "command": "/opt/bin/joai-bridge",
            "args": [
                "--agent",
                "0b7e2c9a-1111-4222-8333-944455556666"
            ]
        }
    },
    "theme": {"dark": true, "scale": 1.25e0}
}
`
	h := mustHost(t, "claude")
	got, changed, err := h.Merge([]byte(in), "joai", testServer)
	if err != nil {
		t.Fatal(err)
	}
	if !changed {
		t.Error("Merge reported no change")
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("Merge (-want +got):\n%s", diff)
	}

	again, changed, err := h.Merge(got, "joai", testServer)
	if err != nil {
		t.Fatal(err)
	}
	if changed || string(again) != string(got) {
		t.Errorf("second Merge changed the file:\n%s", again)
	}
}

func TestMergeAddsKey(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty-object", "{}", "{\n  \"mcpServers\": {\n    \"joai\": {\n      \"command\": \"/opt/bin/joai-bridge\",\n      \"args\": []\n    }\n  }\n}"},
		{"empty-file", "", "{\n  \"mcpServers\": {\n    \"joai\": {\n      \"command\": \"/opt/bin/joai-bridge\",\n      \"args\": []\n    }\n  }\n}\n"},
		{"other-keys-tabs", "{\n\t\"theme\": \"dark\"\n}\n", "{\n\t\"theme\": \"dark\",\n\t\"mcpServers\": {\n\t\t\"joai\": {\n\t\t\t\"command\": \"/opt/bin/joai-bridge\",\n\t\t\t\"args\": []\n\t\t}\n\t}\n}\n"},
		{"empty-servers", "{\"mcpServers\": {}}", "{\"mcpServers\": {\n  \"joai\": {\n    \"command\": \"/opt/bin/joai-bridge\",\n    \"args\": []\n  }\n}}"},
		{"crlf", "{\r\n  \"theme\": \"dark\"\r\n}\r\n", "{\r\n  \"theme\": \"dark\",\r\n  \"mcpServers\": {\r\n    \"joai\": {\r\n      \"command\": \"/opt/bin/joai-bridge\",\r\n      \"args\": []\r\n    }\r\n  }\r\n}\r\n"},
		{"byte-order-mark", "\ufeff{\"a\": 1}", "\ufeff{\"a\": 1,\n\"mcpServers\": {\n  \"joai\": {\n    \"command\": \"/opt/bin/joai-bridge\",\n    \"args\": []\n  }\n}}"},
	}
	h := mustHost(t, "claude")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed, err := h.Merge([]byte(tt.in), "joai", Server{Command: "/opt/bin/joai-bridge"})
			if err != nil {
				t.Fatal(err)
			}
			if !changed {
				t.Error("Merge reported no change")
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Merge (-want +got):\n%s", diff)
			}
			var v any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(string(got), "\ufeff")), &v); err != nil {
				t.Errorf("Merge output is not valid JSON: %v", err)
			}
		})
	}
}

func TestMergeUpdatesStaleBridgeEntry(t *testing.T) {
	in := `{"mcpServers": {"joai": {"command": "/old/joai-bridge", "args": ["--agent", "x"]}, "other": {"command": "uvx"}}}`
	h := mustHost(t, "cursor")
	got, changed, err := h.Merge([]byte(in), "joai", testServer)
	if err != nil {
		t.Fatal(err)
	}
	if !changed {
		t.Fatal("Merge reported no change")
	}
	var doc struct {
		MCPServers map[string]entryJSON `json:"mcpServers"`
	}
	if err := json.Unmarshal(got, &doc); err != nil {
		t.Fatal(err)
	}
	want := map[string]entryJSON{"joai": {Command: testServer.Command, Args: testServer.Args}, "other": {Command: "uvx"}}
	if diff := cmp.Diff(want, doc.MCPServers); diff != "" {
		t.Errorf("servers after Merge (-want +got):\n%s", diff)
	}
}

func TestMergeConflict(t *testing.T) {
	in := `{"mcpServers": {"joai": {"command": "npx", "args": ["mcp-remote", "https://example.invalid/mcp"]}}}`
	_, _, err := mustHost(t, "claude").Merge([]byte(in), "joai", testServer)
	if !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "--name") {
		t.Errorf("Merge over a foreign server = %v, want ErrConflict naming --name", err)
	}
}

func TestMergeRejects(t *testing.T) {
	tests := []struct {
		name, host, in, want string
	}{
		{"syntax-error", "claude", "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\",}\n  }\n}", "line 3, column 25: trailing comma before }"},
		{"unclosed", "claude", "{\"mcpServers\": {", "line 1, column 17: unexpected end of file"},
		{"comment-in-json", "cursor", "{\n// my servers\n\"mcpServers\": {}}", "line 2, column 1: comments are not allowed"},
		{"not-object-top", "claude", "[]", "top level is not a JSON object"},
		{"servers-not-object", "claude", "{\"mcpServers\": []}", `"mcpServers" at line 1, column 16 is not an object`},
		{"servers-null", "claude", "{\"mcpServers\": null}", "is not an object"},
		{"duplicate-key", "claude", "{\"mcpServers\": {}, \"mcpServers\": {}}", "appears 2 times"},
		{"garbage-after", "claude", "{} x", "after the end of the top-level value"},
		{"bad-escape", "claude", `{"a": "\q"}`, `invalid escape \q`},
		{"bad-number", "claude", `{"a": 01}`, "expected , or }"},
		{"unclosed-comment", "vscode", "{/* x", "comment /* is not closed"},
		{"bad-name", "claude", "{}", "invalid server name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "joai"
			if tt.name == "bad-name" {
				name = "jo ai"
			}
			_, _, err := mustHost(t, tt.host).Merge([]byte(tt.in), name, testServer)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Merge(%q) = %v, want an error containing %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestMergeKeepsVSCodeComments(t *testing.T) {
	in := `// Servers for every workspace.
{
  "servers": {
    /* the team's server */
    "team": {"type": "http", "url": "https://mcp.example.invalid/"}, // keep me
  },
  "inputs": [],
}
`
	h := mustHost(t, "vscode")
	got, changed, err := h.Merge([]byte(in), "joai", testServer)
	if err != nil {
		t.Fatal(err)
	}
	if !changed {
		t.Fatal("Merge reported no change")
	}
	for _, keep := range []string{"// Servers for every workspace.", "/* the team's server */", "// keep me", `"inputs": [],`} {
		if !strings.Contains(string(got), keep) {
			t.Errorf("Merge dropped %q:\n%s", keep, got)
		}
	}
	if !strings.Contains(string(got), `"type": "stdio"`) {
		t.Errorf("Merge output lacks the stdio type:\n%s", got)
	}
	root, err := parseDocument(got, true)
	if err != nil {
		t.Fatalf("Merge output does not parse as JSONC: %v\n%s", err, got)
	}
	servers, _ := root.lookup("servers")
	if _, n := servers.value.lookup("joai"); n != 1 {
		t.Errorf("servers has %d joai entries, want 1", n)
	}
	if _, changed, _ := h.Merge(got, "joai", testServer); changed {
		t.Error("second Merge changed the file")
	}
}

func FuzzMerge(f *testing.F) {
	for _, seed := range []string{`{}`, `{"mcpServers": {"a": {"command": "b"}}}`, `{"x": [1, 2, {"y": null}], "mcpServers": {}}`, "{\n\t\"k\": \"\\u00e9\"\n}"} {
		f.Add(seed)
	}
	h := Host{Name: "claude", Title: "Claude Desktop", Key: "mcpServers"}
	f.Fuzz(func(t *testing.T, in string) {
		var before map[string]any
		if json.Unmarshal([]byte(in), &before) != nil || before == nil {
			return
		}
		out, _, err := h.Merge([]byte(in), "joai", testServer)
		if err != nil {
			return
		}
		var after map[string]any
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("Merge(%q) = %q, not valid JSON: %v", in, out, err)
		}
		servers, ok := after["mcpServers"].(map[string]any)
		if !ok || servers["joai"] == nil {
			t.Fatalf("Merge(%q) = %q, without the entry", in, out)
		}
		for k, v := range before {
			if k != "mcpServers" && !cmp.Equal(v, after[k]) {
				t.Fatalf("Merge(%q) changed %q", in, k)
			}
		}
	})
}

func FuzzParseMatchesEncodingJSON(f *testing.F) {
	for _, seed := range []string{`{}`, `[1, -0.5e+3, "a\u00e9\n", true, null]`, `{"a": {"b": [{}]}}`, `01`, `"\x01"`, `{"a" 1}`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if strings.HasPrefix(in, "\ufeff") {
			return
		}
		_, err := parseDocument([]byte(in), false)
		if valid := json.Valid([]byte(in)); valid != (err == nil) {
			t.Fatalf("parseDocument(%q) error = %v, but json.Valid = %v", in, err, valid)
		}
	})
}
