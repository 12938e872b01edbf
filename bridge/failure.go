package bridge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/internal/jsonrpc"
	"github.com/joai-ai/joai-mcp/internal/redact"
)

// The JSON-RPC error codes the bridge responds with when it cannot relay a
// request; the README lists them with what to do. They are in the range
// JSON-RPC reserves for implementations, -32000 to -32099, and avoid the
// codes MCP uses there (-32002 resource not found, -32042 URL elicitation
// required) and -32001, the TypeScript SDK's request timeout.
const (
	// CodeUnreachable: the service could not be reached (connection
	// refused, DNS failure, network down), so the request was not sent.
	CodeUnreachable = -32010
	// CodeTLS: the TLS handshake failed, for example on a certificate the
	// system does not trust.
	CodeTLS = -32011
	// CodeTimeout: no response within --timeout; the request may have been
	// processed.
	CodeTimeout = -32012
	// CodeConnectionLost: the connection or reply stream broke after the
	// request was sent; it may have been processed, so it was not resent.
	CodeConnectionLost = -32013
	// CodeUnauthorized: HTTP 401, the token was rejected, or no token could
	// be read from its source.
	CodeUnauthorized = -32020
	// CodeForbidden: HTTP 403.
	CodeForbidden = -32021
	// CodeNotFound: HTTP 404 outside a live session: the agent does not
	// exist or the URL is wrong.
	CodeNotFound = -32022
	// CodeBadRequest: HTTP 400 whose body is not a JSON-RPC error, such as
	// missing_context.
	CodeBadRequest = -32023
	// CodeRejected: another 4xx status whose body is not a JSON-RPC error,
	// such as 413.
	CodeRejected = -32024
	// CodeRateLimited: HTTP 429 beyond the retry budget, or the bridge's own
	// --max-rpm limit.
	CodeRateLimited = -32029
	// CodeServiceError: HTTP 5xx, including 503 beyond the retry budget.
	CodeServiceError = -32030
	// CodeUpstreamInvalid: the service's reply was not a usable JSON-RPC
	// response.
	CodeUpstreamInvalid = -32040
	// CodeMessageTooLarge: a message exceeded --max-message-size.
	CodeMessageTooLarge = -32050
	// CodeShuttingDown: the bridge is stopping.
	CodeShuttingDown = -32060
)

// callError is the error response to a host request.
type callError struct {
	Code    int
	Message string
	Data    *errorData
	// object, when not nil, is the error object to send instead of one
	// built from Code, Message and Data: the service's own JSON-RPC error.
	object []byte
}

// response returns the error response to the request with the given id.
func (e *callError) response(id []byte) []byte {
	if e.object == nil {
		return jsonrpc.ErrorResponse(id, e.Code, e.Message, e.data())
	}
	if id == nil {
		id = []byte("null")
	}
	out := make([]byte, 0, len(id)+len(e.object)+32)
	out = append(out, `{"jsonrpc":"2.0","id":`...)
	out = append(out, id...)
	out = append(out, `,"error":`...)
	out = append(out, e.object...)
	return append(out, '}')
}

// serviceError returns the service's JSON-RPC error in a 4xx body, rebuilt
// from the raw bytes of its code, message and data. It returns nil when the
// body is not a JSON-RPC response whose error has an integer code and a
// string message.
func serviceError(body []byte) (object []byte, code int, message string) {
	if !gjson.ValidBytes(body) {
		return nil, 0, ""
	}
	msg := gjson.ParseBytes(body)
	e := msg.Get("error")
	c, m := e.Get("code"), e.Get("message")
	if !msg.IsObject() || msg.Get("jsonrpc").Str != "2.0" || !e.IsObject() || m.Type != gjson.String ||
		c.Type != gjson.Number || strings.ContainsAny(c.Raw, ".eE") || float64(c.Int()) != c.Num {
		return nil, 0, ""
	}
	object = append(object, `{"code":`...)
	object = append(object, c.Raw...)
	object = append(object, `,"message":`...)
	object = append(object, m.Raw...)
	if d := e.Get("data"); d.Exists() {
		object = append(object, `,"data":`...)
		object = append(object, d.Raw...)
	}
	return append(object, '}'), int(c.Int()), m.Str
}

