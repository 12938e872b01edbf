package mockserver

import (
	"fmt"
	"strings"
	"testing"
)

func TestTokenLifecycle(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`

	created := do(t, "POST", s.URL+"/api/tokens", in.Token, `{"name":"N8N Bot"}`)
	if created.status != 201 {
		t.Fatalf("create = %d %s, want 201", created.status, created.body)
	}
	value, _ := field(t, created.body, "token").(string)
	id, _ := field(t, created.body, "id").(string)
	if !strings.HasPrefix(value, "joai_mock_") || len(value) < 40 || id == "" {
		t.Fatalf("created token = %s, want a joai_mock_ value and an id", created.body)
	}
	for k, want := range map[string]any{"name": "N8N Bot", "status": "active", "agent_uuid": in.AgentUUID, "team": "team-northwind"} {
		if got := field(t, created.body, k); got != want {
			t.Errorf("created %s = %v, want %v", k, got, want)
		}
	}
	if got := do(t, "POST", s.AgentURL(in.AgentUUID), value, ping); got.status != 200 {
		t.Errorf("new token on its agent = %d, want 200", got.status)
	}

	list := do(t, "GET", s.URL+"/api/tokens", in.Token, "")
	if strings.Contains(list.body, value) || strings.Contains(list.body, in.Token) {
		t.Error("the token listing contains a token value")
	}
	if strings.Contains(list.body, "tok_grace_prod") {
		t.Error("the token listing shows another team's token")
	}
	var found bool
	for _, tok := range field(t, list.body, "tokens").([]any) {
		m := tok.(map[string]any)
		if m["id"] == id {
			found = m["name"] == "N8N Bot" && m["status"] == "active" && m["created_at"] != nil
		}
		if m["id"] == "tok_ada_old" && m["status"] != "revoked" {
			t.Errorf("tok_ada_old status = %v, want revoked", m["status"])
		}
	}
	if !found {
		t.Errorf("listing lacks the new token with name, status and created_at: %s", list.body)
	}

	revoked := do(t, "DELETE", s.URL+"/api/tokens/"+id, in.Token, "")
	if revoked.status != 200 || field(t, revoked.body, "status") != "revoked" || field(t, revoked.body, "revoked_at") == nil {
		t.Errorf("revoke = %d %s, want 200 with status revoked and revoked_at", revoked.status, revoked.body)
	}
	got := do(t, "POST", s.AgentURL(in.AgentUUID), value, ping)
	if got.status != 401 || got.body != bodyUnauthorized {
		t.Errorf("revoked token = %d %s, want the documented 401", got.status, got.body)
	}
}

func TestTokenCreateForAgent(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	babbage := "4e8d2a17-93c6-4b05-a1f8-6c3e9d0b2a54"
	created := do(t, "POST", s.URL+"/api/tokens", in.Token, `{"name":"Babbage bot","agent_uuid":"`+babbage+`"}`)
	value, _ := field(t, created.body, "token").(string)
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	if got := do(t, "POST", s.AgentURL(babbage), value, ping); got.status != 200 {
		t.Errorf("token made for Babbage on Babbage = %d, want 200", got.status)
	}
	if got := do(t, "POST", s.AgentURL(in.AgentUUID), value, ping); got.status != 404 {
		t.Errorf("token made for Babbage on Ada = %d, want 404", got.status)
	}
}

func TestTokenManagementErrors(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	tests := []struct {
		name, method, path, body string
		status                   int
		wantBody                 string
	}{
		{"other-team-agent", "POST", "/api/tokens", `{"name":"x","agent_uuid":"` + in.OtherAgentUUID + `"}`, 404, bodyAgentNotFound},
		{"missing-name", "POST", "/api/tokens", `{"name":"  "}`, 400, `{"error":"invalid_request","error_description":"name is required"}`},
		{"unknown-field", "POST", "/api/tokens", `{"name":"x","scope":"all"}`, 400, ""},
		{"not-json", "POST", "/api/tokens", `name=x`, 400, ""},
		{"revoke-other-team", "DELETE", "/api/tokens/tok_grace_prod", "", 404, bodyTokenNotFound},
		{"revoke-unknown", "DELETE", "/api/tokens/tok_nope", "", 404, bodyTokenNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, tt.method, s.URL+tt.path, in.Token, tt.body)
			if got.status != tt.status {
				t.Errorf("status = %d, want %d: %s", got.status, tt.status, got.body)
			}
			if tt.wantBody != "" && got.body != tt.wantBody {
				t.Errorf("body = %s, want %s", got.body, tt.wantBody)
			}
			if field(t, got.body, "error") == nil {
				t.Errorf("body = %s, want an error member", got.body)
			}
		})
	}
	// The other team's token still works after the attempt to revoke it.
	if got := do(t, "POST", s.AgentURL(in.OtherAgentUUID), in.OtherTeamToken, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); got.status != 200 {
		t.Errorf("other team's token = %d, want 200", got.status)
	}
}

func TestRevokeOwnTokenIsImmediate(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	if got := do(t, "DELETE", s.URL+"/api/tokens/tok_ada_dev", in.Token, ""); got.status != 200 {
		t.Fatalf("revoking the caller's own token = %d, want 200", got.status)
	}
	if got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); got.status != 401 {
		t.Errorf("request with the revoked token = %d, want 401", got.status)
	}
	s.Reset()
	if got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); got.status != 200 {
		t.Errorf("after Reset the seed token = %d, want 200", got.status)
	}
}

func TestTokensStoredAsHashes(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	s.state.mu.RLock()
	defer s.state.mu.RUnlock()
	for _, tok := range s.state.tokens {
		if strings.Contains(fmt.Sprintf("%+v", *tok), in.Token) {
			t.Errorf("token %s stores its value", tok.id)
		}
	}
	if tok, _ := s.state.authenticate(in.Token); tok == nil || tok.id != "tok_ada_dev" {
		t.Errorf("authenticate(seed token) = %v, want tok_ada_dev", tok)
	}
}
