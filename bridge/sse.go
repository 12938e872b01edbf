package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// sseChunkSize is how much the relay reads from the service at a time.
const sseChunkSize = 32 << 10

// errStreamTooLarge ends a stream whose event exceeds the maximum message
// size.
var errStreamTooLarge = errors.New("an event on the service's stream exceeds the maximum message size")

// sseRelay reads a text/event-stream reply for the bridge. It hands every
// message to the bridge as the raw bytes of its data, in stream order.
// mcp-go, which reads from it, gets a stream with the same event ids and
// retry fields but only a stand-in for the response. So mcp-go still keeps
// the stream's resumption state (a GET with Last-Event-ID after the service
// ends the stream early) while the bridge relays messages byte for byte.
type sseRelay struct {
	b *Bridge
	// a is the attempt whose reply the stream is, or nil on the GET stream.
	a    *attempt
	body io.ReadCloser

	chunk []byte
	// buf holds the bytes read and not yet split into lines; scanned is how
	// many of them are known to hold no line feed.
	buf     []byte
	scanned int
	// out is the stream for mcp-go that it has not read yet.
	out bytes.Buffer
	err error

	// The event being read. data may alias buf, so after an event's data
	// arrived buf is never written again but replaced.
	data      []byte
	hasData   bool
	dataOwned bool
	aliased   bool
	id        string
	hasID     bool
	// sawID reports that an event with an id was dispatched, so mcp-go can
	// resume the stream after it ends.
	sawID bool
}

func newSSERelay(b *Bridge, a *attempt, body io.ReadCloser) *sseRelay {
	return &sseRelay{b: b, a: a, body: body, chunk: make([]byte, sseChunkSize)}
}

// Read returns the stream for mcp-go.
func (r *sseRelay) Read(p []byte) (int, error) {
	for r.out.Len() == 0 {
		if r.err != nil {
			return 0, r.err
		}
		n, err := r.body.Read(r.chunk)
		if n > 0 {
			r.feed(r.chunk[:n])
		}
		if err != nil && r.err == nil {
			if errors.Is(err, io.EOF) {
				r.finish()
			}
			if r.err == nil {
				r.err = err
			}
		}
	}
	return r.out.Read(p)
}

// Close closes the service's body. mcp-go calls it from another goroutine
// to stop a Read, which the body allows.
func (r *sseRelay) Close() error {
	return r.body.Close()
}

// feed splits newly read bytes into lines and processes them.
func (r *sseRelay) feed(p []byte) {
	r.buf = append(r.buf, p...)
	start := 0
	for r.err == nil {
		i := bytes.IndexByte(r.buf[start+r.scanned:], '\n')
		if i < 0 {
			r.scanned = len(r.buf) - start
			break
		}
		end := start + r.scanned + i
		r.line(bytes.TrimSuffix(r.buf[start:end], []byte("\r")))
		start = end + 1
		r.scanned = 0
	}
	if r.err != nil {
		return
	}

	rest := r.buf[start:]
	if int64(len(rest)) > r.b.opts.MaxMessageSize+64 {
		r.tooLarge()
		return
	}
	if r.aliased {
		fresh := make([]byte, len(rest), max(len(rest), sseChunkSize))
		copy(fresh, rest)
		r.buf, r.aliased = fresh, false
	} else {
		r.buf = r.buf[:copy(r.buf, rest)]
	}
}

// finish processes what is left when the stream ends: a last line without
// a line feed, and an event without the blank line that ends it.
func (r *sseRelay) finish() {
	if len(r.buf) > 0 {
		r.line(bytes.TrimSuffix(r.buf, []byte("\r")))
		r.buf, r.aliased = nil, false
	}
	if r.err == nil && r.hasData {
		r.dispatch()
	}
	if r.err == nil && r.a != nil && !r.sawID && !r.a.hasResponse() {
		// Without an event id mcp-go cannot resume the stream, so the
		// response will not come.
		r.a.fail(&callError{Code: CodeConnectionLost, Message: "the service ended its reply stream before sending the response; the request may have been processed, so it was not resent: check the result before retrying"})
	}
}

// line processes one line of the stream, as the SSE format defines fields.
func (r *sseRelay) line(line []byte) {
	if len(line) == 0 {
		r.dispatch()
		return
	}
	if line[0] == ':' {
		return // a comment
	}
	field, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		field, value = line[:i], bytes.TrimPrefix(line[i+1:], []byte(" "))
	}
	switch string(field) {
	case "data":
		r.addData(value)
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			r.id, r.hasID = string(value), true
		}
	case "retry":
		if len(value) > 0 && len(bytes.Trim(value, "0123456789")) == 0 {
			fmt.Fprintf(&r.out, "retry: %s\n", value)
		}
	}
}

// addData appends a data line to the event.
func (r *sseRelay) addData(value []byte) {
	switch {
	case !r.hasData && len(value) < sseChunkSize:
		r.data, r.hasData, r.dataOwned = bytes.Clone(value), true, true
	case !r.hasData:
		// A large message is kept where it was read, without a copy.
		r.data, r.hasData, r.dataOwned, r.aliased = value, true, false, true
	case !r.dataOwned:
		joined := make([]byte, 0, len(r.data)+1+len(value))
		joined = append(append(append(joined, r.data...), '\n'), value...)
		r.data, r.dataOwned = joined, true
	default:
		r.data = append(append(r.data, '\n'), value...)
	}
	if int64(len(r.data)) > r.b.opts.MaxMessageSize {
		r.tooLarge()
	}
}

// dispatch hands the finished event to the bridge and writes its stand-in
// for mcp-go.
func (r *sseRelay) dispatch() {
	var standIn []byte
	if r.hasData && len(r.data) > 0 && r.b.fromUpstream(r.data, r.a) {
		standIn = r.a.standIn()
	}
	if r.hasID {
		fmt.Fprintf(&r.out, "id: %s\n", r.id)
		r.sawID = true
	}
	if standIn != nil {
		r.out.WriteString("data: ")
		r.out.Write(standIn)
		r.out.WriteByte('\n')
	}
	if r.hasID || standIn != nil {
		r.out.WriteByte('\n')
	}
	r.data, r.hasData, r.dataOwned, r.hasID = nil, false, false, false
}

// tooLarge ends the stream because an event is over the maximum size.
func (r *sseRelay) tooLarge() {
	r.err = errStreamTooLarge
	r.data, r.hasData = nil, false
	if r.a != nil {
		r.a.fail(&callError{Code: CodeMessageTooLarge, Message: fmt.Sprintf("the service's reply exceeds the maximum message size of %d bytes: raise --max-message-size", r.b.opts.MaxMessageSize)})
		return
	}
	r.b.log.Error("dropped a message on the service's event stream over the maximum size; the stream reconnects", "max", r.b.opts.MaxMessageSize)
}