// errorData is the data member of the bridge's errors.
type errorData struct {
	HTTPStatus        int    `json:"httpStatus,omitempty"`
	Error             string `json:"error,omitempty"`
	ErrorDescription  string `json:"error_description,omitempty"`
	RetryAfterSeconds *int64 `json:"retryAfterSeconds,omitempty"`
	Body              string `json:"body,omitempty"`
}

// data returns the error's data member for encoding, or nil.
func (e *callError) data() any {
	if e.Data == nil {
		return nil
	}
	return e.Data
}

// setRetryAfter records d, rounded up to whole seconds, in e's data.
func (e *callError) setRetryAfter(d time.Duration) {
	if e.Data == nil {
		e.Data = &errorData{}
	}
	s := int64(math.Ceil(d.Seconds()))
	e.Data.RetryAfterSeconds = &s
}

// retryKind is the kind of retry allowed after an attempt failed.
type retryKind int

const (
	retryNone    retryKind = iota
	retrySession           // the session is gone: initialize again, then retry once
	retryToken             // 401: reload the token, and retry once if it changed
	retryLater             // 429 or 503: retry after a wait, within the budget
)

// outcome is the judgment of one attempt.
type outcome struct {
	retry     retryKind
	wait      time.Duration
	waitKnown bool
	// err is the answer if there is no retry, or if the retry is not made.
	err *callError
}

// judge decides what an attempt's result means for the host request c,
// which is nil for the bridge's own requests.
func (b *Bridge) judge(ctx context.Context, c *call, a *attempt, sendErr error) outcome {
	if f := a.getFailure(); f != nil {
		return outcome{err: f}
	}
	if a.hasResponse() {
		return outcome{}
	}
	var se *HTTPStatusError
	var te *tokenError
	switch {
	case errors.As(sendErr, &se):
		return b.judgeStatus(se)
	case errors.Is(sendErr, transport.ErrSessionTerminated), errors.Is(sendErr, transport.ErrLegacySSEServer):
		// mcp-go reports a 404, or refuses to send because an earlier 404
		// ended the session. Either way the service did not process the
		// request.
		a.mu.Lock()
		status, sentSession := a.status, a.sentSession
		a.mu.Unlock()
		if status == 0 || sentSession {
			return outcome{retry: retrySession, err: notFound(a, b.secrets())}
		}
		return outcome{err: notFound(a, b.secrets())}
	case errors.As(sendErr, &te):
		return outcome{err: &callError{Code: CodeUnauthorized, Message: fmt.Sprintf("no API token: %s", redact.String(te.err.Error(), b.secrets()...))}}
	case ctx.Err() != nil:
		return outcome{err: b.contextError(ctx, c, a)}
	case sendErr == nil:
		return outcome{err: invalidReply("the service sent no response")}
	}
	return outcome{err: b.transportError(sendErr, a)}
}

