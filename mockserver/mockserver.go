// Package mockserver is a local stand-in for the JoAi service: the MCP agent
// endpoint, agent discovery, API token management, the documented errors and
// rate limits, and fault injection for testing clients. It runs in-process
// in the manner of net/http/httptest, or as the joai-mock command.
//
//	srv := mockserver.NewServer(nil) // the seed from fixtures/seed.json
//	defer srv.Close()
//	info := srv.Info()
//	req, _ := http.NewRequest("POST", srv.AgentURL(info.AgentUUID),
//		strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
//	req.Header.Set("Authorization", "Bearer "+info.Token)
//	req.Header.Set("Content-Type", "application/json")
//	resp, err := http.DefaultClient.Do(req) // 200 {"jsonrpc":"2.0","id":1,"result":{"tools":[...]}}
//
// Endpoints:
//
//	POST   /mcp/agents/{uuid}   JSON-RPC 2.0: initialize, ping, tools/*, resources/*, notifications
//	GET    /mcp/agents/{uuid}   the tools and resources as JSON, or the SSE stream with Accept: text/event-stream
//	DELETE /mcp/agents/{uuid}   ends the session named by Mcp-Session-Id (sessions mode only, else 405)
//	POST   /mcp                 400 missing_context: API tokens must name an agent
//	GET    /api/agents          the agents of the token's team
//	GET    /api/tokens          the team's tokens, never their values
//	POST   /api/tokens          creates a token: {"name": "...", "agent_uuid": "..."}; the value is returned once
//	DELETE /api/tokens/{id}     revokes a token
//	/_mock/...                  the control API, for loopback clients only (see [Server.Handler])
//	GET    /_mock/inspector     the live traffic inspector page and its WebSocket feed (loopback only)
//
// Every endpoint except the control API requires "Authorization: Bearer
// <token>" and counts against that token's [Limits].
package mockserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/joai-ai/joai-mcp/internal/inspector"
)

// Options configure a [Server]. A nil *Options means all defaults.
type Options struct {
	// Seed is the initial state. Nil means [DefaultSeed], the state
	// embedded from fixtures/seed.json.
	Seed *Seed
	// StateFile, when set, keeps the state in that file: it is read at
	// start if it exists (the seed is then ignored) and rewritten by atomic
	// replace before every write is acknowledged. Empty means memory only.
	StateFile string
	// Limits are the per-token limits. Zero fields take the seed's values,
	// then [DefaultLimits].
	Limits Limits
	// SSE makes replies to JSON-RPC requests text/event-stream instead of
	// application/json, for clients whose Accept header allows it.
	SSE bool
	// Sessions makes initialize issue an Mcp-Session-Id and every later
	// request require it: 400 without one, 404 for an unknown or expired
	// one.
	Sessions bool
	// Plain makes initialize fail with -32601, as on a plain JSON-RPC
	// endpoint that has no MCP lifecycle. It cannot be combined with
	// Sessions.
	Plain bool
	// NoGETStream rejects a GET with Accept: text/event-stream with 405.
	NoGETStream bool
	// MaxBodyBytes is the largest request body accepted; larger bodies get
	// 413. Zero means [DefaultMaxBodyBytes].
	MaxBodyBytes int64
	// Faults are installed at start, as if by [Server.AddFault].
	Faults []Fault
	// Logger receives a debug line per request and a warning per error,
	// except that 429 replies get one warning per token every 10 s, with
	// a count of those logged at debug level in between. Nil means
	// discard.
	Logger *slog.Logger
	// Sink, when set, receives an event for every exchange, as the
	// inspector page at GET /_mock/inspector does.
	Sink inspector.Sink
}

// DefaultMaxBodyBytes is the request body limit when
// Options.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 4 << 20

// Info describes a running server and the seed values a client needs; it is
// the JSON line that joai-mock prints on stdout once it listens.
type Info struct {
	// URL is the server's base URL, such as "http://127.0.0.1:8787".
	URL string `json:"url"`
	// AgentUUID is the seed's first agent.
	AgentUUID string `json:"agent_uuid"`
	// Token is an active token for AgentUUID.
	Token string `json:"token"`
	// RevokedToken is a revoked token for AgentUUID, or empty.
	RevokedToken string `json:"revoked_token"`
	// OtherAgentUUID is an agent of another team, or empty.
	OtherAgentUUID string `json:"other_agent_uuid"`
	// OtherTeamToken is an active token for OtherAgentUUID, or empty.
	OtherTeamToken string `json:"other_team_token"`
}

// Server is a mock JoAi server.
type Server struct {
	// URL is the base URL, "http://127.0.0.1:PORT", set by Start.
	URL string
	// Listener is the listener Start serves on. Nil means a new one on
	// 127.0.0.1 with a free port. Set it between NewUnstartedServer and
	// Start to serve elsewhere.
	Listener net.Listener

	opts     Options
	seed     *Seed
	logger   *slog.Logger
	maxBody  int64
	tools    *toolSet
	state    *store
	limiter  *limiter
	rejects  rejectLog
	faults   faultList
	received requestLog
	sessions sessionTable
	streams  streamSet
	pending  pendingRequests
	handler  http.Handler
	control  *http.ServeMux
	// inspector serves GET /_mock/inspector; sink publishes to it and to
	// Options.Sink.
	inspector *inspector.Hub
	sink      inspector.Sink

	// done is closed by Close to end long-lived streams.
	done chan struct{}

	// mu guards started, closed and hs.
	mu      sync.Mutex
	started bool
	closed  bool
	hs      *http.Server
}

