package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/internal/redact"
)

// runner carries the options of one Run.
type runner struct {
	opts   *Options
	logger *slog.Logger
}

func (r *runner) stepTimeout() time.Duration {
	return cmpOrDuration(r.opts.StepTimeout, DefaultStepTimeout)
}

func (r *runner) maxWait() time.Duration {
	return cmpOrDuration(r.opts.MaxWait, DefaultMaxWait)
}

func cmpOrDuration(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// transport sends the requests of one fixture to one target.
type transport interface {
	// build turns a step into a request, expanding its templates.
	build(s *Step, vars variables) (*request, error)
	// send sends the request once and returns the reply. A nil reply
	// with a nil error means the request expects none (a notification
	// over stdio).
	send(ctx context.Context, req *request) (*reply, error)
}

// request is one request ready to send. HTTP transports use the HTTP
// fields and stdio transports the line.
type request struct {
	method string
	url    string
	header http.Header
	body   []byte

	line      []byte
	wantReply bool

	// id is the JSON-RPC id of the message, decoded; hasID is false for
	// a notification or a body that is not a JSON-RPC message.
	id    any
	hasID bool
}

// newRunID returns a random identifier for {{run_id}}, so that the content
// each run creates on a shared target is distinct.
func newRunID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// session is one fixture's run on one target.
type session struct {
	r       *runner
	f       *Fixture
	kind    TargetKind
	tr      transport
	vars    variables
	control *controlClient
	secrets []string

	waited    time.Duration
	exchanges []Exchange
	// waitNote describes the current step's wait, for its failure.
	waitNote string
}

// missingNeeds returns why a target cannot run f, or "" when it can.
func missingNeeds(f *Fixture, has map[Capability]bool, hints map[Capability]string) string {
	var missing []string
	for _, c := range f.Needs {
		if !has[c] {
			missing = append(missing, fmt.Sprintf("%s (%s)", c, hints[c]))
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return "target lacks " + strings.Join(missing, ", ")
}

// runSteps runs the fixture's steps and returns the first failure.
func (ss *session) runSteps(ctx context.Context) *Failure {
	for i := range ss.f.Steps {
		if err := ctx.Err(); err != nil {
			return &Failure{Step: i + 1, StepName: ss.f.Steps[i].Name, Problems: []string{"run cancelled: " + err.Error()}}
		}
		if fail := ss.runStep(ctx, i); fail != nil {
			return fail
		}
	}
	return nil
}

// runStep runs one step: its fault, its wait, the request in the step's
// mode, then the expectations and captures.
func (ss *session) runStep(ctx context.Context, i int) *Failure {
	s := &ss.f.Steps[i]
	failure := func(req *request, rep *reply, problems ...string) *Failure {
		return ss.failure(i, req, rep, problems)
	}

	if s.Fault != nil {
		raw, err := ss.vars.expandJSON(s.Fault)
		if err != nil {
			return failure(nil, nil, "fault: "+err.Error())
		}
		if err := ss.control.addFault(ctx, raw); err != nil {
			return failure(nil, nil, err.Error())
		}
	}
	ss.waitNote = ""
	if s.Wait != nil {
		d, err := ss.wait(ctx, s.Wait)
		if err != nil {
			return failure(nil, nil, err.Error())
		}
		ss.waitNote = fmt.Sprintf("wait %s is %v, and the request went out after it", s.Wait, d)
	}
	req, err := ss.tr.build(s, ss.vars)
	if err != nil {
		return failure(nil, nil, err.Error())
	}
	timeout := ss.r.stepTimeout()
	if s.Timeout != "" {
		timeout, _ = time.ParseDuration(s.Timeout)
	}

	switch {
	case s.Concurrent != nil:
		return ss.runConcurrent(ctx, i, s, req, timeout)
	case s.Repeat != nil:
		rep, attempts, fail := ss.runRepeat(ctx, i, s, req, timeout)
		if fail != nil {
			return fail
		}
		return ss.finishStep(i, s, req, rep, attempts)
	}
	rep, err := ss.sendOnce(ctx, req, timeout)
	if err != nil {
		return failure(req, nil, err.Error())
	}
	return ss.finishStep(i, s, req, rep, 1)
}

// finishStep checks a step's final reply, records it and takes its
// captures.
func (ss *session) finishStep(i int, s *Step, req *request, rep *reply, attempts int) *Failure {
	ss.record(s, req, rep, attempts)
	if rep == nil {
		return nil
	}
	if mm := checkExpect(&s.Expect, rep, ss.vars, ss.kind); len(mm) > 0 {
		problems := mismatchStrings(mm)
		if ss.waitNote != "" {
			problems = append(problems, ss.waitNote)
		}
		return ss.failure(i, req, rep, problems)
	}
	names := make([]string, 0, len(s.Capture))
	for name := range s.Capture {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		val, err := capture(s.Capture[name], rep)
		if err != nil {
			return ss.failure(i, req, rep, []string{fmt.Sprintf("capture %s: %v", name, err)})
		}
		ss.vars[name] = val
	}
	return nil
}

// sendOnce sends a request under a timeout.
func (ss *session) sendOnce(ctx context.Context, req *request, timeout time.Duration) (*reply, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rep, err := ss.tr.send(ctx, req)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("no reply within %v: %w", timeout, err)
	}
	return rep, err
}

// runRepeat sends the request until a reply meets Repeat.Until and returns
// that reply and the number of requests sent.
func (ss *session) runRepeat(ctx context.Context, i int, s *Step, req *request, timeout time.Duration) (*reply, int, *Failure) {
	rp := s.Repeat
	limit, err := ss.vars.intValue(rp.Max)
	if err != nil {
		return nil, 0, ss.failure(i, req, nil, []string{"repeat.max: " + err.Error()})
	}
	var last *reply
	for n := 1; n <= limit; n++ {
		rep, err := ss.sendOnce(ctx, req, timeout)
		if err != nil {
			return nil, n, ss.failure(i, req, last, []string{fmt.Sprintf("request %d of at most %d: %v", n, limit, err)})
		}
		if rep == nil {
			return nil, n, ss.failure(i, req, nil, []string{"a repeated request needs a reply, but this one expects none"})
		}
		last = rep
		if len(checkExpect(&rp.Until, rep, ss.vars, ss.kind)) == 0 {
			if rp.Count != nil {
				if text := checkCount(rp.Count, n-1, ss.vars); text != "" {
					return nil, n, ss.failure(i, req, rep, []string{fmt.Sprintf("repeat.count: %d replies came before the one that met until, %s", n-1, text)})
				}
			}
			return rep, n, nil
		}
		if rp.While != nil {
			if mm := checkExpect(rp.While, rep, ss.vars, ss.kind); len(mm) > 0 {
				problems := []string{fmt.Sprintf("repeat.while: reply %d, before until was met, does not meet while", n)}
				return nil, n, ss.failure(i, req, rep, append(problems, mismatchStrings(mm)...))
			}
		}
	}
	mm := checkExpect(&rp.Until, last, ss.vars, ss.kind)
	problems := []string{fmt.Sprintf("repeat: none of %d replies met until; the last one differs so", limit)}
	return nil, limit, ss.failure(i, req, last, append(problems, mismatchStrings(mm)...))
}

// runConcurrent sends Count copies of the request at once and checks how
// the replies fall into the groups.
func (ss *session) runConcurrent(ctx context.Context, i int, s *Step, req *request, timeout time.Duration) *Failure {
	c := s.Concurrent
	n, err := ss.vars.intValue(c.Count)
	if err != nil || n < 1 {
		return ss.failure(i, req, nil, []string{fmt.Sprintf("concurrent.count %s: want a positive integer", c.Count)})
	}
	replies := make([]*reply, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[k], errs[k] = ss.sendOnce(ctx, req, timeout)
		}()
	}
	wg.Wait()
	for k, err := range errs {
		if err != nil {
			return ss.failure(i, req, nil, []string{fmt.Sprintf("concurrent request %d of %d: %v", k+1, n, err)})
		}
	}

	sizes := make([]int, len(c.Groups))
	for k, rep := range replies {
		placed := false
		for g := range c.Groups {
			e := c.Groups[g].expect()
			if len(checkExpect(&e, rep, ss.vars, ss.kind)) == 0 {
				sizes[g]++
				placed = true
				break
			}
		}
		if !placed {
			return ss.failure(i, req, rep, []string{fmt.Sprintf("concurrent reply %d of %d fits none of the groups %s", k+1, n, groupNames(c.Groups))})
		}
	}
	ss.record(s, req, replies[n-1], n)

	var problems []string
	for g := range c.Groups {
		if text := checkCount(&c.Groups[g].Count, sizes[g], ss.vars); text != "" {
			problems = append(problems, fmt.Sprintf("group %q has %d of %d replies, %s", c.Groups[g].Name, sizes[g], n, text))
		}
	}
	if len(problems) > 0 {
		problems = append(problems, "group sizes: "+groupSizes(c.Groups, sizes))
		return ss.failure(i, req, replies[n-1], problems)
	}
	return nil
}

func groupNames(groups []Group) string {
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = strconv.Quote(g.Name)
	}
	return strings.Join(names, ", ")
}