// judgeStatus turns a non-2xx reply into an answer, and says whether to
// retry.
func (b *Bridge) judgeStatus(se *HTTPStatusError) outcome {
	data := statusData(se)
	status := se.StatusCode
	switch {
	case status == http.StatusTooManyRequests, status == http.StatusServiceUnavailable:
		o := outcome{retry: retryLater}
		o.wait, o.waitKnown = ParseRetryAfter(se.Header.Get("Retry-After"), time.Now())
		message := "the service is rate limiting requests (HTTP 429): wait and try again, or lower --max-rpm or --max-concurrent"
		code := CodeRateLimited
		if status == http.StatusServiceUnavailable {
			message = "the service is unavailable (HTTP 503): try again later"
			code = CodeServiceError
		}
		o.err = &callError{Code: code, Message: message, Data: data}
		if o.waitKnown {
			o.err.setRetryAfter(o.wait)
		}
		return o
	case status == http.StatusUnauthorized:
		return outcome{retry: retryToken, err: &callError{Code: CodeUnauthorized, Data: data, Message: fmt.Sprintf(
			"the service rejected the API token from %s (%s) with HTTP 401: check that it was copied whole and is not revoked, or create a new token in Agent Settings",
			b.opts.Token.Describe(), b.token.redacted())}}
	case status == http.StatusForbidden:
		return outcome{err: &callError{Code: CodeForbidden, Data: data, Message: fmt.Sprintf(
			"the service refused access with HTTP 403: the token from %s may belong to another team or agent; use a token created for this agent",
			b.opts.Token.Describe())}}
	case status >= 400 && status < 500 && status != http.StatusUnauthorized && status != http.StatusForbidden && status != http.StatusNotFound:
		if object, code, message := serviceError(se.Body); object != nil {
			return outcome{err: &callError{Code: code, Message: message, object: object}}
		}
	}
	switch {
	case status == http.StatusBadRequest && data.Error == "missing_context":
		return outcome{err: &callError{Code: CodeBadRequest, Data: data, Message: "the service needs an agent for this token (HTTP 400 missing_context): connect to /mcp/agents/<agent-uuid> with --agent, using a token created for that agent"}}
	case status == http.StatusBadRequest:
		return outcome{err: &callError{Code: CodeBadRequest, Data: data, Message: "the service rejected the request as invalid (HTTP 400)" + describe(data)}}
	case status == http.StatusRequestEntityTooLarge:
		return outcome{err: &callError{Code: CodeRejected, Data: data, Message: "the service rejected the request as too large (HTTP 413): send a smaller message"}}
	case status >= 500:
		return outcome{err: &callError{Code: CodeServiceError, Data: data, Message: fmt.Sprintf("the service failed with HTTP %d: try again later", status) + describe(data)}}
	}
	return outcome{err: &callError{Code: CodeRejected, Data: data, Message: fmt.Sprintf("the service rejected the request with HTTP %d", status) + describe(data)}}
}

// notFound is the answer to a 404 that is not a lost session.
func notFound(a *attempt, secrets []string) *callError {
	a.mu.Lock()
	body := a.errBody
	a.mu.Unlock()
	data := statusData(&HTTPStatusError{StatusCode: http.StatusNotFound, Body: redact.Bytes(body, secrets...)})
	return &callError{Code: CodeNotFound, Data: data, Message: "the agent was not found (HTTP 404): check the agent UUID given to --agent, or the --url"}
}

// statusData extracts the service's error and error_description from an
// error reply, and keeps the start of a body that is not JSON.
func statusData(se *HTTPStatusError) *errorData {
	d := &errorData{HTTPStatus: se.StatusCode}
	var body struct {
		Error            json.RawMessage `json:"error"`
		ErrorDescription string          `json:"error_description"`
		Message          string          `json:"message"`
	}
	if err := json.Unmarshal(se.Body, &body); err != nil {
		d.Body = truncate(strings.TrimSpace(string(se.Body)), 512)
		return d
	}
	var nested struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
	}
	switch {
	case json.Unmarshal(body.Error, &d.Error) == nil:
	case json.Unmarshal(body.Error, &nested) == nil:
		// A JSON-RPC style error object, or {"code": ..., "message": ...}.
		d.Error = fmt.Sprint(nested.Code)
		if d.Error == "<nil>" {
			d.Error = ""
		}
		body.Message = nested.Message
	}
	d.ErrorDescription = body.ErrorDescription
	if d.ErrorDescription == "" {
		d.ErrorDescription = body.Message
	}
	return d
}

