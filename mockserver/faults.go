package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Fault is a misbehaviour the server applies to matching requests. Faults
// are checked in the order they were added; the first one that matches and
// has requests left applies, and only that one. A fault is used up by a
// request it matches even when its effect does not concern that reply (a
// Break of the 401 body on a request that is authorized, say).
//
// In JSON (the control API), fields use the snake_case names of their tags,
// and Latency and SlowInterval are Go duration strings such as "250ms".
type Fault struct {
	// Method matches the JSON-RPC method of a POST body; empty matches
	// any request, including ones without a JSON-RPC body.
	Method string `json:"method,omitempty"`
	// HTTPMethod matches the HTTP method; empty matches any.
	HTTPMethod string `json:"http_method,omitempty"`
	// Path matches the URL path exactly, or as a prefix when it ends in
	// "*". Empty matches any path outside the control API.
	Path string `json:"path,omitempty"`
	// Count is how many matching requests the fault applies to; zero means
	// every matching request until the faults are cleared.
	Count int `json:"count,omitempty"`

	// Latency delays the request after authentication, while it holds a
	// slot under the token's concurrency limit. With Status or a Drop of
	// "before-reply", it delays that reply instead.
	Latency time.Duration `json:"-"`
	// Status, when non-zero, replies with this HTTP status instead of
	// handling the request, before authentication. Body and Header then
	// replace the defaults: the documented body for 400, 401 and 404, a
	// rate_limited body with "Retry-After: 1" for 429, and a server_error
	// body otherwise.
	Status int               `json:"status,omitempty"`
	Body   string            `json:"body,omitempty"`
	Header map[string]string `json:"header,omitempty"`
	// Drop closes the connection without a complete reply:
	// "before-reply" sends nothing; "after-headers" sends the status line,
	// the headers and part of the body first.
	Drop string `json:"drop,omitempty"`

	// SSE makes the reply text/event-stream whatever the server's mode.
	// Progress, ServerRequest and CutAfterEvents imply it.
	SSE bool `json:"sse,omitempty"`
	// CutAfterEvents closes the connection after that many SSE events,
	// before the rest of the reply; zero means no cut.
	CutAfterEvents int `json:"cut_after_events,omitempty"`
	// Progress sends that many notifications/progress before the response,
	// when the request has a _meta.progressToken.
	Progress int `json:"progress,omitempty"`
	// ServerRequest sends a server-to-client request ("ping",
	// "sampling/createMessage", "elicitation/create" or "roots/list") on
	// the SSE reply before the response. The server then waits up to 10 s
	// for the client to POST the result, and checks its shape. A missing
	// or malformed result turns the response into a -32603 error that says
	// what was wrong.
	ServerRequest string `json:"server_request,omitempty"`
	// SlowBytes and SlowInterval send the reply body SlowBytes at a time,
	// one chunk per SlowInterval.
	SlowBytes    int           `json:"slow_bytes,omitempty"`
	SlowInterval time.Duration `json:"-"`

	// Break violates the service's contract, for testing test suites.
	//   - "wrong-401-body" changes the body of 401 replies.
	//   - "no-retry-after" omits Retry-After from 429 replies.
	//   - "dishonest-retry-after" sends a Retry-After one second shorter
	//     than the real wait, so 0 where the wait is under two seconds.
	//   - "missing-tool" leaves Tool (default update_memory) out of
	//     tools/list and the GET listing.
	//   - "changed-schema" makes prompt_agent's message an integer there.
	Break string `json:"break,omitempty"`
	// Tool names the tool that Break "missing-tool" removes.
	Tool string `json:"tool,omitempty"`
}

// Drop values.
const (
	DropBeforeReply  = "before-reply"
	DropAfterHeaders = "after-headers"
)

// Break values.
const (
	BreakWrong401Body        = "wrong-401-body"
	BreakNoRetryAfter        = "no-retry-after"
	BreakDishonestRetryAfter = "dishonest-retry-after"
	BreakMissingTool         = "missing-tool"
	BreakChangedSchema       = "changed-schema"
)

var serverRequests = []string{"ping", "sampling/createMessage", "elicitation/create", "roots/list"}

type faultJSON struct {
	faultFields
	Latency      string `json:"latency,omitempty"`
	SlowInterval string `json:"slow_interval,omitempty"`
}

