package mockserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/joai-ai/joai-mcp/internal/inspector"
	"github.com/joai-ai/joai-mcp/internal/redact"
	"github.com/mark3labs/mcp-go/mcp"
)

// The error bodies of the JoAi API token documentation, byte for byte.
const (
	bodyUnauthorized   = `{"error":"unauthorized","error_description":"Invalid or expired token"}`
	bodyMissingContext = `{"error":"missing_context","error_description":"API tokens require explicit agent selection"}`
	bodyAgentNotFound  = `{"error":"not_found","error_description":"Agent not found"}`
)

// Error bodies the documentation does not show, in the same shape.
const (
	bodyRateLimited     = `{"error":"rate_limited","error_description":"Rate limit exceeded"}`
	bodyTooConcurrent   = `{"error":"rate_limited","error_description":"Too many concurrent requests"}`
	bodyWrong401        = `{"error":"invalid_token","message":"token rejected"}`
	bodyInjected        = `{"error":"server_error","error_description":"Injected fault"}`
	bodyTokenNotFound   = `{"error":"not_found","error_description":"Token not found"}`
	bodyEndpointMissing = `{"error":"not_found","error_description":"No such endpoint"}`
)

// exchange is one HTTP request being served, with what the server learnt
// about it along the way.
type exchange struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	start time.Time

	body   []byte
	msg    *rpcMessage // parsed POST body on an agent endpoint, or nil
	fault  *Fault
	rawTok string
	tok    *token
	bucket *bucket
	// slotReleased records that releaseSlot has run.
	slotReleased bool
	agent        *agent
	session      *session

	status   int
	reply    []byte // the last JSON reply, for events
	errCode  int    // JSON-RPC error code of the reply
	note     string
	written  bool
	hijacked bool
}

// exchangeOf returns the exchange of a request. front passes the exchange
// to the routes as their ResponseWriter, so handlers need no context value.
func exchangeOf(w http.ResponseWriter) *exchange { return w.(*exchange) }

// Header returns the reply header.
func (ex *exchange) Header() http.Header { return ex.w.Header() }

// WriteHeader sends the status line and headers.
func (ex *exchange) WriteHeader(status int) {
	ex.status, ex.written = status, true
	ex.w.WriteHeader(status)
}

// Write sends body bytes, with status 200 if none was sent yet.
func (ex *exchange) Write(b []byte) (int, error) {
	if !ex.written {
		ex.status, ex.written = http.StatusOK, true
	}
	return ex.w.Write(b)
}

// Unwrap returns the underlying writer, for http.ResponseController.
func (ex *exchange) Unwrap() http.ResponseWriter { return ex.w }

// routes builds the handler: the control API, and everything else behind
// the front door that reads the body, applies faults and authenticates.
func (s *Server) routes() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("POST /mcp/agents/{uuid}", s.withAgent(s.serveAgentPOST))
	api.HandleFunc("GET /mcp/agents/{uuid}", s.withAgent(s.serveAgentGET))
	api.HandleFunc("DELETE /mcp/agents/{uuid}", s.withAgent(s.serveAgentDELETE))
	api.HandleFunc("/mcp/agents/{uuid}", methodNotAllowed(s.agentMethods(true)))
	api.HandleFunc("POST /mcp", s.serveMissingContext)
	api.HandleFunc("/mcp", methodNotAllowed("POST"))
	api.HandleFunc("GET /api/agents", s.serveAgents)
	api.HandleFunc("/api/agents", methodNotAllowed("GET"))
	api.HandleFunc("GET /api/tokens", s.serveTokenList)
	api.HandleFunc("POST /api/tokens", s.serveTokenCreate)
	api.HandleFunc("/api/tokens", methodNotAllowed("GET, POST"))
	api.HandleFunc("DELETE /api/tokens/{id}", s.serveTokenRevoke)
	api.HandleFunc("/api/tokens/{id}", methodNotAllowed("DELETE"))
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		exchangeOf(w).writeBody(http.StatusNotFound, bodyEndpointMissing, nil)
	})

	root := http.NewServeMux()
	root.Handle("/_mock/", s.controlRoutes())
	root.Handle("/", s.front(api))
	return root
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ex := exchangeOf(w)
		ex.writeBody(http.StatusMethodNotAllowed,
			`{"error":"method_not_allowed","error_description":"Allowed methods: `+allow+`"}`,
			http.Header{"Allow": {allow}})
	}
}

