// Package inspector carries the traffic events that the mock server and the
// bridge publish, and serves them live to a browser page.
package inspector

import (
	"encoding/json"
	"time"
)

// Event is one observed JSON-RPC exchange, or one HTTP exchange that carried
// none. Producers fill what they know and leave the rest zero. Request and
// Response must already have every token redacted; the inspector never sees
// a token, only its last four characters in Token.
type Event struct {
	// Time is when the exchange started.
	Time time.Time `json:"time"`
	// Source names the producer: "mock" or "bridge".
	Source string `json:"source"`
	// Direction is "host→upstream", "upstream→host" for the bridge, or
	// "client→mock" for the mock.
	Direction string `json:"direction"`
	// HTTPMethod and Path describe the HTTP request, when there was one.
	HTTPMethod string `json:"httpMethod,omitempty"`
	Path       string `json:"path,omitempty"`
	// Method and ID are the JSON-RPC method and the raw JSON id, if any.
	Method string `json:"method,omitempty"`
	ID     string `json:"id,omitempty"`
	// HTTPStatus is the HTTP status of the reply, or 0 when no HTTP reply
	// was involved (a message answered locally by the bridge).
	HTTPStatus int `json:"httpStatus,omitempty"`
	// ErrorCode is the JSON-RPC error code of the reply, or 0.
	ErrorCode int `json:"errorCode,omitempty"`
	// Latency is how long the exchange took.
	Latency time.Duration `json:"latencyNanos"`
	// Size is the number of bytes of the request and reply together.
	Size int `json:"size"`
	// Token is the redacted form of the token that was used, for example
	// "…f00d", or empty.
	Token string `json:"token,omitempty"`
	// Request and Response are the messages, redacted. Either may be nil.
	Request  json.RawMessage `json:"request,omitempty"`
	Response json.RawMessage `json:"response,omitempty"`
	// Note is a short free-form remark, such as a retry or a fault.
	Note string `json:"note,omitempty"`
	// RateLimit is the limiter state of the token after the exchange, on the
	// mock only.
	RateLimit *RateState `json:"rateLimit,omitempty"`
}

// RateState is a token's rate-limit state at one moment.
type RateState struct {
	// Remaining is how many requests the token may send back to back now;
	// 0 while it is limited.
	Remaining int `json:"remaining"`
	// Limit is the most requests the token may send back to back: its
	// burst allowance plus one, or 0 when it has no rate limit.
	Limit int `json:"limit"`
	// InFlight is how many of the token's requests are being served.
	InFlight int `json:"inFlight"`
	// MaxInFlight is the concurrency limit.
	MaxInFlight int `json:"maxInFlight"`
	// NextAllowed is the earliest time a request will be accepted, or zero
	// when one would be accepted now.
	NextAllowed time.Time `json:"nextAllowed,omitzero"`
}

// Sink receives events. Publish must not block: an implementation that
// cannot keep up drops events instead of slowing the traffic it observes.
// A nil Sink is never called by producers.
type Sink interface {
	Publish(Event)
}