// describe returns the service's explanation, for a message.
func describe(d *errorData) string {
	switch {
	case d.ErrorDescription != "":
		return ": " + d.ErrorDescription
	case d.Error != "":
		return ": " + d.Error
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// invalidReply is the answer when the service's reply cannot be relayed.
func invalidReply(format string, args ...any) *callError {
	return &callError{Code: CodeUpstreamInvalid, Message: fmt.Sprintf(format, args...)}
}

// rateLimitedLocally is the answer when the wait before sending would not
// fit the retry budget.
func rateLimitedLocally(wait time.Duration, reason string) *callError {
	e := &callError{Code: CodeRateLimited, Message: reason + ": the wait exceeds --retry-budget, so the request was not sent; retry later"}
	e.setRetryAfter(wait)
	return e
}

// contextError is the answer when the request's context ended: the
// timeout, or the bridge stopping. A host cancellation gets no answer, and
// serve does not write one.
func (b *Bridge) contextError(ctx context.Context, c *call, a *attempt) *callError {
	if b.runCtx.Err() != nil || b.closing.Load() {
		return &callError{Code: CodeShuttingDown, Message: "the bridge is shutting down: the request was cancelled"}
	}
	if c != nil && c.cancelled.Load() {
		return &callError{Code: CodeShuttingDown, Message: "the request was cancelled by the client"}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		limit, what := b.opts.Timeout, "--timeout"
		if c != nil && c.hdr.Method == "initialize" && b.timeoutFor("initialize") != limit {
			limit, what = initializeTimeout, "the initialize limit"
		}
		sent := a != nil && a.wroteHeaders.Load()
		if !sent {
			return &callError{Code: CodeTimeout, Message: fmt.Sprintf("the service could not be reached within %s (%s): check the network, or raise --timeout", limit, what)}
		}
		return &callError{Code: CodeTimeout, Message: fmt.Sprintf("the service did not respond within %s (%s); the request may still be processed: raise --timeout for slow requests", limit, what)}
	}
	return &callError{Code: CodeShuttingDown, Message: "the request was cancelled"}
}

// transportError turns a failure to exchange the request into an answer.
func (b *Bridge) transportError(err error, a *attempt) *callError {
	host := b.endpoint.Host
	var dnsErr *net.DNSError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var verifyErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var netErr net.Error
	sent := a != nil && a.wroteHeaders.Load()
	switch {
	case errors.As(err, &dnsErr):
		return &callError{Code: CodeUnreachable, Message: fmt.Sprintf("the service's host name %s could not be resolved: check the URL and your network or DNS settings", dnsErr.Name)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &callError{Code: CodeUnreachable, Message: fmt.Sprintf("the connection to %s was refused: check the URL and that the service is running", host)}
	case errors.As(err, &unknownAuthority), errors.As(err, &verifyErr), errors.As(err, &invalidCert):
		return &callError{Code: CodeTLS, Message: fmt.Sprintf("the TLS certificate of %s is not trusted (%s): if a corporate proxy or private CA signs it, pass its CA certificate with --ca-file", host, tlsReason(err))}
	case errors.As(err, &hostnameErr):
		return &callError{Code: CodeTLS, Message: fmt.Sprintf("the TLS certificate does not match %s: check the URL, or pass the right CA with --ca-file", host)}
	case errors.As(err, &recordErr):
		return &callError{Code: CodeTLS, Message: fmt.Sprintf("%s did not respond with TLS: check that the URL uses the right scheme and port", host)}
	case errors.As(err, &netErr) && netErr.Timeout():
		return &callError{Code: CodeTimeout, Message: fmt.Sprintf("the network timed out talking to %s: check your connection and any proxy settings", host)}
	case sent || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errStreamTooLarge):
		return &callError{Code: CodeConnectionLost, Message: fmt.Sprintf("the connection to %s broke after the request was sent (%s); it may have been processed, so it was not resent: check the result before retrying", host, shortError(err, b.secrets()))}
	}
	return &callError{Code: CodeUnreachable, Message: fmt.Sprintf("the request to %s failed before it was sent (%s): check the URL, the network and any proxy settings", host, shortError(err, b.secrets()))}
}

// tlsReason returns the innermost TLS or certificate error's text.
func tlsReason(err error) string {
	for {
		inner := errors.Unwrap(err)
		if inner == nil {
			return err.Error()
		}
		err = inner
	}
}

// shortError returns the last part of an error chain's text, redacted, in
// the bridge's words where mcp-go's text names its internals.
func shortError(err error, secrets []string) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
		s = s[i+2:]
	}
	if s == "unexpected nil response" {
		// mcp-go v1.2.1 returns this when the reply's event stream ends
		// before the response arrived.
		return "the reply's event stream ended before the response"
	}
	return truncate(redact.String(s, secrets...), 200)
}
