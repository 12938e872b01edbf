package mockserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultSeedInfo(t *testing.T) {
	in := DefaultSeed().info()
	want := Info{
		AgentUUID:      "9b2f6c1e-4d7a-4e3b-8c15-2a6f0d9e7b41",
		Token:          "joai_mock_ada_7f3c9e2b41d8a605c3e1",
		RevokedToken:   "joai_mock_ada_1e4b8d2c97a3f056b7d2",
		OtherAgentUUID: "c7a41e92-5f3b-4d86-b0e7-1d9a6c2f8e35",
		OtherTeamToken: "joai_mock_grace_5a9d3f1c7e2b80469f1b",
	}
	if in != want {
		t.Errorf("DefaultSeed().info() = %+v, want %+v", in, want)
	}
	if l := DefaultSeed().Limits; l != DefaultLimits {
		t.Errorf("seed limits = %+v, want the documented defaults %+v", l, DefaultLimits)
	}
}

func TestInfoWithSparseSeed(t *testing.T) {
	seed := &Seed{Agents: []SeedAgent{{UUID: "a", Team: "t", Name: "A"}}}
	s := startServer(t, &Options{Seed: seed})
	in := s.Info()
	if in.AgentUUID != "a" || in.Token != "" || in.RevokedToken != "" || in.OtherAgentUUID != "" || in.URL != s.URL {
		t.Errorf("Info() = %+v, want only the agent and URL", in)
	}
}

func TestParseSeedErrors(t *testing.T) {
	agent := `{"uuid":"a","team":"t","name":"A","character":"c"}`
	token := func(fields string) string {
		return `{"agents":[` + agent + `],"tokens":[{"id":"x","name":"n","value":"joai_mock_0123456789abcdef","team":"t","agent_uuid":"a"` + fields + `}]}`
	}
	tests := []struct {
		name, seed, want string
	}{
		{"not-json", `{`, "decoding"},
		{"unknown-field", `{"agents":[],"extra":1}`, `unknown field "extra"`},
		{"unknown-limit-field", `{"limits":{"rpm":5},"agents":[` + agent + `]}`, `unknown field "rpm"`},
		{"trailing-data", `{"agents":[` + agent + `]} {}`, "extra data"},
		{"no-agents", `{"agents":[]}`, "no agents"},
		{"agent-without-team", `{"agents":[{"uuid":"a","name":"A"}]}`, "agents[0]"},
		{"duplicate-agent", `{"agents":[` + agent + `,` + agent + `]}`, `duplicate uuid "a"`},
		{"token-unknown-agent", token(`,"agent_uuid":"b"`), `unknown agent_uuid "b"`},
		{"token-wrong-team", token(`,"team":"u"`), `team "u" is not the team`},
		{"token-short", `{"agents":[` + agent + `],"tokens":[{"id":"x","name":"n","value":"short","team":"t","agent_uuid":"a"}]}`, "shorter than 16"},
		{"token-bad-status", token(`,"status":"paused"`), `status "paused"`},
		{"token-bad-window", token(`,"limits":{"window":"-1s"}`), "negative"},
		{"memory-unknown-agent", `{"agents":[` + agent + `],"memories":[{"id":"m","agent_uuid":"z","content":"x"}]}`, `unknown agent_uuid "z"`},
		{"bad-window", `{"limits":{"window":"often"},"agents":[` + agent + `]}`, `window "often"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSeed([]byte(tt.seed))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseSeed() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestLoadSeed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seed.json")
	seed := `{"limits":{"requests_per_minute":5},"agents":[{"uuid":"a","team":"t","name":"A","character":"You are A."}],
		"tokens":[{"id":"x","name":"n","value":"joai_mock_0123456789abcdef","team":"t","agent_uuid":"a"}]}`
	if err := os.WriteFile(path, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSeed(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, &Options{Seed: s})
	if l := srv.Limits(); l.RequestsPerMinute != 5 || l.Burst != 60 {
		t.Errorf("limits = %+v, want 5 per minute from the seed and the default burst", l)
	}
	if got := rpc(t, srv, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"hi"}}}`); !strings.Contains(got.body, "[A] You are A. You said: hi") {
		t.Errorf("prompt_agent with the loaded seed = %s", got.body)
	}
	if _, err := LoadSeed(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("LoadSeed(missing) error = %v, want one naming the file", err)
	}
}

func TestToolDefinitionsCompile(t *testing.T) {
	ts := compileTools()
	if got := ts.names(); got != "prompt_agent, create_memory, update_memory" {
		t.Errorf("tools = %s", got)
	}
	if _, err := ts.lookup("update_memory").validate([]byte(`{"memoryId":"m","content":"c","extra":true}`)); err != nil {
		t.Errorf("extra arguments are allowed by the schema, got %v", err)
	}
}
