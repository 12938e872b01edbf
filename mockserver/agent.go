package mockserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// withAgent replies 404 unless the agent in the path exists and the token
// is for it. A token gives access to its own agent only, so another agent
// of the same team is as inaccessible as one of another team.
func (s *Server) withAgent(next func(*exchange)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ex := exchangeOf(w)
		a := s.state.agent(r.PathValue("uuid"))
		if a == nil || !strings.EqualFold(ex.tok.agentUUID, a.UUID) {
			ex.note = "agent not accessible to the token"
			ex.writeBody(http.StatusNotFound, bodyAgentNotFound, nil)
			return
		}
		ex.agent = a
		next(ex)
	}
}

// serveAgentPOST handles one JSON-RPC message.
func (s *Server) serveAgentPOST(ex *exchange) {
	m := ex.msg
	if !ex.checkProtocolHeader() {
		return
	}
	if m.errCode != 0 {
		ex.errCode = m.errCode
		ex.writeBytes(http.StatusBadRequest, encodeError(m.id, &rpcError{code: m.errCode, message: m.errMessage}), "application/json", nil)
		return
	}
	initializing := m.method == string(mcp.MethodInitialize)
	if s.opts.Sessions && !initializing && !ex.checkSession() {
		return
	}
	if m.response {
		ex.note = s.pending.deliver(m)
		ex.writeAccepted()
		return
	}
	if m.notification() {
		if m.method == "notifications/cancelled" {
			ex.note = "cancelled: " + string(m.params)
		}
		ex.writeAccepted()
		return
	}

	c := &call{s: s, agent: ex.agent, fault: ex.fault, msg: m, now: time.Now().UTC().Truncate(time.Second)}
	if ex.useSSE() {
		ex.replySSE(c)
		return
	}
	if ex.fault != nil && ex.fault.streams() {
		ex.note = "the fault needs an SSE reply, but the request has no id or does not accept text/event-stream"
	}
	result, rerr := c.dispatch()
	h := http.Header{}
	if initializing && rerr == nil && s.opts.Sessions {
		h.Set("Mcp-Session-Id", s.sessions.create(ex.agent.UUID))
	}
	ex.writeBytes(http.StatusOK, ex.encodeReply(m.id, result, rerr), "application/json", h)
}

// encodeReply encodes a result or an error and notes the error code.
func (ex *exchange) encodeReply(id json.RawMessage, result json.RawMessage, rerr *rpcError) []byte {
	if rerr != nil {
		ex.errCode = rerr.code
		ex.note = strings.TrimSpace(ex.note + " " + rerr.message)
		return encodeError(id, rerr)
	}
	return encodeResult(id, result)
}

func (ex *exchange) writeAccepted() {
	ex.w.WriteHeader(http.StatusAccepted)
	ex.status, ex.written = http.StatusAccepted, true
}

// useSSE reports whether a request's reply goes on an event stream, which
// it does in SSE mode or under a fault that streams. Requests without an
// id get JSON, because the documentation's examples read those replies as
// JSON, and so do requests whose Accept header rules text/event-stream out.
func (ex *exchange) useSSE() bool {
	if ex.msg.id == nil {
		return false
	}
	if !ex.s.opts.SSE && (ex.fault == nil || !ex.fault.streams()) {
		return false
	}
	return acceptsEventStream(ex.r.Header, true)
}

// acceptsEventStream reports whether the Accept header allows
// text/event-stream. An absent header gives ifAbsent.
func acceptsEventStream(h http.Header, ifAbsent bool) bool {
	values := h.Values("Accept")
	if len(values) == 0 {
		return ifAbsent
	}
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			switch strings.ToLower(strings.TrimSpace(mt)) {
			case "text/event-stream", "text/*", "*/*":
				return true
			}
		}
	}
	return false
}

// checkProtocolHeader rejects an unsupported MCP-Protocol-Version with 400,
// as MCP 2025-06-18 (Transports, "Protocol Version Header") requires.
func (ex *exchange) checkProtocolHeader() bool {
	v := ex.r.Header.Get("Mcp-Protocol-Version")
	if v == "" || v == protocol20250326 || contains(negotiable, v) {
		return true
	}
	ex.errCode = mcp.INVALID_REQUEST
	ex.note = "unsupported MCP-Protocol-Version " + v
	ex.writeBytes(http.StatusBadRequest, encodeError(ex.requestID(), &rpcError{
		code:    mcp.INVALID_REQUEST,
		message: "Bad Request: unsupported MCP-Protocol-Version " + v + "; supported: " + strings.Join(negotiable, ", "),
	}), "application/json", nil)
	return false
}

func (ex *exchange) requestID() json.RawMessage {
	if ex.msg == nil {
		return nil
	}
	return ex.msg.id
}

