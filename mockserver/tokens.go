package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Token management. A token can list, create and revoke the tokens of its
// own team. The documentation describes these actions in the settings page
// without giving their HTTP form, so the paths here are the mock's own.

func (s *Server) serveTokenList(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	b, _ := json.Marshal(map[string]any{"tokens": s.state.listTokens(ex.tok.team)})
	ex.writeBytes(http.StatusOK, b, "application/json", nil)
}

// createdToken is the reply to POST /api/tokens: the only time the value is
// shown.
type createdToken struct {
	TokenInfo
	Token string `json:"token"`
}

func (s *Server) serveTokenCreate(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	var req struct {
		Name      string `json:"name"`
		AgentUUID string `json:"agent_uuid"`
	}
	dec := json.NewDecoder(bytes.NewReader(ex.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		ex.writeInvalid(`body must be {"name": "...", "agent_uuid": "..."}: ` + err.Error())
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" {
		ex.writeInvalid("name is required")
		return
	}
	if req.AgentUUID == "" {
		req.AgentUUID = ex.tok.agentUUID
	}
	a := s.state.agent(req.AgentUUID)
	if a == nil || a.Team != ex.tok.team {
		ex.writeBody(http.StatusNotFound, bodyAgentNotFound, nil)
		return
	}
	info, value, err := s.state.createToken(req.Name, a, time.Now().UTC().Truncate(time.Second))
	if err != nil {
		ex.writeServerError(err)
		return
	}
	ex.note = "created token " + info.ID
	b, _ := json.Marshal(createdToken{TokenInfo: info, Token: value})
	ex.writeBytes(http.StatusCreated, b, "application/json", nil)
	// The value must not reach the request log or the inspector.
	ex.reply, _ = json.Marshal(info)
}

func (s *Server) serveTokenRevoke(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	info, err := s.state.revokeToken(ex.tok.team, r.PathValue("id"), time.Now().UTC().Truncate(time.Second))
	switch {
	case errors.Is(err, errNoToken):
		ex.writeBody(http.StatusNotFound, bodyTokenNotFound, nil)
		return
	case err != nil:
		ex.writeServerError(err)
		return
	}
	b, _ := json.Marshal(info)
	ex.writeBytes(http.StatusOK, b, "application/json", nil)
}

func (ex *exchange) writeInvalid(description string) {
	b, _ := json.Marshal(map[string]string{"error": "invalid_request", "error_description": description})
	ex.writeBytes(http.StatusBadRequest, b, "application/json", nil)
}

func (ex *exchange) writeServerError(err error) {
	ex.note = err.Error()
	b, _ := json.Marshal(map[string]string{"error": "server_error", "error_description": err.Error()})
	ex.writeBytes(http.StatusInternalServerError, b, "application/json", nil)
}
