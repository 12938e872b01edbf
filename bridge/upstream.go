package bridge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/internal/jsonrpc"
	"github.com/joai-ai/joai-mcp/internal/redact"
)

// maxErrorBody is how much of an error reply's body the bridge keeps.
const maxErrorBody = 64 << 10

// HTTPStatusError is a reply from the service with a status other than 2xx
// and 404. The round tripper returns it as its error, so callers of mcp-go
// can reach it with errors.As. A 404 is passed to mcp-go instead, which
// takes it as the end of the session.
type HTTPStatusError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Header is the reply's header.
	Header http.Header
	// Body is the start of the reply's body, at most 64 KiB, with the token
	// redacted.
	Body []byte
}

// Error returns the status, for example "HTTP 429 Too Many Requests".
func (e *HTTPStatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// retryable reports whether the service refused the request without
// processing it and asked for a later retry.
func (e *HTTPStatusError) retryable() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusServiceUnavailable
}

// tokenError is a failure to get the token from its source.
type tokenError struct{ err error }

func (e *tokenError) Error() string { return "getting the API token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// attempt is one HTTP exchange that carries a host message upstream. The
// round tripper finds it in the request's context, sends its body instead
// of the one mcp-go encoded, and records the reply in it.
type attempt struct {
	b *Bridge
	// body is the exact message to send, in parts.
	body [][]byte
	// upID is the upstream id of a request, or 0 for a message that has no
	// response.
	upID   int64
	method string
	// owner is the host request this attempt relays, or nil.
	owner *call

	token        string
	wroteHeaders atomic.Bool

	// mu guards the fields below.
	mu          sync.Mutex
	status      int
	errBody     []byte
	sentSession bool
	response    []byte
	respHeader  jsonrpc.Header
	failure     *callError
}

type attemptKey struct{}

// withAttempt returns ctx carrying a, for the round tripper, and a trace
// hook that sets a.wroteHeaders once net/http has written the request's
// headers: from then on the request may have reached the service. A hook
// instead of a wrapper around the body keeps the body a *bytes.Reader, and
// net/http writes such a body, when it is small, in the same system call as
// the headers. Before any other kind of body it flushes the headers alone.
func withAttempt(ctx context.Context, a *attempt) context.Context {
	ctx = context.WithValue(ctx, attemptKey{}, a)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: func() { a.wroteHeaders.Store(true) },
	})
}

// newAttempt returns an attempt that sends msg, whose header is h, with a
// new upstream id in place of the host's.
func (b *Bridge) newAttempt(msg []byte, h jsonrpc.Header, method string) *attempt {
	a := &attempt{b: b, upID: b.nextUpID.Add(1), method: method}
	parts := jsonrpc.ReplaceID(msg, h, []byte(strconv.FormatInt(a.upID, 10)))
	a.body = parts[:]
	return a
}

// call returns the host request a relays, or nil.
func (a *attempt) call() *call { return a.owner }

func (a *attempt) bodySize() int64 {
	var n int64
	for _, p := range a.body {
		n += int64(len(p))
	}
	return n
}

func (a *attempt) statusCode() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

func (a *attempt) setStatus(status int, body []byte, sentSession bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.status, a.errBody, a.sentSession = status, body, sentSession
}

func (a *attempt) fail(cerr *callError) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failure == nil && a.response == nil {
		a.failure = cerr
	}
}

func (a *attempt) getFailure() *callError {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.failure
}

// setResponse records msg as the response, unless one was recorded already.
func (a *attempt) setResponse(msg []byte, h jsonrpc.Header) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.response != nil || a.failure != nil {
		return false
	}
	a.response, a.respHeader = msg, h
	return true
}

func (a *attempt) hasResponse() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.response != nil
}

// standIn returns the small response that mcp-go decodes in place of the
// real one, which the bridge keeps. mcp-go only looks at whether it is an
// error, to decide whether a new session started, and never compares its
// id with the request's. The callers only read the returned slice.
func (a *attempt) standIn() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.response != nil && !a.respHeader.IsError {
		return standInResult
	}
	return standInError
}

// The stand-ins have a string id because mcp-go v1.2.1's RequestId decoder
// tries a string first, and for a number it builds and discards an
// UnmarshalTypeError before it tries a float.
var (
	standInResult = []byte(`{"jsonrpc":"2.0","id":"bridge","result":{}}`)
	standInError  = []byte(`{"jsonrpc":"2.0","id":"bridge","error":{"code":-32603,"message":"replaced by the bridge"}}`)
)

