package mockserver

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// replySSE answers a request on an event stream: the headers, then any
// progress notifications and server-to-client request a fault asks for,
// then the response as the last event.
func (ex *exchange) replySSE(c *call) {
	h := ex.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")

	// initialize has no side effects, so it runs first: its session id must
	// go out in the headers, before any event.
	var result json.RawMessage
	var rerr *rpcError
	initializing := c.msg.method == string(mcp.MethodInitialize)
	if initializing {
		result, rerr = c.dispatch()
		if rerr == nil && ex.s.opts.Sessions {
			h.Set("Mcp-Session-Id", ex.s.sessions.create(ex.agent.UUID))
		}
	}
	ex.w.WriteHeader(http.StatusOK)
	ex.status, ex.written = http.StatusOK, true
	rc := http.NewResponseController(ex.w)
	rc.Flush()
	if ex.fault != nil && ex.fault.Drop == DropAfterHeaders {
		ex.drop()
		return
	}

	events := 0
	send := func(msg []byte) bool {
		if f := ex.fault; f != nil && f.CutAfterEvents > 0 && events >= f.CutAfterEvents {
			ex.note = fmt.Sprintf("stream cut after %d events", events)
			ex.drop()
			return false
		}
		events++
		return ex.writeEvent(msg)
	}
	if !ex.sendFaultTraffic(c, send, &rerr) {
		return
	}
	if !initializing && rerr == nil {
		result, rerr = c.dispatch()
	}
	reply := ex.encodeReply(c.msg.id, result, rerr)
	if send(reply) {
		ex.reply = reply
	}
}

// writeEvent writes one SSE message event and flushes it.
func (ex *exchange) writeEvent(msg []byte) bool {
	ev := make([]byte, 0, len(msg)+24)
	ev = append(ev, "event: message\ndata: "...)
	ev = append(ev, msg...)
	ev = append(ev, "\n\n"...)
	if ex.fault != nil && ex.fault.SlowBytes > 0 {
		return ex.writeSlowly(ev)
	}
	if _, err := ex.w.Write(ev); err != nil {
		return false
	}
	return http.NewResponseController(ex.w).Flush() == nil
}

// sendFaultTraffic sends the progress notifications and the
// server-to-client request of the fault, if any. A failed check of the
// client's answer is stored in rerr. It returns false if the stream ended.
func (ex *exchange) sendFaultTraffic(c *call, send func([]byte) bool, rerr **rpcError) bool {
	f := ex.fault
	if f == nil {
		return true
	}
	if f.Progress > 0 {
		tokenRaw := progressToken(c.msg.params)
		if tokenRaw == nil {
			ex.note = "progress fault: the request has no _meta.progressToken, so none was sent"
		}
		for i := 1; tokenRaw != nil && i <= f.Progress; i++ {
			n := fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":%s,"progress":%d,"total":%d}}`,
				tokenRaw, i, f.Progress)
			if !send(n) {
				return false
			}
		}
	}
	if f.ServerRequest != "" {
		problem, ok := ex.serverRequest(f.ServerRequest, send)
		if !ok {
			return false
		}
		ex.note = "server request " + f.ServerRequest + ": " + cmpOr(problem, "answered correctly")
		if problem != "" {
			*rerr = &rpcError{code: mcp.INTERNAL_ERROR, message: "Internal error: server-to-client " + f.ServerRequest + " " + problem}
		}
	}
	return true
}

// progressToken returns the raw _meta.progressToken of params, or nil.
func progressToken(params json.RawMessage) json.RawMessage {
	var p struct {
		Meta struct {
			ProgressToken json.RawMessage `json:"progressToken"`
		} `json:"_meta"`
	}
	if json.Unmarshal(params, &p) != nil || !validID(p.Meta.ProgressToken) {
		return nil
	}
	return p.Meta.ProgressToken
}

// serverRequestTimeout is how long the server waits for the client to
// answer a server-to-client request.
const serverRequestTimeout = 10 * time.Second

// serverRequest sends a request to the client on the stream, waits for the
// client to POST the answer, and checks it. It returns a description of
// what was wrong with the answer ("" if nothing), and false if the stream
// ended.
func (ex *exchange) serverRequest(method string, send func([]byte) bool) (problem string, ok bool) {
	id, answers := ex.s.pending.register()
	defer ex.s.pending.forget(id)
	req := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	switch method {
	case "sampling/createMessage":
		req["params"] = map[string]any{
			"messages":  []any{map[string]any{"role": "user", "content": map[string]any{"type": "text", "text": "Say hello."}}},
			"maxTokens": 100,
		}
	case "elicitation/create":
		req["params"] = map[string]any{
			"message": "Continue?",
			"requestedSchema": map[string]any{
				"type": "object", "properties": map[string]any{"ok": map[string]any{"type": "boolean"}},
			},
		}
	}
	b, _ := json.Marshal(req)
	if !send(b) {
		return "", false
	}
	t := time.NewTimer(serverRequestTimeout)
	defer t.Stop()
	select {
	case m := <-answers:
		return checkAnswer(method, m), true
	case <-t.C:
		return fmt.Sprintf("got no answer within %v", serverRequestTimeout), true
	case <-ex.r.Context().Done():
		return "", false
	case <-ex.s.done:
		return "", false
	}
}

// checkAnswer checks a client's answer against the result shape of the
// server-to-client request (MCP 2025-06-18 schema).
func checkAnswer(method string, m *rpcMessage) string {
	if m.rpcErr != nil {
		return "was answered with an error: " + string(m.rpcErr)
	}
	var r map[string]json.RawMessage
	if json.Unmarshal(m.result, &r) != nil {
		return "was answered with a result that is not an object: " + string(m.result)
	}
	need := map[string][]string{
		"sampling/createMessage": {"role", "content", "model"},
		"elicitation/create":     {"action"},
		"roots/list":             {"roots"},
	}[method]
	for _, k := range need {
		if _, ok := r[k]; !ok {
			return fmt.Sprintf("was answered without %q in the result", k)
		}
	}
	return ""
}

