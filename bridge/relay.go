package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/internal/inspector"
	"github.com/joai-ai/joai-mcp/internal/jsonrpc"
	"github.com/joai-ai/joai-mcp/internal/redact"
)

// maxAttempts bounds the attempts for one request, whatever the budget.
const maxAttempts = 12

// relayResult is the outcome of relaying a request.
type relayResult struct {
	// msg and hdr are the service's response, or nil.
	msg []byte
	hdr jsonrpc.Header
	// local is a complete response the bridge built, or nil.
	local []byte
	// status is the HTTP status of the last attempt, or 0.
	status   int
	attempts int
}

// serve relays c and writes its one response, unless the host cancelled it
// or shutdown responded first.
func (b *Bridge) serve(c *call) {
	if c.heldBack {
		defer b.releaseHeld()
	}
	defer b.finish(c)
	res, cerr := b.forward(c)
	if !c.answered.CompareAndSwap(false, true) {
		return
	}
	// The id is free as soon as the host can see the response.
	b.release(c)
	latency := time.Since(c.start)

	var response []byte
	switch {
	case cerr != nil:
		response = cerr.response(c.hdr.ID)
		b.writeHost(response)
		if upID := c.sentID(); cerr.Code == CodeTimeout && upID != 0 && c.hdr.Method != "initialize" {
			// MCP asks a sender whose request timed out to cancel it.
			msg := fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":%d,"reason":"the request timed out"}}`, upID)
			b.enqueue(outbound{parts: [][]byte{msg}, method: "notifications/cancelled"})
		}
		b.log.Warn("request failed", "method", c.hdr.Method, "id", string(c.hdr.ID), "code", cerr.Code, "err", cerr.Message, "status", res.status, "attempts", res.attempts, "latency", latency)
	case res.local != nil:
		response = res.local
		b.writeHost(response)
		if b.log.Enabled(c.ctx, slog.LevelDebug) {
			b.log.Debug("responded locally", "method", c.hdr.Method, "id", string(c.hdr.ID), "latency", latency)
		}
	default:
		parts := jsonrpc.ReplaceID(res.msg, res.hdr, c.hdr.ID)
		b.writeHost(parts[:]...)
		if b.log.Enabled(c.ctx, slog.LevelDebug) {
			b.log.Debug("relayed", "method", c.hdr.Method, "id", string(c.hdr.ID), "status", res.status, "attempts", res.attempts, "latency", latency)
		}
	}
	b.publish(c, res, response, latency)
}

// publish sends the inspector event of a relayed request.
func (b *Bridge) publish(c *call, res relayResult, response []byte, latency time.Duration) {
	if b.opts.Sink == nil {
		return
	}
	secrets := b.token.seen()
	ev := inspector.Event{
		Time:       c.start,
		Source:     "bridge",
		Direction:  "host→upstream",
		HTTPMethod: "POST",
		Path:       b.endpoint.Path,
		Method:     c.hdr.Method,
		ID:         string(c.hdr.ID),
		HTTPStatus: res.status,
		Latency:    latency,
		Token:      b.token.redacted(),
		Request:    redact.Bytes(c.msg, secrets...),
	}
	if response == nil {
		parts := jsonrpc.ReplaceID(res.msg, res.hdr, c.hdr.ID)
		response = append(append(append([]byte(nil), parts[0]...), parts[1]...), parts[2]...)
	}
	ev.Response = redact.Bytes(response, secrets...)
	ev.ErrorCode = int(gjson.GetBytes(response, "error.code").Int())
	ev.Size = len(c.msg) + len(response)
	if res.attempts > 1 {
		ev.Note = strconv.Itoa(res.attempts) + " attempts"
	}
	b.opts.Sink.Publish(ev)
}