// front reads the body, applies the first matching fault, and
// authenticates and rate-limits the token before it passes the request on.
// When the handler returns, front records the exchange.
func (s *Server) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := &exchange{s: s, w: w, r: r, start: time.Now()}
		defer ex.finish()

		if !ex.readBody() {
			return
		}
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/mcp/agents/") {
			ex.msg = parseMessage(ex.body)
		}
		ex.fault = s.faults.match(r.Method, r.URL.Path, ex.rpcMethod())
		if ex.fault != nil && !ex.applyReplyingFault() {
			return
		}
		if !ex.checkOrigin() || !ex.authenticate() {
			return
		}
		defer ex.releaseSlot()

		// Latency is served while the request holds its slot under the
		// token's concurrency limit, as a slow server would.
		if ex.fault != nil && ex.fault.Latency > 0 && !ex.sleep(ex.fault.Latency) {
			ex.note = "client gone during injected latency"
			return
		}
		next.ServeHTTP(ex, r)
	})
}

// releaseSlot gives back the request's place under the token's
// concurrency limit. Only the first call releases it.
func (ex *exchange) releaseSlot() {
	if ex.bucket != nil && !ex.slotReleased {
		ex.slotReleased = true
		ex.bucket.release()
	}
}

func (ex *exchange) rpcMethod() string {
	if ex.msg == nil {
		return ""
	}
	return ex.msg.method
}

func (ex *exchange) readBody() bool {
	if ex.r.Body == nil || ex.r.Method == http.MethodGet || ex.r.Method == http.MethodHead {
		return true
	}
	rd := http.MaxBytesReader(ex.w, ex.r.Body, ex.s.maxBody)
	var body []byte
	var err error
	if n := ex.r.ContentLength; n >= 0 && n <= ex.s.maxBody {
		body = make([]byte, n)
		_, err = io.ReadFull(rd, body)
	} else {
		body, err = io.ReadAll(rd)
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		ex.note = "body too large"
		ex.writeBody(http.StatusRequestEntityTooLarge, fmt.Sprintf(
			`{"error":"payload_too_large","error_description":"Request body exceeds %d bytes"}`, ex.s.maxBody),
			http.Header{"Connection": {"close"}})
		return false
	case err != nil:
		ex.note = "reading body: " + err.Error()
		ex.writeBody(http.StatusBadRequest, `{"error":"invalid_request","error_description":"Request body could not be read"}`, nil)
		return false
	}
	ex.body = body
	return true
}

// applyReplyingFault applies a fault that replies without authentication:
// a status or a drop before the reply, after its latency. It returns false
// when the fault has replied or dropped the connection.
func (ex *exchange) applyReplyingFault() bool {
	f := ex.fault
	if f.Status == 0 && f.Drop != DropBeforeReply {
		return true
	}
	if f.Latency > 0 && !ex.sleep(f.Latency) {
		ex.note = "client gone during injected latency"
		return false
	}
	if f.Drop == DropBeforeReply {
		ex.drop()
		return false
	}
	h := http.Header{}
	body := f.Body
	switch f.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", "Bearer")
		body = cmpOr(body, ex.unauthorizedBody())
	case http.StatusBadRequest:
		body = cmpOr(body, bodyMissingContext)
	case http.StatusNotFound:
		body = cmpOr(body, bodyAgentNotFound)
	case http.StatusTooManyRequests:
		if f.Break != BreakNoRetryAfter {
			h.Set("Retry-After", "1")
		}
		body = cmpOr(body, bodyRateLimited)
	default:
		body = cmpOr(body, bodyInjected)
	}
	for k, v := range f.Header {
		h.Set(k, v)
	}
	ex.writeBody(f.Status, body, h)
	if !json.Valid(ex.reply) {
		// A fault's body may be anything; events carry it as a string.
		ex.reply, _ = json.Marshal(body)
	}
	return false
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sleep waits for d, or returns false if the client went away or the
// server is closing.
func (ex *exchange) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ex.r.Context().Done():
		return false
	case <-ex.s.done:
		return false
	}
}

// drop closes the connection without a reply.
func (ex *exchange) drop() {
	conn, _, err := http.NewResponseController(ex.w).Hijack()
	if err != nil {
		// HTTP/2 cannot hand over the connection; abort the stream instead.
		ex.note = "drop: " + err.Error()
		panic(http.ErrAbortHandler)
	}
	ex.hijacked = true
	conn.Close()
}

