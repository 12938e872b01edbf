// Package conformance replays the JSON fixtures under fixtures/ against a
// JoAi agent endpoint over HTTP, or through a bridge driven over stdio as a
// desktop host drives it, and reports every way the target differs from
// the documented behaviour.
//
//	srv := conformance.NewMock(nil) // a mock with short rate-limit windows
//	defer srv.Close()
//	res, err := conformance.Run(ctx, &conformance.Options{
//		HTTP: conformance.MockHTTPTarget(srv),
//	})
//	if err != nil {
//		return err // the options or the fixtures are invalid
//	}
//	conformance.WriteText(os.Stdout, res)
//	if !res.OK() { ... }
//
// A fixture that a target cannot run (it needs a revoked token the target
// was not given, say) is reported as skipped with the reason. A fixture
// that runs fails at its first step whose reply does not meet the step's
// expectations, and the failure carries the request, the reply and a
// go-cmp diff of what was expected against what arrived.
package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/joai-ai/joai-mcp/mockserver"
)

// Default values of the [Options] durations.
const (
	DefaultStepTimeout = 15 * time.Second
	DefaultMaxWait     = 2 * time.Minute
)

// Options configure a [Run]. At least one of HTTP and Stdio must be set;
// with both, every HTTP fixture runs first, then every stdio fixture.
type Options struct {
	// Fixtures are the fixtures to choose from. Nil means
	// [DefaultFixtures], the set embedded from fixtures/.
	Fixtures []*Fixture
	// Run, when set, selects the fixtures whose name it matches.
	Run *regexp.Regexp
	// Tags, when not empty, selects the fixtures that carry at least one
	// of them.
	Tags []string
	// HTTP, when set, runs the selected fixtures against an HTTP endpoint.
	HTTP *HTTPTarget
	// Stdio, when set, runs the selected fixtures through a bridge process
	// in front of an in-process mock.
	Stdio *StdioTarget
	// StepTimeout bounds each exchange whose step sets no timeout. Zero
	// means [DefaultStepTimeout].
	StepTimeout time.Duration
	// MaxWait bounds a step's wait, such as a captured Retry-After; a
	// longer wait fails the step instead of stalling the run. Zero means
	// [DefaultMaxWait].
	MaxWait time.Duration
	// Record keeps every exchange in FixtureResult.Exchanges, redacted,
	// for golden files.
	Record bool
	// OnResult, when set, is called with each fixture's result as soon as
	// the fixture ends, from the goroutine that called Run.
	OnResult func(FixtureResult)
	// Logger receives a debug line per fixture and per exchange. Nil means
	// discard.
	Logger *slog.Logger
}

// HTTPTarget is an HTTP endpoint that serves JoAi agents: the real service
// or a mock. Capabilities left zero make the fixtures that need them skip.
type HTTPTarget struct {
	// URL is the base URL, such as "https://cortex.joai.ai" or
	// "http://127.0.0.1:8787"; fixtures append paths such as
	// /mcp/agents/{uuid} to it.
	URL string
	// AgentUUID is the agent the token gives access to.
	AgentUUID string
	// Token is an active API token for AgentUUID. It appears in reports
	// only in its redacted form.
	Token string
	// RevokedToken is a revoked token of the same team, for the
	// revoked_token capability; empty lacks it.
	RevokedToken string
	// OtherAgentUUID is an agent of another team, for the
	// other_team_agent capability; empty lacks it.
	OtherAgentUUID string
	// Limits are the token's rate limits, for the limits capability; nil
	// lacks it.
	Limits *Limits
	// MockControl marks the target as a mock with the control API under
	// /_mock/, for the faults capability. Each fixture then starts from a
	// reset: the seed state, no faults, full rate-limit allowances.
	MockControl bool
	// Faults are installed through the control API after each reset, so
	// that they stay for the whole run; they need MockControl. They come
	// before the faults a fixture installs, and the mock applies only the
	// first fault that matches a request.
	Faults []json.RawMessage
	// Client sends the requests. Nil means a client of the suite's own.
	Client *http.Client
}