// NewServer starts and returns a server on a free loopback port, like
// httptest.NewServer. It panics where [New] returns an error. The caller
// must Close it.
func NewServer(opts *Options) *Server {
	s := NewUnstartedServer(opts)
	s.Start()
	return s
}

// NewUnstartedServer returns a server that is not yet listening, so that
// its Listener can be replaced before Start. It panics where [New] returns
// an error.
func NewUnstartedServer(opts *Options) *Server {
	s, err := New(opts)
	if err != nil {
		panic("mockserver: " + err.Error())
	}
	return s
}

// New returns an unstarted server, or an error if the options conflict,
// the seed is invalid, or the state file cannot be read or created.
func New(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Plain && o.Sessions {
		return nil, errors.New("options Plain and Sessions conflict: a plain endpoint has no initialize to start a session")
	}
	if o.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("MaxBodyBytes %d is negative: use 0 for the default of %d", o.MaxBodyBytes, DefaultMaxBodyBytes)
	}
	if err := o.Limits.validate(); err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	seed := o.Seed
	if seed == nil {
		seed = DefaultSeed()
	} else if err := seed.Validate(); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	st, err := openStore(o.StateFile, seed)
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:    o,
		seed:    seed,
		logger:  o.Logger,
		maxBody: o.MaxBodyBytes,
		tools:   compileTools(),
		state:   st,
		limiter: newLimiter(o.Limits.over(seed.Limits).over(DefaultLimits)),
		done:    make(chan struct{}),
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	s.received.init(requestLogSize)
	s.sessions.init()
	s.pending.init()
	for _, f := range o.Faults {
		if err := f.Validate(); err != nil {
			return nil, fmt.Errorf("fault: %w", err)
		}
		s.faults.add(f)
	}
	s.handler = s.routes()
	s.inspector = inspector.NewHub(&inspector.Options{Title: "joai-mock", Logger: s.logger})
	s.sink = inspector.Tee(s.inspector, o.Sink)
	s.HandleControl("GET /_mock/inspector", s.inspector)
	return s, nil
}

// Start begins serving on s.Listener, or on a new loopback listener. It
// panics if the server was already started or cannot listen, like
// httptest.Server.Start.
func (s *Server) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		panic("mockserver: Server already started")
	}
	if s.closed {
		panic("mockserver: Server already closed")
	}
	if s.Listener == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic("mockserver: listening on 127.0.0.1:0: " + err.Error())
		}
		s.Listener = ln
	}
	s.started = true
	s.URL = "http://" + s.Listener.Addr().String()
	// No WriteTimeout: replies on SSE streams last as long as the client
	// keeps them open.
	s.hs = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	go s.hs.Serve(s.Listener)
	s.logger.Info("mock server listening", "url", s.URL)
}

// Close ends every stream, stops listening and waits for the requests in
// flight to finish. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	hs := s.hs
	s.mu.Unlock()

	close(s.done)
	// The inspector's WebSocket connections are hijacked, so Shutdown
	// would not wait for them.
	s.inspector.Close()
	if hs == nil {
		if s.Listener != nil {
			s.Listener.Close()
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		hs.Close()
	}
	s.logger.Info("mock server stopped", "url", s.URL)
}

// Handler returns the server's handler, which can also be served by an
// httptest.Server or any http.Server. The control API under /_mock/
// serves only clients whose remote address is a loopback address, with a
// loopback or localhost Host header and, when they send one, a loopback
// Origin. Others get 403. A control request with a body that is not
// Content-Type application/json gets 415.
func (s *Server) Handler() http.Handler { return s.handler }

// Info returns the base URL and the seed's agent and token values.
func (s *Server) Info() Info {
	in := s.seed.info()
	in.URL = s.URL
	return in
}

// AgentURL returns the MCP endpoint of an agent: s.URL + "/mcp/agents/" +
// uuid.
func (s *Server) AgentURL(uuid string) string { return s.URL + "/mcp/agents/" + uuid }

// Limits returns the server-wide per-token limits in force.
func (s *Server) Limits() Limits { return s.limiter.current() }

// SetLimits replaces the server-wide limits; zero fields take the seed's
// values, then [DefaultLimits]. Every token's allowance starts afresh.
// Tokens with limits of their own keep the fields they set.
func (s *Server) SetLimits(l Limits) error {
	if err := l.validate(); err != nil {
		return err
	}
	s.limiter.set(l.over(s.seed.Limits).over(DefaultLimits))
	return nil
}

// Reset returns the state to the seed, clears faults, sessions and the
// request log, and gives every token a fresh allowance under the limits of
// Options (undoing SetLimits). With a state file, the seed's state is
// written to it. A failure to write is logged and leaves the file as it
// was, while the server goes on with the seed's state.
func (s *Server) Reset() {
	if err := s.reset(); err != nil {
		s.logger.Warn("reset: state file not written", "err", err)
	}
}

func (s *Server) reset() error {
	s.faults.clear()
	s.limiter.set(s.opts.Limits.over(s.seed.Limits).over(DefaultLimits))
	s.received.clear()
	s.ExpireSessions()
	return s.state.reset(s.seed)
}

// ExpireSessions deletes every session, so requests that carry one get 404
// and must initialize again. GET streams of those sessions are closed.
func (s *Server) ExpireSessions() {
	for _, id := range s.sessions.expireAll() {
		s.streams.closeSession(id)
	}
}

// Notify sends a JSON-RPC message, typically a notification, on every open
// GET stream of the agent and returns how many streams it was queued on.
func (s *Server) Notify(agentUUID string, msg json.RawMessage) int {
	if a := s.state.agent(agentUUID); a != nil {
		agentUUID = a.UUID
	}
	return s.streams.broadcast(agentUUID, msg)
}