func groupSizes(groups []Group, sizes []int) string {
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = fmt.Sprintf("%s %d", g.Name, sizes[i])
	}
	return strings.Join(parts, ", ")
}

// wait sleeps for a step's wait: a number of seconds, or a template that
// expands to delta-seconds or an HTTP-date.
// It returns how long it waited.
func (ss *session) wait(ctx context.Context, raw json.RawMessage) (time.Duration, error) {
	d, err := parseWait(raw, ss.vars)
	if err != nil {
		return 0, err
	}
	if max := ss.r.maxWait(); d > max {
		return 0, fmt.Errorf("wait of %v exceeds the maximum wait of %v: raise --max-wait if the target really needs it", d, max)
	}
	if d <= 0 {
		return 0, nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	start := time.Now()
	select {
	case <-t.C:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	ss.waited += time.Since(start)
	return d, nil
}

// parseWait evaluates a step's wait.
func parseWait(raw json.RawMessage, vars variables) (time.Duration, error) {
	var seconds float64
	if err := json.Unmarshal(raw, &seconds); err == nil {
		return time.Duration(seconds * float64(time.Second)), nil
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return 0, fmt.Errorf("wait %s: want a number of seconds or a string", raw)
	}
	text, err := vars.expand(text)
	if err != nil {
		return 0, fmt.Errorf("wait: %w", err)
	}
	text = strings.TrimSpace(text)
	if s, err := strconv.ParseFloat(text, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), nil
	}
	if t, err := http.ParseTime(text); err == nil {
		return max(time.Until(t), 0), nil
	}
	return 0, fmt.Errorf("wait %q: want delta-seconds or an HTTP-date, as Retry-After allows", text)
}

// capture extracts one captured value from a reply.
func capture(c Capture, rep *reply) (string, error) {
	var val string
	switch {
	case c.Header != "":
		values := rep.Header.Values(c.Header)
		if len(values) == 0 {
			return "", fmt.Errorf("the reply has no %s header", http.CanonicalHeaderKey(c.Header))
		}
		val = values[0]
	default:
		if !gjson.ValidBytes(rep.Body) {
			return "", fmt.Errorf("the body is not JSON: %s", snippet(rep.Body, 200))
		}
		res := gjson.GetBytes(rep.Body, c.Path)
		if !res.Exists() {
			return "", fmt.Errorf("no value at %s in %s", c.Path, snippet(rep.Body, 300))
		}
		val = res.String()
	}
	if c.Pattern == "" {
		return val, nil
	}
	m := regexp.MustCompile(c.Pattern).FindStringSubmatch(val)
	if m == nil {
		return "", fmt.Errorf("%q does not match %s", snippet([]byte(val), 200), c.Pattern)
	}
	return m[1], nil
}

// mismatchStrings formats mismatches for a Failure.
func mismatchStrings(mm []mismatch) []string {
	out := make([]string, len(mm))
	for i, m := range mm {
		out[i] = m.String()
	}
	return out
}

// failure builds a Failure for step i, with every secret redacted.
func (ss *session) failure(i int, req *request, rep *reply, problems []string) *Failure {
	f := &Failure{Step: i + 1, StepName: ss.f.Steps[i].Name}
	if req != nil {
		f.Request = ss.redact(describeRequest(req))
	}
	if rep != nil {
		f.Reply = ss.redact(describeReply(rep, ss.kind))
	}
	for _, p := range problems {
		f.Problems = append(f.Problems, ss.redact(p))
	}
	return f
}

// redact hides every secret of the target in text.
func (ss *session) redact(text string) string {
	return redact.String(text, ss.secrets...)
}

// record keeps an exchange for golden files when recording.
func (ss *session) record(s *Step, req *request, rep *reply, attempts int) {
	if !ss.r.opts.Record {
		return
	}
	ex := Exchange{Step: s.Name, Request: ss.recordRequest(req)}
	if attempts > 1 {
		ex.Attempts = attempts
	}
	if rep != nil {
		ex.Reply = ss.recordReply(rep)
	}
	ss.exchanges = append(ss.exchanges, ex)
}