// Limits are the rate limits of a target's token.
type Limits struct {
	// RequestsPerMinute is the sustained number of requests per Window.
	RequestsPerMinute int
	// Burst is the number of extra requests allowed above
	// RequestsPerMinute in a window.
	Burst int
	// Concurrent is the maximum number of requests in flight.
	Concurrent int
	// Window is the length of the "minute"; zero means one minute.
	Window time.Duration
}

// StdioTarget is a bridge command that the suite runs once per fixture,
// with its stdin and stdout as the host's JSON-RPC channel, in front of an
// in-process mock.
type StdioTarget struct {
	// Command is the program and its arguments. Templates such as
	// {{agent_url}}, {{base_url}} and {{agent_uuid}} in the arguments are
	// expanded for the mock, so the bridge can be pointed at it.
	Command []string
	// Env lists extra NAME=value entries for the bridge, after the
	// suite's environment and JOAI_API_TOKEN={{token}}; templates in the
	// values are expanded.
	Env []string
	// Dir is the bridge's working directory; empty means the suite's.
	Dir string
	// Mock is the mock behind the bridge. Nil means Run starts one with
	// [NewMock] and closes it at the end.
	Mock *mockserver.Server
	// Faults are installed after each reset, as in [HTTPTarget.Faults].
	Faults []json.RawMessage
	// StopTimeout bounds how long the bridge may take to exit once its
	// stdin is closed. A bridge that takes longer is killed, and the
	// fixture fails. Zero means 5 s.
	StopTimeout time.Duration
}

// Status is the outcome of one fixture on one target.
type Status string

// The outcomes.
const (
	StatusPass Status = "pass"
	StatusFail Status = "fail"
	StatusSkip Status = "skip"
)

// Result is the outcome of a [Run].
type Result struct {
	// Fixtures are the results in the order the fixtures ran: every HTTP
	// fixture, then every stdio fixture.
	Fixtures []FixtureResult
	// Passed, Failed and Skipped count Fixtures by status.
	Passed, Failed, Skipped int
	// Duration is the wall time of the whole run, Waited the part of it
	// spent in deliberate waits such as a Retry-After.
	Duration, Waited time.Duration
}

// OK reports whether no fixture failed and at least one passed. Skipped
// fixtures do not count either way.
func (r *Result) OK() bool {
	return r.Failed == 0 && r.Passed > 0
}

// add appends a fixture result and counts it.
func (r *Result) add(fr FixtureResult) {
	r.Fixtures = append(r.Fixtures, fr)
	r.Waited += fr.Waited
	switch fr.Status {
	case StatusPass:
		r.Passed++
	case StatusFail:
		r.Failed++
	case StatusSkip:
		r.Skipped++
	}
}

// FixtureResult is the outcome of one fixture on one target.
type FixtureResult struct {
	// Name, File, Description and Tags are the fixture's.
	Name        string
	File        string
	Description string
	Tags        []string
	// Target is the kind of target the fixture ran on.
	Target TargetKind
	// Status is pass, fail or skip.
	Status Status
	// Reason is why the fixture was skipped, or its failure summed up in
	// one line.
	Reason string
	// Duration is the fixture's wall time, Waited the part of it spent in
	// deliberate waits.
	Duration, Waited time.Duration
	// Failure describes the failing step; nil unless Status is fail.
	Failure *Failure
	// Exchanges are the requests and replies, redacted, when
	// Options.Record is set.
	Exchanges []Exchange
}

// Failure describes the step at which a fixture failed.
type Failure struct {
	// Step is the failing step's position, counting from 1; 0 means the
	// failure happened outside the steps (starting the bridge, say).
	Step int
	// StepName is the failing step's name.
	StepName string
	// Request describes the request that got the failing reply, with
	// secrets redacted; empty when no request was sent.
	Request string
	// Reply describes the reply, redacted and shortened; empty when none
	// arrived.
	Reply string
	// Problems lists every unmet expectation; an expectation on a value
	// comes with a go-cmp diff, want against got.
	Problems []string
	// Stderr is the end of the bridge's stderr, for stdio targets.
	Stderr string
}