// pendingRequests are the server-to-client requests awaiting an answer.
type pendingRequests struct {
	// mu guards next and waiting.
	mu      sync.Mutex
	next    int
	waiting map[string]chan *rpcMessage // by raw JSON id
}

func (p *pendingRequests) init() { p.waiting = map[string]chan *rpcMessage{} }

func (p *pendingRequests) register() (string, chan *rpcMessage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	id := "mock-" + strconv.Itoa(p.next)
	ch := make(chan *rpcMessage, 1)
	p.waiting[strconv.Quote(id)] = ch
	return id, ch
}

func (p *pendingRequests) forget(id string) {
	p.mu.Lock()
	delete(p.waiting, strconv.Quote(id))
	p.mu.Unlock()
}

// deliver hands a client's response to the request waiting for it and
// returns a note for the request log.
func (p *pendingRequests) deliver(m *rpcMessage) string {
	p.mu.Lock()
	ch := p.waiting[string(m.id)]
	delete(p.waiting, string(m.id))
	p.mu.Unlock()
	if ch == nil {
		return "response to no pending server request (id " + string(m.id) + ")"
	}
	ch <- m
	return "answer to server request " + string(m.id)
}

// session is one Mcp-Session-Id.
type session struct {
	id        string
	agentUUID string
}

type sessionTable struct {
	// mu guards m.
	mu sync.Mutex
	m  map[string]*session
}

func (t *sessionTable) init() { t.m = map[string]*session{} }

func (t *sessionTable) create(agentUUID string) string {
	var raw [16]byte
	rand.Read(raw[:])
	id := hex.EncodeToString(raw[:])
	t.mu.Lock()
	t.m[id] = &session{id: id, agentUUID: agentUUID}
	t.mu.Unlock()
	return id
}

func (t *sessionTable) get(id string) *session {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[id]
}

func (t *sessionTable) remove(id string) {
	t.mu.Lock()
	delete(t.m, id)
	t.mu.Unlock()
}

func (t *sessionTable) expireAll() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := make([]string, 0, len(t.m))
	for id := range t.m {
		ids = append(ids, id)
	}
	clear(t.m)
	return ids
}

// stream is one open GET stream.
type stream struct {
	agentUUID string
	sessionID string // "" without sessions
	messages  chan json.RawMessage
	closed    chan struct{}
	closeOnce sync.Once
}

func (st *stream) close() { st.closeOnce.Do(func() { close(st.closed) }) }

// streamSet is the open GET streams.
type streamSet struct {
	// mu guards m.
	mu sync.Mutex
	m  map[*stream]struct{}
}

func (ss *streamSet) add(st *stream) {
	ss.mu.Lock()
	if ss.m == nil {
		ss.m = map[*stream]struct{}{}
	}
	ss.m[st] = struct{}{}
	ss.mu.Unlock()
}

func (ss *streamSet) remove(st *stream) {
	ss.mu.Lock()
	delete(ss.m, st)
	ss.mu.Unlock()
}

func (ss *streamSet) closeSession(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for st := range ss.m {
		if st.sessionID == id {
			st.close()
		}
	}
}

// broadcast queues msg on each stream of the agent whose queue has room.
func (ss *streamSet) broadcast(agentUUID string, msg json.RawMessage) int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	n := 0
	for st := range ss.m {
		if st.agentUUID != agentUUID {
			continue
		}
		select {
		case st.messages <- msg:
			n++
		default:
		}
	}
	return n
}

// keepAliveInterval is how often a quiet GET stream gets an SSE comment, so
// that proxies and clients see it is alive.
const keepAliveInterval = 15 * time.Second

// serveStream holds a GET stream open (MCP 2025-06-18, Transports,
// "Listening for Messages from the Server") until the client leaves, the
// session ends or the server closes. It carries what [Server.Notify]
// sends.
func (ex *exchange) serveStream() {
	st := &stream{agentUUID: ex.agent.UUID, messages: make(chan json.RawMessage, 16), closed: make(chan struct{})}
	if ex.session != nil {
		st.sessionID = ex.session.id
	}
	ex.s.streams.add(st)
	defer ex.s.streams.remove(st)

	// Opening the stream was one request under the concurrency limit, but
	// holding it open is not: otherwise every client that listens, as the
	// bridge always does, would lose a slot for as long as it runs. The
	// slot is free before the client sees the headers.
	ex.releaseSlot()

	h := ex.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	ex.w.WriteHeader(http.StatusOK)
	ex.status, ex.written = http.StatusOK, true
	rc := http.NewResponseController(ex.w)
	ex.w.Write([]byte(": stream open\n\n"))
	if rc.Flush() != nil {
		return
	}
	if ex.fault != nil && ex.fault.Drop == DropAfterHeaders {
		ex.drop()
		return
	}
	tick := time.NewTicker(keepAliveInterval)
	defer tick.Stop()
	events := 0
	for {
		select {
		case msg := <-st.messages:
			if f := ex.fault; f != nil && f.CutAfterEvents > 0 && events >= f.CutAfterEvents {
				ex.drop()
				return
			}
			events++
			if !ex.writeEvent(msg) {
				return
			}
		case <-tick.C:
			ex.w.Write([]byte(": keep-alive\n\n"))
			if rc.Flush() != nil {
				return
			}
		case <-st.closed:
			ex.note = "stream closed: session ended"
			return
		case <-ex.r.Context().Done():
			return
		case <-ex.s.done:
			return
		}
	}
}
