package bridge

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/internal/inspector"
	"github.com/joai-ai/joai-mcp/internal/jsonrpc"
	"github.com/joai-ai/joai-mcp/internal/redact"
)

// call is one host request being relayed.
type call struct {
	msg    []byte
	hdr    jsonrpc.Header
	key    string
	start  time.Time
	ctx    context.Context
	cancel context.CancelFunc

	// answered is set by the goroutine that writes the host's response,
	// or that decides none is due, so that exactly one is written.
	answered atomic.Bool
	// cancelled reports that the host cancelled the request.
	cancelled atomic.Bool
	// heldBack reports that the requests and notifications that arrive
	// while this initialize is in flight wait for its answer.
	heldBack bool

	// mu guards current.
	mu      sync.Mutex
	current *attempt
}

// setCurrent records the attempt that is being sent for c.
func (c *call) setCurrent(a *attempt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.current = a
}

// sentID returns the upstream id of the last attempt that may have reached
// the service, or 0.
func (c *call) sentID() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.current == nil || !c.current.wroteHeaders.Load() {
		return 0
	}
	return c.current.upID
}

// idKey returns a key for a raw JSON id that treats equal ids alike: a
// string by its decoded value, a number or null by its text.
func idKey(raw []byte) string {
	if len(raw) == 0 || raw[0] != '"' {
		return "n:" + string(raw)
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return "s:" + string(raw[1:len(raw)-1])
	}
	return "s:" + gjson.ParseBytes(raw).Str
}

// handleFrame classifies one host line and dispatches it.
func (b *Bridge) handleFrame(f jsonrpc.Frame) {
	if f.TooLong {
		b.handleTooLong(f)
		return
	}
	h, err := jsonrpc.Classify(f.Data)
	if err != nil {
		b.log.Warn("rejected a host message", "err", err, "id", string(h.ID), "bytes", f.Size)
		b.writeLocal(f.Data, h.ID, jsonrpc.ErrorResponse(h.ID, jsonrpc.CodeOf(err), err.Error(), nil))
		return
	}
	switch h.Kind {
	case jsonrpc.KindRequest:
		b.handleRequest(f.Data, h)
	case jsonrpc.KindNotification:
		b.handleNotification(f.Data, h)
	case jsonrpc.KindResponse:
		b.answerServerRequest(f.Data, h)
	}
}

// handleTooLong responds to a line that exceeded the maximum message size.
func (b *Bridge) handleTooLong(f jsonrpc.Frame) {
	b.log.Warn("rejected a host message over the maximum size", "bytes", f.Size, "max", b.opts.MaxMessageSize, "id", string(f.ID))
	message := fmt.Sprintf("message of %d bytes exceeds the maximum message size of %d bytes: raise --max-message-size", f.Size, b.opts.MaxMessageSize)
	data := map[string]any{"size": f.Size, "maxMessageSize": b.opts.MaxMessageSize}
	switch {
	case f.HasMethod && f.ID == nil:
		// A notification gets no response.
	case !f.HasMethod && f.HasResult && f.ID != nil:
		b.failServerRequest(f.ID, message)
	default:
		b.writeLocal(nil, f.ID, jsonrpc.ErrorResponse(f.ID, CodeMessageTooLarge, message, data))
	}
}

// handleRequest responds to a request locally or starts relaying it.
func (b *Bridge) handleRequest(msg []byte, h jsonrpc.Header) {
	switch {
	case h.Method == "ping" && gjson.GetBytes(msg, "jsonrpc").Str != "2.0":
		// JSON-RPC 2.0 requires the member to be exactly "2.0"; the service
		// rejects the others, so a ping the bridge answers itself must too.
		b.writeLocal(msg, h.ID, jsonrpc.ErrorResponse(h.ID, jsonrpc.CodeInvalidRequest, `invalid request: the jsonrpc member must be "2.0"`, nil))
		return
	case h.Method == "ping":
		b.writeLocal(msg, h.ID, jsonrpc.ResultResponse(h.ID, []byte("{}")))
		return
	case h.Method == "initialize" && b.plain.Load():
		b.writeLocal(msg, h.ID, b.localInitialize(msg, h))
		return
	}

	c := &call{msg: msg, hdr: h, key: idKey(h.ID), start: time.Now()}
	if timeout := b.timeoutFor(h.Method); timeout > 0 {
		c.ctx, c.cancel = context.WithTimeout(b.runCtx, timeout)
	} else {
		c.ctx, c.cancel = context.WithCancel(b.runCtx)
	}
	b.mu.Lock()
	if b.closing.Load() {
		b.mu.Unlock()
		c.cancel()
		b.writeLocal(msg, h.ID, jsonrpc.ErrorResponse(h.ID, CodeShuttingDown, "the bridge is shutting down: the request was not sent", nil))
		return
	}
	if _, dup := b.calls[c.key]; dup {
		b.mu.Unlock()
		c.cancel()
		b.log.Warn("rejected a request whose id is already in flight", "id", string(h.ID), "method", h.Method)
		b.writeLocal(msg, h.ID, jsonrpc.ErrorResponse(h.ID, jsonrpc.CodeInvalidRequest, "invalid request: a request with this id is already in flight", nil))
		return
	}
	b.calls[c.key] = c
	b.inFlight.Add(1)
	if b.initPending {
		// The session id and protocol version are known only once
		// initialize is answered.
		b.held = append(b.held, heldMessage{call: c})
		b.mu.Unlock()
		return
	}
	if h.Method == "initialize" {
		b.initMsg = msg
		c.heldBack = true
		b.initPending = true
	}
	b.mu.Unlock()
	b.dispatch(c)
}