// matchesUpID reports whether the raw response id is the upstream id sent.
func matchesUpID(raw []byte, id int64) bool {
	want := strconv.FormatInt(id, 10)
	s := string(raw)
	if s == want || s == `"`+want+`"` {
		return true
	}
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f == float64(id)
}

// roundTripper adds the token to every request and reads every reply for
// the bridge; see the package documentation.
type roundTripper struct {
	b    *Bridge
	base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	b := rt.b
	ctx := req.Context()
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	listening := a == nil && req.Method == http.MethodGet
	if listening {
		if b.plain.Load() || b.listenOff.Load() {
			closeBody(req)
			return methodNotAllowed(req), nil
		}
		if err := b.listener.wait(ctx, b.gate); err != nil {
			closeBody(req)
			return nil, err
		}
	}

	// mcp-go's header function sets Authorization on every request except
	// the DELETE that ends the session, and when the token cannot be read.
	out := new(http.Request)
	*out = *req
	auth := req.Header.Get("Authorization")
	if auth == "" {
		tok, err := b.token.get(ctx)
		if err != nil {
			closeBody(req)
			return nil, &tokenError{err: err}
		}
		auth = "Bearer " + tok
		out.Header = req.Header.Clone()
		out.Header.Set("Authorization", auth)
	}
	var cancel context.CancelFunc
	switch {
	case req.Method == http.MethodDelete:
		ctx, cancel = context.WithTimeout(ctx, b.opts.CloseTimeout)
		out = out.WithContext(ctx)
	case a != nil:
		a.token = strings.TrimPrefix(auth, "Bearer ")
		if req.Method == http.MethodPost {
			closeBody(req)
			setBody(out, a)
		}
	}

	resp, err := rt.base.RoundTrip(out)
	if err != nil {
		if cancel != nil {
			cancel()
		}
		if listening {
			b.listener.failed()
		}
		return nil, err
	}
	if cancel != nil {
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	}
	sentSession := out.Header.Get(transport.HeaderKeySessionID) != ""
	return rt.reply(req, a, resp, listening, sentSession)
}

// reply processes a reply that arrived.
func (rt *roundTripper) reply(req *http.Request, a *attempt, resp *http.Response, listening, sentSession bool) (*http.Response, error) {
	b := rt.b
	if resp.StatusCode == http.StatusNotFound {
		body := readLimited(resp.Body, maxErrorBody)
		resp.Body.Close()
		if a != nil {
			a.setStatus(resp.StatusCode, redact.Bytes(body, b.secrets()...), sentSession)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body := redact.Bytes(readLimited(resp.Body, maxErrorBody), b.secrets()...)
		resp.Body.Close()
		se := &HTTPStatusError{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}
		if se.retryable() {
			if wait, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				b.gate.closeFor(wait)
			}
		}
		if a != nil {
			a.setStatus(resp.StatusCode, body, sentSession)
		}
		if listening {
			return b.listenerRejected(req, se)
		}
		return nil, se
	}
	if a != nil {
		a.setStatus(resp.StatusCode, nil, sentSession)
	}

	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case listening && mediaType == "text/event-stream":
		b.listener.opened()
		resp.Body = newSSERelay(b, nil, resp.Body)
	case listening:
		resp.Body.Close()
		b.listenOff.Store(true)
		b.log.Info("the endpoint does not offer a GET event stream; server notifications arrive only on replies", "content_type", resp.Header.Get("Content-Type"))
		return methodNotAllowed(req), nil
	case a == nil || a.upID == 0:
		// A notification's reply, or the DELETE's, carries nothing the
		// bridge needs.
	case mediaType == "text/event-stream":
		resp.Body = newSSERelay(b, a, resp.Body)
	case mediaType == "application/json" && req.Method == http.MethodPost:
		rt.readJSONReply(a, resp)
	default:
		a.fail(invalidReply("the service replied with content type %q instead of JSON or an event stream", resp.Header.Get("Content-Type")))
	}
	return resp, nil
}

// readJSONReply reads a JSON reply whole, keeps the response in a, and
// leaves mcp-go the stand-in to decode.
func (rt *roundTripper) readJSONReply(a *attempt, resp *http.Response) {
	b := rt.b
	max := b.opts.MaxMessageSize
	var buf bytes.Buffer
	if resp.ContentLength > 0 && resp.ContentLength <= max {
		buf.Grow(int(resp.ContentLength))
	}
	n, err := io.Copy(&buf, io.LimitReader(resp.Body, max+1))
	resp.Body.Close()
	switch {
	case n > max:
		a.fail(&callError{Code: CodeMessageTooLarge, Message: fmt.Sprintf("the service's reply exceeds the maximum message size of %d bytes: raise --max-message-size", max)})
	case err != nil:
		a.fail(b.transportError(err, a))
	default:
		b.acceptReply(a, bytes.TrimSpace(buf.Bytes()))
	}
	standIn := a.standIn()
	resp.Body = io.NopCloser(bytes.NewReader(standIn))
	resp.ContentLength = int64(len(standIn))
}