// faultFields has Fault's fields without its methods, so that faultJSON can
// embed it without recursing into Fault's MarshalJSON.
type faultFields Fault

// MarshalJSON encodes f with its durations as strings.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{faultFields: faultFields(f)}
	if f.Latency != 0 {
		j.Latency = f.Latency.String()
	}
	if f.SlowInterval != 0 {
		j.SlowInterval = f.SlowInterval.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes the form [Fault.MarshalJSON] writes. Unknown
// fields are an error, so that a misspelt one is not silently ignored.
func (f *Fault) UnmarshalJSON(data []byte) error {
	if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("a fault is a JSON object such as %s, not %s", faultExample, describeJSON(trimmed))
	}
	var j faultJSON
	if err := decodeStrict(data, &j); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return fmt.Errorf("fault field %s must be %s, not a JSON %s", strings.TrimPrefix(typeErr.Field, "faultFields."), jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
		}
		// encoding/json has no error type for an unknown field.
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("unknown fault field %s: the fields are %s", name, faultFieldNames)
		}
		return err
	}
	out := Fault(j.faultFields)
	var err error
	if out.Latency, err = parseDurationField("latency", j.Latency); err != nil {
		return err
	}
	if out.SlowInterval, err = parseDurationField("slow_interval", j.SlowInterval); err != nil {
		return err
	}
	*f = out
	return nil
}

// faultExample is a fault in JSON, for error messages.
const faultExample = `{"method":"tools/call","status":503,"count":1}`

// faultFieldNames lists the JSON fields of a Fault, for error messages.
const faultFieldNames = "method, http_method, path, count, latency, status, body, header, drop, sse, " +
	"cut_after_events, progress, server_request, slow_bytes, slow_interval, break and tool"

// describeJSON names the kind of a JSON value in the user's words.
func describeJSON(v []byte) string {
	switch {
	case len(v) == 0:
		return "an empty value"
	case v[0] == '[':
		return "an array"
	case v[0] == '"':
		return "a string"
	case bytes.Equal(v, []byte("null")):
		return "null"
	case bytes.Equal(v, []byte("true")) || bytes.Equal(v, []byte("false")):
		return "a boolean"
	default:
		return "a number"
	}
}

// decodeStrict decodes one JSON value, rejecting unknown fields.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func parseDurationField(name, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a duration such as \"250ms\" or \"2s\"", name, v)
	}
	return d, nil
}

// Validate reports the first invalid field of f: a negative count or
// duration, a status outside 200–599, an unknown Drop, Break or
// ServerRequest, SlowBytes without SlowInterval, a bad header name, or no
// effect at all (only matching fields, as in {}).
func (f *Fault) Validate() error {
	switch {
	case f.Count < 0:
		return fmt.Errorf("count %d is negative: use 0 for every matching request", f.Count)
	case f.Latency < 0:
		return fmt.Errorf("latency %v is negative", f.Latency)
	case f.Status != 0 && (f.Status < 200 || f.Status > 599):
		return fmt.Errorf("status %d is not between 200 and 599", f.Status)
	case f.Drop != "" && f.Drop != DropBeforeReply && f.Drop != DropAfterHeaders:
		return fmt.Errorf("drop %q is invalid: use %q or %q", f.Drop, DropBeforeReply, DropAfterHeaders)
	case f.CutAfterEvents < 0 || f.Progress < 0 || f.SlowBytes < 0:
		return fmt.Errorf("cut_after_events, progress and slow_bytes must not be negative")
	case f.SlowBytes > 0 && f.SlowInterval <= 0:
		return fmt.Errorf("slow_bytes %d needs a positive slow_interval", f.SlowBytes)
	case f.ServerRequest != "" && !contains(serverRequests, f.ServerRequest):
		return fmt.Errorf("server_request %q is invalid: use one of %s", f.ServerRequest, strings.Join(serverRequests, ", "))
	}
	if !f.hasEffect() {
		return errors.New("the fault has no effect: set at least one of latency, status, drop, sse, cut_after_events, progress, server_request, slow_bytes or break, for example " + faultExample)
	}
	switch f.Break {
	case "", BreakWrong401Body, BreakNoRetryAfter, BreakDishonestRetryAfter, BreakMissingTool, BreakChangedSchema:
	default:
		return fmt.Errorf("break %q is invalid: use one of %s", f.Break, strings.Join([]string{
			BreakWrong401Body, BreakNoRetryAfter, BreakDishonestRetryAfter, BreakMissingTool, BreakChangedSchema}, ", "))
	}
	for k := range f.Header {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			return fmt.Errorf("header name %q is invalid", k)
		}
	}
	return nil
}

