package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"
)

// maxReplyBytes caps how much of a reply body the suite reads.
const maxReplyBytes = 64 << 20

// httpHints describe how to give an HTTP target each capability, for
// skip reasons.
var httpHints = map[Capability]string{
	CapRevokedToken:   "set JOAI_REVOKED_TOKEN",
	CapOtherTeamAgent: "set --other-agent or JOAI_OTHER_AGENT_UUID",
	CapFaults:         "only a joai-mock target has one: pass --mock-control",
	CapLimits:         "set --limit-rpm, --limit-burst and --limit-concurrent",
}

// runHTTP runs every selected fixture that applies to HTTP targets.
func (r *runner) runHTTP(ctx context.Context, t *HTTPTarget, selected []*Fixture, res *Result) error {
	base, err := checkHTTPTarget(t)
	if err != nil {
		return err
	}
	client := t.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		}}
		defer client.CloseIdleConnections()
	}
	var control *controlClient
	if t.MockControl {
		control = &controlClient{base: base, client: client, standing: t.Faults}
		defer control.reset(context.WithoutCancel(ctx))
	}
	has := map[Capability]bool{
		CapRevokedToken:   t.RevokedToken != "",
		CapOtherTeamAgent: t.OtherAgentUUID != "",
		CapFaults:         t.MockControl,
		CapLimits:         t.Limits != nil,
	}
	vars := variables{
		"agent_uuid": t.AgentUUID,
		"agent_url":  base + "/mcp/agents/" + t.AgentUUID,
		"base_url":   base,
		"token":      t.Token,
		"run_id":     newRunID(),
		"target":     string(TargetHTTP),
	}
	addCapabilityVariables(vars, t.RevokedToken, t.OtherAgentUUID, t.Limits)
	secrets := []string{t.Token, t.RevokedToken}

	for _, f := range selected {
		if !f.appliesTo(TargetHTTP) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		ss := &session{
			r: r, f: f, kind: TargetHTTP, vars: vars.clone(), control: control, secrets: secrets,
			tr: &httpTransport{base: base, client: client, token: t.Token},
		}
		fr, err := r.runFixture(ctx, ss, missingNeeds(f, has, httpHints), nil)
		if fr.Name != "" {
			res.add(fr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkHTTPTarget validates a target and returns its base URL without a
// trailing slash.
func checkHTTPTarget(t *HTTPTarget) (string, error) {
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("invalid target URL %q: want a base URL such as http://127.0.0.1:8787 or https://cortex.joai.ai", t.URL)
	}
	if t.AgentUUID == "" {
		return "", errors.New("no agent UUID: give the agent the token belongs to")
	}
	if t.Token == "" {
		return "", errors.New("no API token: set JOAI_API_TOKEN to a token for the agent")
	}
	if len(t.Faults) > 0 && !t.MockControl {
		return "", errors.New("standing faults need a mock with the control API: set MockControl")
	}
	return strings.TrimRight(t.URL, "/"), nil
}

// addCapabilityVariables defines the variables of the capabilities a
// target has.
func addCapabilityVariables(vars variables, revoked, otherAgent string, l *Limits) {
	if revoked != "" {
		vars["revoked_token"] = revoked
	}
	if otherAgent != "" {
		vars["other_agent_uuid"] = otherAgent
	}
	if l != nil {
		window := l.Window
		if window == 0 {
			window = time.Minute
		}
		vars["limit_rpm"] = strconv.Itoa(l.RequestsPerMinute)
		vars["limit_burst"] = strconv.Itoa(l.Burst)
		vars["limit_concurrent"] = strconv.Itoa(l.Concurrent)
		vars["limit_window_seconds"] = strconv.Itoa(int(window.Round(time.Second) / time.Second))
	}
}

// runFixture runs one fixture in a session, or skips it with a reason. The
// error stops the whole run: the mock could not be reset (the result is
// then zero), or ctx ended.
// start, when set, starts the session's transport before the steps and
// returns a failure or the function that stops it again.
func (r *runner) runFixture(ctx context.Context, ss *session, skip string, start func(context.Context) (*Failure, func() (*Failure, string))) (FixtureResult, error) {
	f := ss.f
	fr := FixtureResult{
		Name: f.Name, File: f.File, Description: f.Description, Tags: f.Tags,
		Target: ss.kind, Status: StatusPass,
	}
	if skip != "" {
		fr.Status, fr.Reason = StatusSkip, skip
		r.report(fr)
		return fr, nil
	}
	began := time.Now()
	if ss.control != nil {
		if err := ss.control.prepare(ctx); err != nil {
			return FixtureResult{}, err
		}
	}

	var fail *Failure
	var stop func() (*Failure, string)
	if start != nil {
		fail, stop = start(ctx)
	}
	if fail == nil {
		fail = ss.runSteps(ctx)
	}
	if stop != nil {
		stopFail, stderr := stop()
		if fail == nil {
			fail = stopFail
		}
		if fail != nil && fail.Stderr == "" {
			fail.Stderr = stderr
		}
	}

	fr.Duration, fr.Waited = time.Since(began), ss.waited
	if r.opts.Record {
		fr.Exchanges = templatize(ss.exchanges, ss.vars)
	}
	if fail != nil {
		fr.Status, fr.Failure = StatusFail, fail
		fr.Reason = failureSummary(fail)
	}
	r.logger.Debug("fixture done", "fixture", f.Name, "target", ss.kind, "status", fr.Status, "duration", fr.Duration)
	r.report(fr)
	if err := ctx.Err(); err != nil {
		return fr, err
	}
	return fr, nil
}

// report passes a fixture result to Options.OnResult.
func (r *runner) report(fr FixtureResult) {
	if r.opts.OnResult != nil {
		r.opts.OnResult(fr)
	}
}

// failureSummary sums up a failure in one line.
func failureSummary(f *Failure) string {
	first := ""
	if len(f.Problems) > 0 {
		first, _, _ = strings.Cut(f.Problems[0], "\n")
	}
	if f.Step == 0 {
		return first
	}
	return fmt.Sprintf("step %d (%s): %s", f.Step, f.StepName, first)
}

// httpTransport sends a fixture's requests over HTTP. It keeps the
// Mcp-Session-Id and protocol version a target returns, and sends them
// back, as a Streamable HTTP client must.
type httpTransport struct {
	base   string
	client *http.Client
	token  string

	// mu guards sessionID and protocolVersion, which concurrent steps
	// read and write from several goroutines.
	mu              sync.Mutex
	sessionID       string
	protocolVersion string
}

func (t *httpTransport) build(s *Step, vars variables) (*request, error) {
	req := &request{header: http.Header{}}
	path := "/mcp/agents/{{agent_uuid}}"
	var headers map[string]string
	if s.RPC != nil {
		body, err := vars.expandJSON(s.RPC)
		if err != nil {
			return nil, fmt.Errorf("rpc: %w", err)
		}
		req.body = body
	}
	if h := s.HTTP; h != nil {
		req.method = h.Method
		if h.Path != "" {
			path = h.Path
		}
		headers = h.Headers
		switch {
		case h.Body != nil:
			body, err := vars.expandJSON(h.Body)
			if err != nil {
				return nil, fmt.Errorf("http.body: %w", err)
			}
			req.body = body
		case h.BodyText != nil:
			body, err := vars.expand(*h.BodyText)
			if err != nil {
				return nil, fmt.Errorf("http.body_text: %w", err)
			}
			req.body = []byte(body)
		}
	}
	if req.method == "" {
		req.method = http.MethodGet
		if req.body != nil {
			req.method = http.MethodPost
		}
	}
	path, err := vars.expand(path)
	if err != nil {
		return nil, fmt.Errorf("http.path: %w", err)
	}
	req.url = t.base + path
	req.id, req.hasID = messageID(req.body)

	req.header.Set("Authorization", "Bearer "+t.token)
	if req.method == http.MethodGet {
		req.header.Set("Accept", "application/json")
	} else {
		req.header.Set("Accept", "application/json, text/event-stream")
	}
	if req.body != nil {
		req.header.Set("Content-Type", "application/json")
	}
	for name, value := range headers {
		value, err := vars.expand(value)
		if err != nil {
			return nil, fmt.Errorf("http.headers.%s: %w", name, err)
		}
		if value == "" {
			req.header.Del(name)
		} else {
			req.header.Set(name, value)
		}
	}
	return req, nil
}

// messageID returns the decoded id of a JSON-RPC message body.
func messageID(body []byte) (any, bool) {
	if len(body) == 0 || !gjson.ValidBytes(body) {
		return nil, false
	}
	res := gjson.GetBytes(body, "id")
	if !res.Exists() || !gjson.GetBytes(body, "method").Exists() {
		return nil, false
	}
	var id any
	if err := json.Unmarshal([]byte(res.Raw), &id); err != nil {
		return nil, false
	}
	return id, true
}

func (t *httpTransport) send(ctx context.Context, req *request) (*reply, error) {
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, req.url, body)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	hreq.Header = req.header.Clone()
	t.mu.Lock()
	if t.sessionID != "" && hreq.Header.Get("Mcp-Session-Id") == "" {
		hreq.Header.Set("Mcp-Session-Id", t.sessionID)
	}
	if t.protocolVersion != "" && hreq.Header.Get("Mcp-Protocol-Version") == "" {
		hreq.Header.Set("Mcp-Protocol-Version", t.protocolVersion)
	}
	t.mu.Unlock()
	resp, err := t.client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.method, req.url, err)
	}
	defer resp.Body.Close()

	rep := &reply{Status: resp.StatusCode, Header: resp.Header}
	if isEventStream(resp.Header) {
		rep.Raw, rep.Body, err = readEventStream(resp.Body, req.id, req.hasID)
	} else {
		rep.Body, err = io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	}
	if err != nil {
		return nil, fmt.Errorf("reading the reply to %s %s: %w", req.method, req.url, err)
	}
	t.mu.Lock()
	if id := resp.Header.Get("Mcp-Session-Id"); id != "" {
		t.sessionID = id
	}
	if v := gjson.GetBytes(rep.Body, "result.protocolVersion"); v.Type == gjson.String && resp.StatusCode == http.StatusOK {
		t.protocolVersion = v.Str
	}
	t.mu.Unlock()
	return rep, nil
}