// checkOrigin rejects a request whose Origin header names a host other
// than a loopback one, as MCP 2025-06-18 (Transports, "Security Warning")
// requires of local servers against DNS rebinding. Requests without Origin,
// which is what non-browser clients send, pass.
func (ex *exchange) checkOrigin() bool {
	origin := ex.r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if isLoopbackOrigin(origin) {
		return true
	}
	ex.note = "origin rejected: " + origin
	ex.writeBody(http.StatusForbidden, `{"error":"forbidden","error_description":"Origin not allowed"}`, nil)
	return false
}

// isLoopbackOrigin reports whether origin, an Origin header value, names a
// page served from localhost or a loopback IP address.
func isLoopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && inspector.IsLoopbackHost(u.Hostname())
}

// authenticate checks the Bearer token and the token's limits.
func (ex *exchange) authenticate() bool {
	scheme, cred, ok := strings.Cut(ex.r.Header.Get("Authorization"), " ")
	cred = strings.TrimSpace(cred)
	if !ok || !strings.EqualFold(scheme, "Bearer") || cred == "" {
		ex.note = "missing or malformed Authorization header"
		ex.unauthorized()
		return false
	}
	ex.rawTok = cred
	tok, revoked := ex.s.state.authenticate(cred)
	if tok == nil {
		ex.note = "unknown token"
		if revoked {
			ex.note = "revoked token"
		}
		ex.unauthorized()
		return false
	}
	ex.tok = tok
	ex.bucket = ex.s.limiter.bucketFor(tok.id, tok.limits)
	retryAfter, err := ex.bucket.admit(ex.s.limiter.now())
	if err != nil {
		ex.bucket = nil
		ex.note = err.Error()
		ex.tooManyRequests(retryAfter, err)
		return false
	}
	return true
}

func (ex *exchange) unauthorizedBody() string {
	if ex.fault != nil && ex.fault.Break == BreakWrong401Body {
		return bodyWrong401
	}
	return bodyUnauthorized
}

func (ex *exchange) unauthorized() {
	ex.writeBody(http.StatusUnauthorized, ex.unauthorizedBody(), http.Header{"Www-Authenticate": {"Bearer"}})
}