// acceptReply records the JSON reply of a request as its response, or the
// reason it cannot be one.
func (b *Bridge) acceptReply(a *attempt, raw []byte) {
	msg := jsonrpc.StripLineBreaks(raw)
	h, err := jsonrpc.Classify(msg)
	switch {
	case err != nil:
		a.fail(invalidReply("the service's reply is not a valid JSON-RPC message: %v", err))
	case h.Kind != jsonrpc.KindResponse:
		a.fail(invalidReply("the service replied with a %s instead of a response", h.Kind))
	case !matchesUpID(h.ID, a.upID):
		b.log.Warn("dropped a response from the service for an unknown id", "id", string(h.ID), "expected", a.upID)
		a.fail(invalidReply("the service answered with a response for another request (id %s)", h.ID))
	default:
		a.setResponse(msg, h)
		b.noticeInitializeError(a, msg, h)
	}
}

// noticeInitializeError switches to the plain mode as soon as initialize
// gets -32601, before mcp-go starts its GET stream.
func (b *Bridge) noticeInitializeError(a *attempt, msg []byte, h jsonrpc.Header) {
	if a.method == "initialize" && h.IsError && gjson.GetBytes(msg, "error.code").Int() == jsonrpc.CodeMethodNotFound {
		b.enterPlainMode()
	}
}

// joinLimit is the body size up to which setBody copies the parts into one
// buffer: net/http would otherwise write each part with its own system
// call. Larger bodies are sent from the parts without a copy.
const joinLimit = 64 << 10

// setBody makes a's message the request's body.
func setBody(r *http.Request, a *attempt) {
	parts, size := a.body, a.bodySize()
	if size <= joinLimit && len(parts) > 1 {
		parts = [][]byte{joinParts(parts)}
	}
	r.ContentLength = size
	r.GetBody = func() (io.ReadCloser, error) {
		if len(parts) == 1 {
			// A bytes.Reader writes itself out at once, where a
			// MultiReader allocates a 32 KiB copy buffer each time.
			return io.NopCloser(bytes.NewReader(parts[0])), nil
		}
		readers := make([]io.Reader, len(parts))
		for i, p := range parts {
			readers[i] = bytes.NewReader(p)
		}
		return io.NopCloser(io.MultiReader(readers...)), nil
	}
	r.Body, _ = r.GetBody()
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}

// readLimited reads at most n bytes of r.
func readLimited(r io.Reader, n int64) []byte {
	b, _ := io.ReadAll(io.LimitReader(r, n))
	return b
}

// methodNotAllowed returns a 405 reply, which makes mcp-go stop its GET
// stream.
func methodNotAllowed(req *http.Request) *http.Response {
	return &http.Response{
		Status:     "405 Method Not Allowed",
		StatusCode: http.StatusMethodNotAllowed,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
		Body:       http.NoBody,
		Request:    req,
	}
}

// cancelOnClose cancels a context when the body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// listenerRejected handles a non-2xx reply to the GET stream: mcp-go retries
// every second, so the bridge stops the stream on replies that will not
// change and backs off on the others.
func (b *Bridge) listenerRejected(req *http.Request, se *HTTPStatusError) (*http.Response, error) {
	if se.StatusCode >= 400 && se.StatusCode < 500 && !se.retryable() {
		b.listenOff.Store(true)
		b.log.Info("the endpoint rejected the GET event stream; server notifications arrive only on replies", "status", se.StatusCode)
		return methodNotAllowed(req), nil
	}
	b.listener.failed()
	return nil, se
}

// listenerBackoff spaces the GET stream's reconnections after failures.
type listenerBackoff struct {
	failures atomic.Int32
}

func (l *listenerBackoff) failed() { l.failures.Add(1) }
func (l *listenerBackoff) opened() { l.failures.Store(0) }

// wait delays a reconnection after failures, and waits at the gate.
func (l *listenerBackoff) wait(ctx context.Context, g *gate) error {
	n := int(l.failures.Load())
	d := g.remaining()
	if n > 0 {
		d = max(d, backoff(n+2))
	}
	return sleep(ctx, d)
}