// isEventStream reports whether a reply is text/event-stream.
func isEventStream(h http.Header) bool {
	ct, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	return strings.EqualFold(strings.TrimSpace(ct), "text/event-stream")
}

// readEventStream reads an SSE reply until the JSON-RPC response to the
// request arrives, and returns the stream read so far and that response.
// Without an id, the first response of any id is taken.
func readEventStream(r io.Reader, id any, hasID bool) (raw, msg []byte, err error) {
	var all bytes.Buffer
	br := bufio.NewReader(io.LimitReader(r, maxReplyBytes))
	var data []string
	for {
		line, err := br.ReadString('\n')
		all.WriteString(line)
		trimmed := strings.TrimRight(line, "\r\n")
		switch {
		case trimmed == "" && len(data) > 0:
			event := []byte(strings.Join(data, "\n"))
			data = nil
			if isResponseTo(event, id, hasID) {
				return all.Bytes(), event, nil
			}
		case strings.HasPrefix(trimmed, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(trimmed, "data:"), " "))
		}
		if err == io.EOF {
			return all.Bytes(), nil, fmt.Errorf("the event stream ended without a response: %s", snippet(all.Bytes(), 500))
		}
		if err != nil {
			return all.Bytes(), nil, err
		}
	}
}

// isResponseTo reports whether msg is a JSON-RPC response, to id when
// hasID is set.
func isResponseTo(msg []byte, id any, hasID bool) bool {
	if !gjson.ValidBytes(msg) || gjson.GetBytes(msg, "method").Exists() {
		return false
	}
	if !gjson.GetBytes(msg, "result").Exists() && !gjson.GetBytes(msg, "error").Exists() {
		return false
	}
	if !hasID {
		return true
	}
	var got any
	if err := json.Unmarshal([]byte(gjson.GetBytes(msg, "id").Raw), &got); err != nil {
		return false
	}
	return cmp.Equal(id, got)
}

// controlClient drives the mock's control API under /_mock/.
type controlClient struct {
	base     string
	client   *http.Client
	standing []json.RawMessage
}

// prepare resets the mock and installs the standing faults.
func (c *controlClient) prepare(ctx context.Context) error {
	if err := c.reset(ctx); err != nil {
		return err
	}
	for _, f := range c.standing {
		if err := c.addFault(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

// reset returns the mock to its seed state with no faults and full
// allowances.
func (c *controlClient) reset(ctx context.Context) error {
	return c.post(ctx, "/_mock/reset", nil)
}

// addFault installs one fault after those installed.
func (c *controlClient) addFault(ctx context.Context, fault json.RawMessage) error {
	if c == nil {
		return errors.New("this target has no mock control API for faults")
	}
	if err := c.post(ctx, "/_mock/faults", fault); err != nil {
		return fmt.Errorf("installing fault %s: %w", fault, err)
	}
	return nil
}

func (c *controlClient) post(ctx context.Context, path string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("mock control API: %w", err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("mock control API: POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(text))
	}
	return nil
}
