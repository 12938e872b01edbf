package conformance

import (
	"encoding/json"
	"slices"
)

// Fixture is one conformance check, loaded from a JSON file under fixtures/.
// fixtures/README.md documents every field and fixtures/fixture.schema.json
// is its JSON Schema.
type Fixture struct {
	// Schema is the optional "$schema" member that points editors at
	// fixture.schema.json; the loader validates against its own copy.
	Schema string `json:"$schema,omitempty"`
	// Name identifies the fixture in reports and for --run; it is unique in
	// a fixture set.
	Name string `json:"name"`
	// Description states what the fixture checks, in one or two sentences.
	Description string `json:"description"`
	// Tags group fixtures for --tags, for example "tools" or "ratelimit".
	Tags []string `json:"tags"`
	// Needs lists the target capabilities the fixture needs; a target that
	// lacks one reports the fixture as skipped.
	Needs []Capability `json:"needs,omitempty"`
	// Targets lists the kinds of target the fixture applies to. Empty means
	// every kind its steps can run on.
	Targets []TargetKind `json:"targets,omitempty"`
	// Handshake, when false, stops the stdio runner from sending initialize
	// and notifications/initialized before the steps. Nil means true. The
	// HTTP runner never sends a handshake of its own.
	Handshake *bool `json:"handshake,omitempty"`
	// Steps run in order; the first failing step ends the fixture.
	Steps []Step `json:"steps"`

	// File is the path the fixture was loaded from, for messages.
	File string `json:"-"`
}

// appliesTo reports whether the fixture runs on targets of kind k.
func (f *Fixture) appliesTo(k TargetKind) bool {
	return slices.Contains(f.Targets, k)
}

// hasTag reports whether the fixture carries any of tags.
func (f *Fixture) hasTag(tags []string) bool {
	for _, t := range tags {
		if slices.Contains(f.Tags, t) {
			return true
		}
	}
	return false
}

// Capability is something a fixture needs from its target beyond an agent
// URL and a token.
type Capability string

// The capabilities a fixture can need.
const (
	// CapRevokedToken is a token the target rejects as revoked; it defines
	// the {{revoked_token}} variable.
	CapRevokedToken Capability = "revoked_token"
	// CapOtherTeamAgent is the UUID of an agent of another team, which the
	// token must not reach; it defines {{other_agent_uuid}}.
	CapOtherTeamAgent Capability = "other_team_agent"
	// CapFaults is the mock's control API under /_mock/, used to install
	// faults and to reset state and limits before each fixture.
	CapFaults Capability = "faults"
	// CapLimits is knowledge of the target's rate limits; it defines
	// {{limit_rpm}}, {{limit_burst}}, {{limit_concurrent}} and
	// {{limit_window_seconds}}.
	CapLimits Capability = "limits"
)

// TargetKind names a kind of target.
type TargetKind string

// The kinds of target.
const (
	// TargetHTTP sends each request to an HTTP endpoint directly.
	TargetHTTP TargetKind = "http"
	// TargetStdio drives a bridge process over newline-delimited JSON-RPC
	// on its stdin and stdout, as a desktop host does.
	TargetStdio TargetKind = "stdio"
)

// Step is one request and the expectations on its reply. Exactly one of
// RPC, HTTP (optionally with RPC as its body) and Stdio describes the
// request.
type Step struct {
	// Name describes the step, for reports.
	Name string `json:"name"`
	// Fault is a mock fault, in the JSON the mock's POST /_mock/faults
	// takes, installed before the request. Nil installs none.
	Fault json.RawMessage `json:"fault,omitempty"`
	// Wait is how long to wait before the request: a number of seconds,
	// or a template that expands to delta-seconds or an HTTP-date. Nil
	// means no wait.
	Wait json.RawMessage `json:"wait,omitempty"`
	// Timeout bounds each exchange of the step, as a Go duration. Empty
	// means [Options.StepTimeout].
	Timeout string `json:"timeout,omitempty"`
	// RPC is a JSON-RPC message. Over HTTP it is POSTed to the agent
	// endpoint (or to HTTP.Path); over stdio it is written as one line.
	RPC json.RawMessage `json:"rpc,omitempty"`
	// HTTP sets the HTTP request; a step with HTTP runs on HTTP targets
	// only.
	HTTP *HTTPRequest `json:"http,omitempty"`
	// Stdio is raw text written to the bridge; a step with Stdio runs on
	// stdio targets only.
	Stdio *StdioWrite `json:"stdio,omitempty"`
	// Expect is what the reply must satisfy.
	Expect Expect `json:"expect"`
	// Capture names values of the reply for later steps' templates.
	Capture map[string]Capture `json:"capture,omitempty"`
	// Repeat, when set, sends the request until a reply matches
	// Repeat.Until; Expect and Capture then apply to that reply.
	Repeat *Repeat `json:"repeat,omitempty"`
	// Concurrent, when set, sends the request several times at once and
	// sorts the replies into groups; Expect is unused.
	Concurrent *Concurrent `json:"concurrent,omitempty"`
}