// checkSession requires a live Mcp-Session-Id for this agent: 400 when it
// is missing, 404 when it is unknown or expired, as MCP 2025-06-18
// (Transports, "Session Management") specifies.
func (ex *exchange) checkSession() bool {
	id := ex.r.Header.Get("Mcp-Session-Id")
	if id == "" {
		ex.note = "missing Mcp-Session-Id"
		ex.errCode = mcp.INVALID_REQUEST
		ex.writeBytes(http.StatusBadRequest, encodeError(ex.requestID(), &rpcError{
			code: mcp.INVALID_REQUEST, message: "Bad Request: Mcp-Session-Id header is required; send initialize first",
		}), "application/json", nil)
		return false
	}
	sess := ex.s.sessions.get(id)
	if sess == nil || sess.agentUUID != ex.agent.UUID {
		ex.note = "unknown or expired session"
		ex.errCode = sessionNotFoundCode
		ex.writeBytes(http.StatusNotFound, encodeError(ex.requestID(), &rpcError{
			code: sessionNotFoundCode, message: "Session not found; send initialize to start a new session",
		}), "application/json", nil)
		return false
	}
	ex.session = sess
	return true
}

// sessionNotFoundCode is the JSON-RPC code of the 404 for an unknown
// session; the official TypeScript SDK uses the same.
const sessionNotFoundCode = -32001

// serveAgentGET lists the tools and resources, or opens the GET stream
// when the client accepts only text/event-stream.
func (s *Server) serveAgentGET(ex *exchange) {
	if acceptsOnlyEventStream(ex.r.Header) {
		if s.opts.NoGETStream {
			ex.note = "GET stream disabled"
			ex.writeBody(http.StatusMethodNotAllowed,
				`{"error":"method_not_allowed","error_description":"This endpoint offers no GET stream"}`,
				http.Header{"Allow": {s.agentMethods(false)}})
			return
		}
		if s.opts.Sessions && !ex.checkSession() {
			return
		}
		ex.serveStream()
		return
	}
	c := &call{s: s, agent: ex.agent, fault: ex.fault}
	var tools struct {
		Tools json.RawMessage `json:"tools"`
	}
	json.Unmarshal(c.toolsList(), &tools)
	var res struct {
		Resources json.RawMessage `json:"resources"`
	}
	json.Unmarshal(resourcesListResult(ex.agent.UUID), &res)
	b, _ := json.Marshal(struct {
		Tools     json.RawMessage `json:"tools"`
		Resources json.RawMessage `json:"resources"`
	}{tools.Tools, res.Resources})
	ex.writeBytes(http.StatusOK, b, "application/json", nil)
}

// acceptsOnlyEventStream reports whether the client asks for an event
// stream rather than JSON: its Accept header names text/event-stream and
// not application/json.
func acceptsOnlyEventStream(h http.Header) bool {
	accept := strings.ToLower(strings.Join(h.Values("Accept"), ","))
	return strings.Contains(accept, "text/event-stream") && !strings.Contains(accept, "application/json")
}

// agentMethods returns the Allow header of the agent endpoint: GET when
// withGET is set, POST, and DELETE when the server keeps sessions.
func (s *Server) agentMethods(withGET bool) string {
	methods := "POST"
	if withGET {
		methods = "GET, " + methods
	}
	if s.opts.Sessions {
		methods += ", DELETE"
	}
	return methods
}

// serveAgentDELETE ends a session (MCP 2025-06-18, Transports, "Session
// Management"); without sessions there is nothing to end, hence 405.
func (s *Server) serveAgentDELETE(ex *exchange) {
	if !s.opts.Sessions {
		ex.writeBody(http.StatusMethodNotAllowed,
			`{"error":"method_not_allowed","error_description":"This endpoint has no sessions to end"}`,
			http.Header{"Allow": {s.agentMethods(true)}})
		return
	}
	if !ex.checkSession() {
		return
	}
	s.sessions.remove(ex.session.id)
	s.streams.closeSession(ex.session.id)
	ex.w.WriteHeader(http.StatusNoContent)
	ex.status, ex.written = http.StatusNoContent, true
}

func (s *Server) serveMissingContext(w http.ResponseWriter, r *http.Request) {
	exchangeOf(w).writeBody(http.StatusBadRequest, bodyMissingContext, nil)
}

// agentJSON is an agent as GET /api/agents lists it.
type agentJSON struct {
	UUID        string `json:"uuid"`
	Name        string `json:"name"`
	Team        string `json:"team"`
	Description any    `json:"description,omitempty"`
}

func (s *Server) serveAgents(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	list := []agentJSON{}
	for _, a := range s.state.teamAgents(ex.tok.team) {
		list = append(list, agentJSON{UUID: a.UUID, Name: a.Name, Team: a.Team, Description: a.Info["description"]})
	}
	b, _ := json.Marshal(map[string]any{"agents": list})
	ex.writeBytes(http.StatusOK, b, "application/json", nil)
}