func (ex *exchange) tooManyRequests(retryAfter int, err error) {
	h := http.Header{}
	switch {
	case ex.fault != nil && ex.fault.Break == BreakNoRetryAfter:
	case ex.fault != nil && ex.fault.Break == BreakDishonestRetryAfter:
		h.Set("Retry-After", strconv.Itoa(retryAfter-1))
	default:
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	body := bodyRateLimited
	if errors.Is(err, errTooManyConcurrent) {
		body = bodyTooConcurrent
	}
	ex.writeBody(http.StatusTooManyRequests, body, h)
}

// writeBody sends a complete JSON reply.
func (ex *exchange) writeBody(status int, body string, h http.Header) {
	ex.writeBytes(status, []byte(body), "application/json", h)
}

func (ex *exchange) writeBytes(status int, body []byte, contentType string, h http.Header) {
	wh := ex.w.Header()
	for k, v := range h {
		wh[k] = v
	}
	if contentType != "" {
		wh.Set("Content-Type", contentType)
	}
	if ex.fault != nil && ex.fault.Drop == DropAfterHeaders {
		ex.dropAfterHeaders(status, body)
		return
	}
	if ex.fault != nil && ex.fault.SlowBytes > 0 {
		ex.w.WriteHeader(status)
		ex.status, ex.written = status, true
		ex.writeSlowly(body)
		ex.reply = body
		return
	}
	wh.Set("Content-Length", strconv.Itoa(len(body)))
	ex.w.WriteHeader(status)
	ex.w.Write(body)
	ex.status, ex.written, ex.reply = status, true, body
}

// dropAfterHeaders sends the status, the headers and the first half of the
// body, then closes the connection.
func (ex *exchange) dropAfterHeaders(status int, body []byte) {
	ex.w.Header().Del("Content-Length")
	ex.w.WriteHeader(status)
	ex.status, ex.written = status, true
	ex.w.Write(body[:len(body)/2])
	rc := http.NewResponseController(ex.w)
	rc.Flush()
	ex.drop()
}

// writeSlowly writes body in chunks of fault.SlowBytes, flushing each and
// pausing fault.SlowInterval between them.
func (ex *exchange) writeSlowly(body []byte) bool {
	rc := http.NewResponseController(ex.w)
	n := ex.fault.SlowBytes
	for len(body) > 0 {
		chunk := body[:min(n, len(body))]
		body = body[len(chunk):]
		if _, err := ex.w.Write(chunk); err != nil {
			return false
		}
		rc.Flush()
		if len(body) > 0 && !ex.sleep(ex.fault.SlowInterval) {
			return false
		}
	}
	return true
}

// finish records the exchange: the request log, the inspector event and
// the log line.
func (ex *exchange) finish() {
	s := ex.s
	latency := time.Since(ex.start)
	rec := Received{
		Time:       ex.start,
		HTTPMethod: ex.r.Method,
		Path:       ex.r.URL.Path,
		Header:     redact.Header(ex.r.Header),
		Status:     ex.status,
		Note:       redact.String(ex.note, ex.rawTok),
	}
	if ex.msg != nil {
		rec.Method = redact.String(ex.msg.method, ex.rawTok)
		rec.ID = redact.String(string(ex.msg.id), ex.rawTok)
	}
	if len(ex.body) > 0 {
		rec.Body = ex.recordedBody()
	}
	if ex.fault != nil {
		rec.Fault = ex.fault.describe()
	}
	if ex.hijacked {
		rec.Note = strings.TrimPrefix(rec.Note+"; connection closed by the server", "; ")
	}
	s.received.add(rec)

	s.sink.Publish(ex.event(rec, latency))
	level := slog.LevelDebug
	if ex.status >= 400 || ex.errCode != 0 || ex.status == 0 {
		level = slog.LevelWarn
	}
	var attrs []any
	if ex.status == http.StatusTooManyRequests {
		key := ex.redactedToken()
		if ex.tok != nil {
			key = ex.tok.id
		}
		warn, suppressed := s.rejects.note(key, time.Now())
		if !warn {
			level = slog.LevelDebug
		}
		if suppressed > 0 {
			attrs = append(attrs, "earlier_429s_at_debug", suppressed)
		}
	}
	if s.logger.Enabled(context.Background(), level) {
		attrs = append([]any{
			"http_method", rec.HTTPMethod, "path", rec.Path, "method", rec.Method, "id", rec.ID,
			"status", rec.Status, "error_code", ex.errCode, "latency", latency,
			"token", ex.redactedToken(), "fault", rec.Fault, "note", rec.Note,
		}, attrs...)
		s.logger.Log(context.Background(), level, "request", attrs...)
	}
}

// recordedBody returns the body for the request log: redacted, cut to
// maxRecordedBody, and as a JSON string when it is not JSON itself.
func (ex *exchange) recordedBody() json.RawMessage {
	b := redact.Bytes(ex.body[:min(len(ex.body), maxRecordedBody)], ex.rawTok)
	// The JSON-RPC parser has already checked the bodies of agent POSTs.
	valid := len(b) == len(ex.body) && ex.msg != nil && ex.msg.errCode != mcp.PARSE_ERROR
	if !valid && !json.Valid(b) {
		b, _ = json.Marshal(string(b))
	}
	return b
}

func (ex *exchange) redactedToken() string {
	if ex.rawTok == "" {
		return ""
	}
	return redact.Token(ex.rawTok)
}

func (ex *exchange) event(rec Received, latency time.Duration) inspector.Event {
	ev := inspector.Event{
		Time:       ex.start,
		Source:     "mock",
		Direction:  "client→mock",
		HTTPMethod: rec.HTTPMethod,
		Path:       rec.Path,
		Method:     rec.Method,
		ID:         rec.ID,
		HTTPStatus: rec.Status,
		ErrorCode:  ex.errCode,
		Latency:    latency,
		Size:       len(ex.body) + len(ex.reply),
		Token:      ex.redactedToken(),
	}
	switch {
	case rec.Fault != "" && rec.Note != "":
		ev.Note = rec.Fault + "; " + rec.Note
	case rec.Fault != "":
		ev.Note = rec.Fault
	default:
		ev.Note = rec.Note
	}
	ev.Request = rec.Body
	if len(ex.reply) > 0 {
		// Replies are built by the server and always JSON.
		ev.Response = redact.Bytes(ex.reply, ex.rawTok)
	}
	if ex.tok != nil {
		b := ex.s.limiter.bucketFor(ex.tok.id, ex.tok.limits)
		ev.RateLimit = b.state(ex.s.limiter.now(), ex.s.limiter.base)
	}
	return ev
}