// HTTPRequest describes an HTTP request. Zero fields take defaults that
// make it a JSON-RPC POST to the agent endpoint with the target's token.
type HTTPRequest struct {
	// Method is the HTTP method. Empty means POST when the step has an RPC
	// message, a Body or a BodyText, and GET otherwise.
	Method string `json:"method,omitempty"`
	// Path is the request path, appended to the target's base URL. Empty
	// means /mcp/agents/{{agent_uuid}}.
	Path string `json:"path,omitempty"`
	// Headers are sent as given after template expansion. Authorization
	// defaults to "Bearer {{token}}"; an empty value removes it.
	// Content-Type defaults to application/json when there is a body, and
	// Accept to "application/json, text/event-stream".
	Headers map[string]string `json:"headers,omitempty"`
	// Body is a JSON value sent as the body. The step's RPC message, when
	// present, is the body instead.
	Body json.RawMessage `json:"body,omitempty"`
	// BodyText is sent as the body byte for byte after template expansion,
	// for bodies that are not valid JSON.
	BodyText *string `json:"body_text,omitempty"`
}

// StdioWrite is raw text written to a bridge's stdin.
type StdioWrite struct {
	// Write is the text, after template expansion, exactly as written: it
	// carries its own line endings.
	Write string `json:"write"`
	// Reply says whether the bridge answers the text with one message,
	// which becomes the step's reply. Nil means true.
	Reply *bool `json:"reply,omitempty"`
}

// Expect is what a reply must satisfy. Status and Headers describe the
// HTTP reply and are not checked on stdio targets, where a host sees only
// JSON-RPC messages.
type Expect struct {
	// Status lists the accepted HTTP status codes; empty accepts any. In
	// JSON it is one code or an array of codes.
	Status StatusSet `json:"status,omitempty"`
	// Headers maps a header name to what its value must satisfy.
	Headers map[string]HeaderExpect `json:"headers,omitempty"`
	// Body lists assertions on the reply body: over HTTP the JSON-RPC
	// message taken from a JSON or SSE reply, or the body itself; over
	// stdio the message the bridge wrote.
	Body []Assertion `json:"body,omitempty"`
}

// empty reports whether e checks nothing.
func (e *Expect) empty() bool {
	return len(e.Status) == 0 && len(e.Headers) == 0 && len(e.Body) == 0
}

// StatusSet is a set of accepted HTTP status codes.
type StatusSet []int

