package conformance

import (
	"time"

	"github.com/joai-ai/joai-mcp/mockserver"
)

// EmbeddedLimits are the per-token limits of the mock that [NewMock]
// starts. With a 10 s window and 20 requests per window, requests are
// spaced 500 ms apart once the burst of 30 is spent, so a Retry-After is
// 1 s: rate-limit fixtures wait about a second, and the rest of the suite
// never meets a limit because each fixture starts from a reset. Four
// requests may be in flight at once.
var EmbeddedLimits = mockserver.Limits{
	RequestsPerMinute: 20,
	Burst:             30,
	Concurrent:        4,
	Window:            10 * time.Second,
}

// NewMock starts a mock server for the suite on a loopback port. Nil opts,
// or opts with zero Limits, get [EmbeddedLimits]. The caller must Close it.
func NewMock(opts *mockserver.Options) *mockserver.Server {
	var o mockserver.Options
	if opts != nil {
		o = *opts
	}
	if o.Limits == (mockserver.Limits{}) {
		o.Limits = EmbeddedLimits
	}
	return mockserver.NewServer(&o)
}

// MockHTTPTarget returns an HTTP target for a mock server, with every
// capability the mock has: its seed's revoked token and other team's
// agent, its limits and its control API.
func MockHTTPTarget(srv *mockserver.Server) *HTTPTarget {
	info := srv.Info()
	return &HTTPTarget{
		URL:            srv.URL,
		AgentUUID:      info.AgentUUID,
		Token:          info.Token,
		RevokedToken:   info.RevokedToken,
		OtherAgentUUID: info.OtherAgentUUID,
		Limits:         mockLimits(srv),
		MockControl:    true,
	}
}

// mockLimits returns the limits a mock enforces.
func mockLimits(srv *mockserver.Server) *Limits {
	l := srv.Limits()
	return &Limits{
		RequestsPerMinute: l.RequestsPerMinute,
		Burst:             l.Burst,
		Concurrent:        l.Concurrent,
		Window:            l.Window,
	}
}
