package mockserver

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Received is one request as the server received it, for tests that assert
// what a client sent. Tokens are redacted to their last four characters.
type Received struct {
	// Time is when the request arrived.
	Time time.Time `json:"time"`
	// HTTPMethod and Path are the HTTP request line's method and path.
	HTTPMethod string `json:"http_method"`
	Path       string `json:"path"`
	// Header is the request header with Authorization redacted.
	Header http.Header `json:"header"`
	// Method is the JSON-RPC method, or empty for a response, a request
	// without one, or a body that is not JSON-RPC.
	Method string `json:"method,omitempty"`
	// ID is the JSON-RPC id as it was sent (for example `1` or `"a"`), or
	// empty when the message had none.
	ID string `json:"id,omitempty"`
	// Body is the request body, with the request's token redacted, cut to
	// the first 16 KiB. A body that is not JSON, or was cut, is a JSON
	// string.
	Body json.RawMessage `json:"body,omitempty"`
	// Status is the HTTP status of the reply, or 0 when the connection was
	// dropped before one.
	Status int `json:"status"`
	// Fault describes the fault applied, or is empty.
	Fault string `json:"fault,omitempty"`
	// Note records what the server observed, such as the outcome of a
	// server-to-client request, a cancellation or a rate limit.
	Note string `json:"note,omitempty"`
}

// requestLogSize is how many requests [Server.Requests] keeps.
const requestLogSize = 1000

// maxRecordedBody is how much of each body a Received keeps.
const maxRecordedBody = 16 << 10

// requestLog is a ring of the most recent requests.
type requestLog struct {
	// mu guards ring, next and full.
	mu   sync.Mutex
	ring []Received
	next int
	full bool
}

func (l *requestLog) init(n int) { l.ring = make([]Received, n) }

func (l *requestLog) add(r Received) {
	l.mu.Lock()
	l.ring[l.next] = r
	l.next++
	if l.next == len(l.ring) {
		l.next, l.full = 0, true
	}
	l.mu.Unlock()
}

func (l *requestLog) all() []Received {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.full {
		return slices.Clone(l.ring[:l.next])
	}
	return append(slices.Clone(l.ring[l.next:]), l.ring[:l.next]...)
}

func (l *requestLog) clear() {
	l.mu.Lock()
	clear(l.ring)
	l.next, l.full = 0, false
	l.mu.Unlock()
}

// Requests returns the requests received since start or the last reset,
// oldest first, at most the last 1000. Control API requests are not
// included.
func (s *Server) Requests() []Received { return s.received.all() }

// ClearRequests empties the request log.
func (s *Server) ClearRequests() { s.received.clear() }