// forward sends c upstream, retrying what is safe to retry, and returns the
// response or the error to respond with.
func (b *Bridge) forward(c *call) (relayResult, *callError) {
	isInit := c.hdr.Method == "initialize"
	ctx := c.ctx

	budget := newBudget(b.opts.RetryBudget)
	var res relayResult
	reinitialized, reloaded := false, false
	backoffs := 0
	for {
		res.attempts++
		if cerr := b.waitToSend(ctx, c, budget); cerr != nil {
			return res, cerr
		}
		gen := b.sessionGen.Load()
		a := b.newAttempt(c.msg, c.hdr, c.hdr.Method)
		a.owner = c
		c.setCurrent(a)
		err := b.sendRequest(ctx, a, c.hdr.Method)
		if errors.Is(err, errGateClosed) {
			res.attempts--
			continue
		}
		res.status = a.statusCode()
		o := b.judge(ctx, c, a, err)

		switch {
		case o.retry == retryNone && o.err == nil:
			res.msg, res.hdr = a.response, a.respHeader
			if isInit {
				b.afterInitialize(c, &res)
			}
			return res, nil
		case o.retry == retryNone || res.attempts >= maxAttempts:
			return res, o.err
		case o.retry == retrySession:
			if reinitialized {
				return res, o.err
			}
			reinitialized = true
			if cerr := b.reinitialize(ctx, gen); cerr != nil {
				return res, cerr
			}
		case o.retry == retryToken:
			if reloaded || !b.token.reload(ctx, a.token, b.log) {
				return res, o.err
			}
			reloaded = true
			b.log.Warn("retrying with the reloaded token", "method", c.hdr.Method, "id", string(c.hdr.ID), "source", b.opts.Token.Describe())
		case o.retry == retryLater:
			// The first retry trusts Retry-After. If the service refuses
			// again, its value was too short, so later retries also back
			// off.
			wait := o.wait
			if !o.waitKnown || backoffs > 0 {
				wait = max(wait, backoff(backoffs))
			}
			backoffs++
			wait = spread(max(wait, b.gate.remaining()))
			if !budget.spend(wait) {
				// The error keeps the Retry-After the service sent, which
				// judgeStatus recorded, rather than the bridge's backoff.
				return res, o.err
			}
			b.retries.note(b.log, res.status, b.limit.current())
			b.log.Debug("retrying after the service rejected the request", "method", c.hdr.Method, "id", string(c.hdr.ID), "status", res.status, "wait", wait, "attempt", res.attempts)
			if err := sleep(ctx, wait); err != nil {
				return res, b.contextError(ctx, c, a)
			}
		}
	}
}

// timeoutFor returns how long a request may wait for the service, or zero
// for no limit.
func (b *Bridge) timeoutFor(method string) time.Duration {
	timeout := b.opts.Timeout
	if method == "initialize" && (timeout < 0 || timeout > initializeTimeout) {
		return initializeTimeout
	}
	return max(timeout, 0)
}

// waitToSend waits at the shared Retry-After gate and the --max-rpm limit,
// within the budget.
func (b *Bridge) waitToSend(ctx context.Context, c *call, budget *budget) *callError {
	if wait := b.gate.remaining(); wait > 0 {
		if !budget.spend(wait) {
			return rateLimitedLocally(wait, "the service asked the bridge to wait")
		}
		if extra := spread(wait) - wait; budget.spend(extra) {
			wait += extra
		}
		if err := sleep(ctx, wait); err != nil {
			return b.contextError(ctx, c, nil)
		}
	}
	if b.rpm == nil {
		return nil
	}
	wait, ok := b.rpm.reserve(budget.left())
	if !ok {
		return rateLimitedLocally(wait, "the --max-rpm limit of "+strconv.Itoa(b.opts.MaxRPM)+" requests per minute is reached")
	}
	if wait > 0 {
		budget.spend(wait)
		b.log.Debug("waiting for --max-rpm", "wait", wait)
		if err := sleep(ctx, wait); err != nil {
			return b.contextError(ctx, c, nil)
		}
	}
	return nil
}

// errGateClosed is returned by sendRequest, without sending, when the
// Retry-After gate closed while the request waited for a slot.
var errGateClosed = errors.New("the Retry-After gate closed before the request was sent")

// sendRequest sends one attempt through mcp-go, holding a slot of the
// concurrency limit, and adjusts the limit to the outcome.
func (b *Bridge) sendRequest(ctx context.Context, a *attempt, method string) error {
	start, err := b.limit.acquire(ctx)
	if err != nil {
		return err
	}
	if b.gate.remaining() > 0 {
		// A 429 closed the gate while this request waited for its slot.
		b.limit.release(start, sentOther)
		return errGateClosed
	}
	_, err = b.up.SendRequest(withAttempt(ctx, a), transport.JSONRPCRequest{
		JSONRPC: mcp.JSONRPC_VERSION,
		ID:      mcp.NewRequestId(a.upID),
		Method:  method,
	})
	outcome := sentOther
	var se *HTTPStatusError
	switch {
	case err == nil:
		outcome = sentOK
	case errors.As(err, &se) && se.retryable():
		outcome = sentCongested
	}
	b.limit.release(start, outcome)
	return err
}