// UnmarshalJSON accepts one status code or an array of them.
func (s *StatusSet) UnmarshalJSON(data []byte) error {
	var one int
	if err := json.Unmarshal(data, &one); err == nil {
		*s = StatusSet{one}
		return nil
	}
	var many []int
	if err := json.Unmarshal(data, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// HeaderExpect is what one response header must satisfy. Every set field
// is checked against the first value of the header.
type HeaderExpect struct {
	// Equals is the exact value, after template expansion.
	Equals *string `json:"equals,omitempty"`
	// Prefix is a prefix the value must start with.
	Prefix string `json:"prefix,omitempty"`
	// Matches is a regular expression (Go syntax) the value must match.
	Matches string `json:"matches,omitempty"`
	// Absent requires that the header is not sent at all.
	Absent bool `json:"absent,omitempty"`
}

// Assertion checks the value at a gjson path of the reply body. Every set
// field is checked.
type Assertion struct {
	// Path is a gjson path (github.com/tidwall/gjson syntax); "@this" is
	// the whole body.
	Path string `json:"path"`
	// Equals is the JSON value the path must hold, compared as decoded
	// JSON, so key order and number spelling do not matter. Strings in it
	// are template-expanded.
	Equals json.RawMessage `json:"equals,omitempty"`
	// Unordered compares the arrays in Equals and in the value as
	// multisets.
	Unordered bool `json:"unordered,omitempty"`
	// Exists requires that the path holds a value, null included.
	Exists bool `json:"exists,omitempty"`
	// Absent requires that the path holds no value.
	Absent bool `json:"absent,omitempty"`
	// Type is the JSON type the value must have: string, number, integer,
	// boolean, null, object or array.
	Type string `json:"type,omitempty"`
	// Matches is a regular expression (Go syntax) the value must match; a
	// value that is not a string is matched as its JSON text.
	Matches string `json:"matches,omitempty"`
	// Contains must be a substring of a string value, an element of an
	// array value, or a key of an object value.
	Contains json.RawMessage `json:"contains,omitempty"`
	// Length bounds the length of a string (in characters), an array or
	// an object (its number of keys).
	Length *Count `json:"length,omitempty"`
	// Min and Max bound a number, inclusively. In JSON each is a number or
	// a template that expands to one.
	Min json.RawMessage `json:"min,omitempty"`
	Max json.RawMessage `json:"max,omitempty"`
}

// Count is an exact count or an inclusive range. In JSON it is an
// integer, a template, or an object with min, max or both.
type Count struct {
	// Min and Max are integers or templates; nil means unbounded.
	Min json.RawMessage `json:"min,omitempty"`
	Max json.RawMessage `json:"max,omitempty"`
}

// UnmarshalJSON accepts an integer or a template string, meaning both
// bounds, or an object with min and max.
func (c *Count) UnmarshalJSON(data []byte) error {
	if len(data) > 0 && data[0] != '{' {
		c.Min = append(json.RawMessage(nil), data...)
		c.Max = c.Min
		return nil
	}
	type plain Count
	return json.Unmarshal(data, (*plain)(c))
}

// Capture takes one value from a reply for later templates. In JSON it is
// a gjson path, or an object with path or header and an optional pattern.
type Capture struct {
	// Path is a gjson path into the reply body; the value's string form
	// is captured.
	Path string `json:"path,omitempty"`
	// Header is the name of a response header whose first value is
	// captured.
	Header string `json:"header,omitempty"`
	// Pattern, when set, is a regular expression with one group applied to
	// the value; the group's text is captured.
	Pattern string `json:"pattern,omitempty"`
}

// UnmarshalJSON accepts a bare path string or the object form.
func (c *Capture) UnmarshalJSON(data []byte) error {
	var path string
	if err := json.Unmarshal(data, &path); err == nil {
		*c = Capture{Path: path}
		return nil
	}
	type plain Capture
	return json.Unmarshal(data, (*plain)(c))
}

// Repeat sends a request again and again until a reply satisfies Until.
type Repeat struct {
	// Max caps the number of requests; reaching it without a reply that
	// satisfies Until fails the step. An integer or a template.
	Max json.RawMessage `json:"max"`
	// Until is the expectation that ends the repetition.
	Until Expect `json:"until"`
	// While, when set, must hold for every reply before the last.
	While *Expect `json:"while,omitempty"`
	// Count, when set, bounds the number of replies before the last.
	Count *Count `json:"count,omitempty"`
}

// Concurrent sends Count copies of a request at once and sorts each reply
// into the first group whose expectations it satisfies.
type Concurrent struct {
	// Count is the number of simultaneous requests, an integer or a
	// template.
	Count json.RawMessage `json:"count"`
	// Groups are tried in order; a reply that fits none fails the step,
	// and so does a group whose size is outside its Count.
	Groups []Group `json:"groups"`
}

// Group is one kind of reply to a [Concurrent] request.
type Group struct {
	// Name describes the group, for reports.
	Name string `json:"name"`
	// Status, Headers and Body are what a reply must satisfy to belong to
	// the group, as in [Expect].
	Status  StatusSet               `json:"status,omitempty"`
	Headers map[string]HeaderExpect `json:"headers,omitempty"`
	Body    []Assertion             `json:"body,omitempty"`
	// Count bounds the number of replies in the group.
	Count Count `json:"count"`
}

// expect returns the group's expectations.
func (g *Group) expect() Expect {
	return Expect{Status: g.Status, Headers: g.Headers, Body: g.Body}
}