// hasEffect reports whether f changes a reply. Matching fields, Body,
// Header and Tool alone do not.
func (f *Fault) hasEffect() bool {
	return f.Latency > 0 || f.Status != 0 || f.Drop != "" || f.SSE || f.CutAfterEvents > 0 ||
		f.Progress > 0 || f.ServerRequest != "" || f.SlowBytes > 0 || f.Break != ""
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// streams reports whether the fault needs an SSE reply.
func (f *Fault) streams() bool {
	return f.SSE || f.CutAfterEvents > 0 || f.Progress > 0 || f.ServerRequest != ""
}

// describe is a short summary for logs and the request log.
func (f *Fault) describe() string {
	var parts []string
	add := func(format string, args ...any) { parts = append(parts, fmt.Sprintf(format, args...)) }
	if f.Latency > 0 {
		add("latency %v", f.Latency)
	}
	if f.Status != 0 {
		add("status %d", f.Status)
	}
	if f.Drop != "" {
		add("drop %s", f.Drop)
	}
	if f.SSE {
		add("sse")
	}
	if f.CutAfterEvents > 0 {
		add("cut after %d events", f.CutAfterEvents)
	}
	if f.Progress > 0 {
		add("progress %d", f.Progress)
	}
	if f.ServerRequest != "" {
		add("server request %s", f.ServerRequest)
	}
	if f.SlowBytes > 0 {
		add("slow %d bytes per %v", f.SlowBytes, f.SlowInterval)
	}
	if f.Break != "" {
		add("break %s", f.Break)
	}
	if len(parts) == 0 {
		return "no effect"
	}
	return strings.Join(parts, ", ")
}

func (f *Fault) matches(httpMethod, path, rpcMethod string) bool {
	if f.HTTPMethod != "" && !strings.EqualFold(f.HTTPMethod, httpMethod) {
		return false
	}
	if f.Method != "" && f.Method != rpcMethod {
		return false
	}
	if f.Path != "" {
		if prefix, ok := strings.CutSuffix(f.Path, "*"); ok {
			return strings.HasPrefix(path, prefix)
		}
		return f.Path == path
	}
	return true
}

// faultList is the installed faults, in order.
type faultList struct {
	// mu guards entries.
	mu      sync.Mutex
	entries []*faultEntry
}

type faultEntry struct {
	fault Fault
	left  int // requests left; 0 means unlimited
}

func (l *faultList) add(f Fault) {
	l.mu.Lock()
	l.entries = append(l.entries, &faultEntry{fault: f, left: f.Count})
	l.mu.Unlock()
}

func (l *faultList) clear() {
	l.mu.Lock()
	l.entries = nil
	l.mu.Unlock()
}

// match returns the first matching fault and uses up one of its requests.
func (l *faultList) match(httpMethod, path, rpcMethod string) *Fault {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, e := range l.entries {
		if !e.fault.matches(httpMethod, path, rpcMethod) {
			continue
		}
		f := e.fault
		if e.left > 0 {
			e.left--
			if e.left == 0 {
				l.entries = append(l.entries[:i:i], l.entries[i+1:]...)
			}
		}
		return &f
	}
	return nil
}

// list returns the installed faults with Count set to the requests each
// has left.
func (l *faultList) list() []Fault {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Fault, 0, len(l.entries))
	for _, e := range l.entries {
		f := e.fault
		f.Count = e.left
		out = append(out, f)
	}
	return out
}

// AddFault installs a fault after those already installed. It panics if
// the fault is invalid (an unknown Drop or Break, a status outside
// 200–599); the control API returns 400 for those instead.
func (s *Server) AddFault(f Fault) {
	if err := f.Validate(); err != nil {
		panic("mockserver: AddFault: " + err.Error())
	}
	s.faults.add(f)
}

// ClearFaults removes every installed fault.
func (s *Server) ClearFaults() { s.faults.clear() }

// Faults returns the installed faults, with Count set to the requests each
// has left (0 for those that apply until cleared).
func (s *Server) Faults() []Fault { return s.faults.list() }