// Exchange is one request and its reply, as recorded for golden files.
type Exchange struct {
	// Step is the step's name; Attempts is how many times the request was
	// sent (more than 1 for repeat and concurrent steps, of which only
	// the last reply is kept).
	Step     string `json:"step"`
	Attempts int    `json:"attempts,omitempty"`
	// Request and Reply hold what was sent and received.
	Request RecordedRequest `json:"request"`
	Reply   *RecordedReply  `json:"reply,omitempty"`
}

// RecordedRequest is a redacted request.
type RecordedRequest struct {
	// Method and Path are the HTTP request line; empty on stdio.
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	// Header holds the headers sent, with credentials redacted.
	Header http.Header `json:"header,omitempty"`
	// Body is the body or stdio line, as JSON when it is JSON and as a
	// JSON string otherwise.
	Body json.RawMessage `json:"body,omitempty"`
}

// RecordedReply is a redacted reply.
type RecordedReply struct {
	// Status is the HTTP status; 0 on stdio.
	Status int `json:"status,omitempty"`
	// Header holds the reply headers that describe the reply itself.
	Header http.Header `json:"header,omitempty"`
	// Body is the reply body or stdio message, as JSON when it is JSON
	// and as a JSON string otherwise.
	Body json.RawMessage `json:"body,omitempty"`
}

// Run runs the selected fixtures against each target in opts and returns
// their results. A fixture that fails is a result, not an error. The error
// reports a problem that stops the run before or between fixtures: invalid
// options or fixtures, a mock that cannot be controlled, a stdio command
// that wrote nothing in reply to initialize, or ctx ending. The results
// and the duration of the fixtures that finished come back with it.
func Run(ctx context.Context, opts *Options) (Result, error) {
	if opts == nil || (opts.HTTP == nil && opts.Stdio == nil) {
		return Result{}, errors.New("no target: set Options.HTTP, Options.Stdio or both")
	}
	list := opts.Fixtures
	if list == nil {
		var err error
		if list, err = DefaultFixtures(); err != nil {
			return Result{}, err
		}
	}
	selected := Select(list, opts.Run, opts.Tags)
	if len(selected) == 0 {
		return Result{}, fmt.Errorf("no fixture matches the selection (run %v, tags %v): list them with --list", opts.Run, opts.Tags)
	}

	start := time.Now()
	var res Result
	r := &runner{opts: opts, logger: opts.Logger}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	var err error
	if opts.HTTP != nil {
		err = r.runHTTP(ctx, opts.HTTP, selected, &res)
	}
	if opts.Stdio != nil && err == nil {
		err = r.runStdio(ctx, opts.Stdio, selected, &res)
	}
	// The duration covers the fixtures that ran when err stopped the run
	// early, such as on an interrupt.
	res.Duration = time.Since(start)
	return res, err
}

// Select returns the fixtures whose name run matches (all when run is nil)
// and that carry one of tags (all when tags is empty), in their order.
func Select(list []*Fixture, run *regexp.Regexp, tags []string) []*Fixture {
	var out []*Fixture
	for _, f := range list {
		if run != nil && !run.MatchString(f.Name) {
			continue
		}
		if len(tags) > 0 && !f.hasTag(tags) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// Err returns nil when the result is [Result.OK], or else one error that
// lists every failed fixture with its details, in the text report's form.
// It lets a Go test or a program check a run in one line.
func (r *Result) Err() error {
	if r.OK() {
		return nil
	}
	if r.Failed == 0 {
		return fmt.Errorf("no fixture passed: %s", SummaryLine(*r))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s:\n", SummaryLine(*r))
	for _, fr := range r.Fixtures {
		if fr.Status == StatusFail {
			WriteFixture(&b, fr)
		}
	}
	return errors.New(strings.TrimRight(b.String(), "\n"))
}