// heldMessage is a request, or a notification, that the host sent while
// its initialize was in flight.
type heldMessage struct {
	call *call
	msg  []byte
	hdr  jsonrpc.Header
}

// releaseHeld sends, in the host's order, what arrived while initialize was
// in flight. A notification is sent before the requests that follow it. A
// request that was answered meanwhile, by a cancellation or by shutdown,
// is only finished.
func (b *Bridge) releaseHeld() {
	for {
		b.mu.Lock()
		held := b.held
		b.held = nil
		if len(held) == 0 {
			b.initPending = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		for _, m := range held {
			switch {
			case m.call == nil:
				b.forwardNotification(m.msg, m.hdr, true)
			case m.call.answered.Load():
				b.finish(m.call)
				b.inFlight.Done()
			default:
				b.dispatch(m.call)
			}
		}
	}
}

// workerIdleTimeout is how long a worker waits for another request before
// it exits.
const workerIdleTimeout = 30 * time.Second

// dispatch hands c to an idle worker, or starts a new one. Workers outlive
// their request because relaying one grows a goroutine's stack through
// net/http and mcp-go, and a new goroutine would grow it again each time.
func (b *Bridge) dispatch(c *call) {
	select {
	case b.work <- c:
	default:
		b.wg.Go(func() { b.worker(c) })
	}
}

// worker serves c, then the requests dispatch hands it, until it has been
// idle for workerIdleTimeout or Run ends.
func (b *Bridge) worker(c *call) {
	idle := time.NewTimer(workerIdleTimeout)
	defer idle.Stop()
	for {
		b.serve(c)
		b.inFlight.Done()
		idle.Reset(workerIdleTimeout)
		select {
		case c = <-b.work:
		case <-idle.C:
			return
		case <-b.runCtx.Done():
			return
		}
	}
}

// handleNotification forwards a host notification upstream, in order.
func (b *Bridge) handleNotification(msg []byte, h jsonrpc.Header) {
	switch h.Method {
	case "notifications/cancelled":
		b.cancelFromHost(msg)
		return
	}
	b.mu.Lock()
	if b.initPending {
		b.held = append(b.held, heldMessage{msg: msg, hdr: h})
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	b.forwardNotification(msg, h, false)
}

// forwardNotification queues a host notification for the service. With
// wait set it returns only once the notification was sent, so that the
// requests released after it follow it.
func (b *Bridge) forwardNotification(msg []byte, h jsonrpc.Header, wait bool) {
	if h.Method == "notifications/initialized" {
		b.mu.Lock()
		b.initializedMsg = msg
		b.mu.Unlock()
		if b.plain.Load() {
			// The bridge answered initialize itself, so the handshake it
			// completes is the bridge's.
			return
		}
	}
	o := outbound{parts: [][]byte{msg}, method: h.Method}
	if wait {
		o.sent = make(chan struct{})
	}
	b.enqueue(o)
	if wait {
		select {
		case <-o.sent:
		case <-b.runCtx.Done():
		}
	}
}

// cancelFromHost stops waiting for the request a host cancellation names,
// suppresses its response, and forwards the cancellation with the upstream
// id if the request may have reached the service.
func (b *Bridge) cancelFromHost(msg []byte) {
	idResult := gjson.GetBytes(msg, "params.requestId")
	if !idResult.Exists() {
		b.log.Warn("ignored notifications/cancelled without params.requestId")
		return
	}
	key := idKey([]byte(idResult.Raw))
	b.mu.Lock()
	c := b.calls[key]
	b.mu.Unlock()
	if c == nil {
		b.log.Debug("ignored notifications/cancelled for a request not in flight", "id", idResult.Raw)
		return
	}
	if !c.answered.CompareAndSwap(false, true) {
		return
	}
	c.cancelled.Store(true)
	b.release(c)
	upID := c.sentID()
	c.cancel()
	b.log.Debug("host cancelled a request", "id", idResult.Raw, "method", c.hdr.Method)

	// MCP forbids cancelling initialize, so that one is only abandoned
	// locally.
	if upID == 0 || c.hdr.Method == "initialize" {
		return
	}
	b.enqueue(outbound{parts: replaceAt(msg, idResult, []byte(strconv.FormatInt(upID, 10))), method: "notifications/cancelled"})
}

// replaceAt returns msg with the value r, found by gjson in msg, replaced
// by value, as parts that alias msg. It falls back to a rebuilt cancellation
// when r's position is unknown.
func replaceAt(msg []byte, r gjson.Result, value []byte) [][]byte {
	if r.Index > 0 && r.Index+len(r.Raw) <= len(msg) && string(msg[r.Index:r.Index+len(r.Raw)]) == r.Raw {
		return [][]byte{msg[:r.Index], value, msg[r.Index+len(r.Raw):]}
	}
	return [][]byte{[]byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":`), value, []byte(`}}`)}
}

// cancelAll answers every request still in flight with a shutdown error and
// tells the service about those it may have received.
func (b *Bridge) cancelAll() {
	b.mu.Lock()
	calls := make([]*call, 0, len(b.calls))
	for _, c := range b.calls {
		calls = append(calls, c)
	}
	b.mu.Unlock()

	var ids []int64
	for _, c := range calls {
		if !c.answered.CompareAndSwap(false, true) {
			continue
		}
		b.release(c)
		if id := c.sentID(); id != 0 && c.hdr.Method != "initialize" {
			ids = append(ids, id)
		}
		c.cancel()
		b.log.Warn("request cancelled by shutdown", "id", string(c.hdr.ID), "method", c.hdr.Method)
		b.writeHost(jsonrpc.ErrorResponse(c.hdr.ID, CodeShuttingDown, "the bridge is shutting down: the request was cancelled", nil))
	}
	if len(ids) == 0 {
		return
	}

	ctx, cancel := context.WithTimeout(b.runCtx, cancelTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			msg := fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":%d,"reason":"the bridge is shutting down"}}`, id)
			if err := b.sendNotification(ctx, [][]byte{msg}, "notifications/cancelled"); err != nil {
				b.log.Debug("sending notifications/cancelled at shutdown failed", "upstream_id", id, "err", err)
			}
		})
	}
	wg.Wait()
}

// release removes c from the table of requests in flight, so that the host
// may use its id again.
func (b *Bridge) release(c *call) {
	b.mu.Lock()
	if b.calls[c.key] == c {
		delete(b.calls, c.key)
	}
	b.mu.Unlock()
}

// finish releases c and its context once it is done.
func (b *Bridge) finish(c *call) {
	b.release(c)
	c.cancel()
}

// localInitialize returns the bridge's own answer to initialize, for a
// plain JSON-RPC endpoint that does not implement it.
func (b *Bridge) localInitialize(msg []byte, h jsonrpc.Header) []byte {
	version := gjson.GetBytes(msg, "params.protocolVersion").Str
	if !supportedVersions[version] {
		version = latestVersion
	}
	result := map[string]any{
		"protocolVersion": version,
		"capabilities":    map[string]any{"tools": map[string]any{}, "resources": map[string]any{}},
		"serverInfo":      map[string]any{"name": "joai-bridge", "version": b.opts.Version},
	}
	raw, err := jsonrpc.Marshal(result)
	if err != nil {
		return jsonrpc.ErrorResponse(h.ID, jsonrpc.CodeInternalError, "encoding the initialize result failed", nil)
	}
	return jsonrpc.ResultResponse(h.ID, raw)
}

// supportedVersions are the MCP revisions the bridge accepts for a plain
// endpoint, and latestVersion the one it offers otherwise.
var supportedVersions = map[string]bool{
	"2024-11-05": true,
	"2025-03-26": true,
	"2025-06-18": true,
	"2025-11-25": true,
}

const latestVersion = "2025-11-25"

// writeHost writes one message to the host, with every known token
// redacted. A failed write is remembered by the writer and ends Run.
func (b *Bridge) writeHost(parts ...[]byte) {
	// Scanning for the byte forms that the token cache keeps saves
	// converting each token for each part, and redact.Bytes runs only on a
	// match.
	for _, secret := range b.token.seenBytes() {
		for i, p := range parts {
			if bytes.Contains(p, secret) {
				parts[i] = redact.Bytes(p, string(secret))
			}
		}
	}
	err := b.out.Write(parts...)
	switch {
	case err == nil:
	case b.out.Err() != nil:
		b.outBrokenOnce.Do(func() { close(b.outBroken) })
	default:
		b.log.Error("dropped a message that would break the output framing", "err", err)
	}
}

// writeLocal writes a response the bridge produced itself and publishes it.
func (b *Bridge) writeLocal(request, id, response []byte) {
	b.writeHost(response)
	if b.opts.Sink == nil {
		return
	}
	secrets := b.token.seen()
	if !gjson.ValidBytes(request) {
		request = nil // an event carries only valid JSON
	}
	b.opts.Sink.Publish(inspector.Event{
		Time:      time.Now(),
		Source:    "bridge",
		Direction: "host→upstream",
		Method:    gjson.GetBytes(request, "method").Str,
		ID:        string(id),
		ErrorCode: int(gjson.GetBytes(response, "error.code").Int()),
		Size:      len(request) + len(response),
		Request:   redact.Bytes(request, secrets...),
		Response:  response,
		Note:      "answered by the bridge",
	})
}