// sendNotification sends a message that has no response upstream: a
// notification, or the host's answer to a server request. It waits at the
// Retry-After gate and retries after 429 or 503 while ctx allows.
func (b *Bridge) sendNotification(ctx context.Context, parts [][]byte, method string) error {
	for try := 0; ; try++ {
		if err := sleep(ctx, b.gate.remaining()); err != nil {
			return err
		}
		a := &attempt{b: b, body: parts}
		err := b.up.SendNotification(withAttempt(ctx, a), mcp.JSONRPCNotification{
			JSONRPC:      mcp.JSONRPC_VERSION,
			Notification: mcp.Notification{Method: method},
		})
		var se *HTTPStatusError
		if err == nil || try >= 3 || !errors.As(err, &se) || !se.retryable() {
			return err
		}
		wait, ok := ParseRetryAfter(se.Header.Get("Retry-After"), time.Now())
		if !ok {
			wait = backoff(try)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// outbound is a message queued for the service that has no response.
type outbound struct {
	parts  [][]byte
	method string
	// sent, when not nil, is closed once the message was sent or failed.
	sent chan struct{}
}

// enqueue queues o for sendLoop, which keeps the host's order.
func (b *Bridge) enqueue(o outbound) {
	select {
	case b.queue <- o:
	case <-b.runCtx.Done():
	}
}

// sendLoop sends the queued messages one at a time, in order.
func (b *Bridge) sendLoop() {
	for {
		select {
		case o := <-b.queue:
			ctx, cancel := context.WithTimeout(b.runCtx, notificationTimeout)
			err := b.sendNotification(ctx, o.parts, o.method)
			cancel()
			if o.sent != nil {
				close(o.sent)
			}
			if err != nil && b.runCtx.Err() == nil {
				b.log.Warn("sending a message upstream failed", "method", o.method, "err", redact.String(err.Error(), b.token.seen()...))
			}
		case <-b.runCtx.Done():
			return
		}
	}
}

// afterInitialize records the negotiated protocol version, or switches to
// the plain JSON-RPC mode when the service does not implement initialize.
func (b *Bridge) afterInitialize(c *call, res *relayResult) {
	if res.hdr.IsError {
		if gjson.GetBytes(res.msg, "error.code").Int() == jsonrpc.CodeMethodNotFound {
			b.enterPlainMode()
			res.local = b.localInitialize(c.msg, c.hdr)
		}
		return
	}
	if v := gjson.GetBytes(res.msg, "result.protocolVersion").Str; v != "" {
		b.up.SetProtocolVersion(v)
	}
}

// enterPlainMode switches to relaying without a session, once.
func (b *Bridge) enterPlainMode() {
	if b.plain.CompareAndSwap(false, true) {
		b.log.Info("the endpoint responded to initialize with -32601, so it is a plain JSON-RPC endpoint: the bridge responds to initialize itself and relays without a session")
	}
}

// reinitialize replays the host's initialize after the service forgot the
// session, unless another request already did since generation gen.
func (b *Bridge) reinitialize(ctx context.Context, gen int64) *callError {
	b.reinitMu.Lock()
	defer b.reinitMu.Unlock()
	if b.sessionGen.Load() != gen {
		return nil
	}
	b.mu.Lock()
	initMsg, initialized := b.initMsg, b.initializedMsg
	b.mu.Unlock()
	if initMsg == nil {
		return &callError{Code: CodeNotFound, Message: "the service returned 404 and the host never sent initialize to replay: check the agent UUID"}
	}
	hdr, err := jsonrpc.Classify(initMsg)
	if err != nil {
		return &callError{Code: jsonrpc.CodeInternalError, Message: "replaying initialize failed: " + err.Error()}
	}

	b.log.Info("the service ended the session (404); initializing a new one")
	a := b.newAttempt(initMsg, hdr, "initialize")
	err = b.sendRequest(ctx, a, "initialize")
	for errors.Is(err, errGateClosed) {
		if err = sleep(ctx, spread(b.gate.remaining())); err == nil {
			err = b.sendRequest(ctx, a, "initialize")
		}
	}
	o := b.judge(ctx, nil, a, err)
	if o.err != nil {
		if o.retry == retrySession {
			o.err = notFound(a, b.secrets())
		}
		return o.err
	}
	if a.respHeader.IsError {
		return &callError{Code: CodeUpstreamInvalid, Message: "the service rejected the replayed initialize: " + gjson.GetBytes(a.response, "error.message").Str}
	}
	if v := gjson.GetBytes(a.response, "result.protocolVersion").Str; v != "" {
		b.up.SetProtocolVersion(v)
	}
	if initialized == nil {
		initialized = []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	}
	if err := b.sendNotification(ctx, [][]byte{initialized}, "notifications/initialized"); err != nil {
		b.log.Warn("sending notifications/initialized for the new session failed", "err", err)
	}
	b.sessionGen.Add(1)
	return nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
