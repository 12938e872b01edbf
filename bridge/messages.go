package bridge

import (
	"strconv"
	"time"

	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/internal/inspector"
	"github.com/joai-ai/joai-mcp/internal/jsonrpc"
	"github.com/joai-ai/joai-mcp/internal/redact"
)

// serverRequest is a request from the service waiting for the host's
// response. The host sees it under a bridge id, so that ids of the two
// directions never mix and the service's id crosses no float64.
type serverRequest struct {
	upID   []byte
	method string
	start  time.Time
}

// fromUpstream relays one message the service sent on a stream and reports
// whether it was the response that a, which may be nil, waits for.
func (b *Bridge) fromUpstream(raw []byte, a *attempt) bool {
	msg := jsonrpc.StripLineBreaks(raw)
	h, err := jsonrpc.Classify(msg)
	if err != nil {
		b.log.Warn("dropped an invalid message from the service", "err", err, "bytes", len(raw))
		return false
	}
	switch h.Kind {
	case jsonrpc.KindResponse:
		if a != nil && a.upID != 0 && matchesUpID(h.ID, a.upID) && a.setResponse(msg, h) {
			b.noticeInitializeError(a, msg, h)
			return true
		}
		b.log.Warn("dropped a duplicate or unknown response from the service", "id", string(h.ID))
	case jsonrpc.KindNotification:
		b.relayNotification(msg, h, a)
	case jsonrpc.KindRequest:
		b.relayServerRequest(msg, h)
	}
	return false
}

// relayNotification writes a notification from the service to the host,
// mapping the id of a cancelled server request to the host's view of it.
func (b *Bridge) relayNotification(msg []byte, h jsonrpc.Header, a *attempt) {
	if a != nil && a.call() != nil && a.call().cancelled.Load() {
		return // the host gave up on this request
	}
	if h.Method == "notifications/cancelled" {
		idResult := gjson.GetBytes(msg, "params.requestId")
		b.mu.Lock()
		sid, ok := b.serverByUp[idKey([]byte(idResult.Raw))]
		if ok {
			b.forgetServerRequestLocked(sid)
		}
		b.mu.Unlock()
		if !ok {
			b.log.Debug("ignored a cancellation from the service for an unknown request", "id", idResult.Raw)
			return
		}
		msg = joinParts(replaceAt(msg, idResult, []byte(strconv.FormatInt(sid, 10))))
	}
	b.writeHost(msg)
	b.publishUpstream(msg, h, "")
}

// relayServerRequest responds to a ping from the service itself and forwards
// any other request to the host under a bridge id.
func (b *Bridge) relayServerRequest(msg []byte, h jsonrpc.Header) {
	if h.Method == "ping" {
		b.enqueue(outbound{parts: [][]byte{jsonrpc.ResultResponse(h.ID, []byte("{}"))}, method: "ping response"})
		b.publishUpstream(msg, h, "answered by the bridge")
		return
	}
	sid := b.nextServerID.Add(1)
	b.mu.Lock()
	b.serverReqs[sid] = &serverRequest{upID: h.ID, method: h.Method, start: time.Now()}
	b.serverByUp[idKey(h.ID)] = sid
	b.mu.Unlock()

	parts := jsonrpc.ReplaceID(msg, h, []byte(strconv.FormatInt(sid, 10)))
	b.writeHost(parts[:]...)
	b.publishUpstream(msg, h, "")
	b.log.Debug("relayed a request from the service", "method", h.Method, "upstream_id", string(h.ID), "host_id", sid)
}

// answerServerRequest sends the host's response to a server request back
// upstream with the service's id.
func (b *Bridge) answerServerRequest(msg []byte, h jsonrpc.Header) {
	sid, err := strconv.ParseInt(string(h.ID), 10, 64)
	b.mu.Lock()
	sr := b.serverReqs[sid]
	if err == nil && sr != nil {
		b.forgetServerRequestLocked(sid)
	}
	b.mu.Unlock()
	if err != nil || sr == nil {
		b.log.Warn("dropped a response from the host for an unknown request", "id", string(h.ID))
		return
	}
	parts := jsonrpc.ReplaceID(msg, h, sr.upID)
	b.enqueue(outbound{parts: parts[:], method: sr.method + " response"})
	b.log.Debug("relayed the host's response", "method", sr.method, "upstream_id", string(sr.upID), "latency", time.Since(sr.start))
}

// failServerRequest sends the service an error response to a server
// request, for a host response that could not be relayed.
func (b *Bridge) failServerRequest(rawID []byte, message string) {
	sid, err := strconv.ParseInt(string(rawID), 10, 64)
	b.mu.Lock()
	sr := b.serverReqs[sid]
	if err == nil && sr != nil {
		b.forgetServerRequestLocked(sid)
	}
	b.mu.Unlock()
	if err != nil || sr == nil {
		return
	}
	b.enqueue(outbound{parts: [][]byte{jsonrpc.ErrorResponse(sr.upID, jsonrpc.CodeInternalError, "the client's response could not be relayed: "+message, nil)}, method: sr.method + " response"})
}

func (b *Bridge) forgetServerRequestLocked(sid int64) {
	if sr := b.serverReqs[sid]; sr != nil {
		delete(b.serverByUp, idKey(sr.upID))
		delete(b.serverReqs, sid)
	}
}

// publishUpstream sends the inspector event of a message from the service.
func (b *Bridge) publishUpstream(msg []byte, h jsonrpc.Header, note string) {
	if b.opts.Sink == nil {
		return
	}
	b.opts.Sink.Publish(inspector.Event{
		Time:      time.Now(),
		Source:    "bridge",
		Direction: "upstream→host",
		Method:    h.Method,
		ID:        string(h.ID),
		Size:      len(msg),
		Token:     b.token.redacted(),
		Request:   redact.Bytes(msg, b.token.seen()...),
		Note:      note,
	})
}

func joinParts(parts [][]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
