package conformance

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/internal/redact"
)

// defaultStopTimeout is how long a bridge may take to exit after its
// stdin closes when StdioTarget.StopTimeout is zero.
const defaultStopTimeout = 5 * time.Second

// maxStderrTail is how much of a bridge's stderr a failure keeps.
const maxStderrTail = 8 << 10

// handshakeID is the id of the initialize request the stdio runner sends
// before a fixture's steps.
const handshakeID = "joai-conformance-initialize"

// stdioHints describe why a stdio target lacks a capability.
var stdioHints = map[Capability]string{
	CapRevokedToken:   "the mock's seed has no revoked token",
	CapOtherTeamAgent: "the mock's seed has no agent of another team",
	CapFaults:         "the mock has no control API",
	CapLimits:         "the mock's limits are unknown",
}

// runStdio runs every selected fixture that applies to stdio targets, each
// with a bridge process of its own.
func (r *runner) runStdio(ctx context.Context, t *StdioTarget, selected []*Fixture, res *Result) error {
	if len(t.Command) == 0 {
		return errors.New("no bridge command: give the command that starts the bridge, such as -- joai-bridge --url {{agent_url}}")
	}
	if _, err := exec.LookPath(t.Command[0]); err != nil {
		return fmt.Errorf("bridge command %q: %w: give its path, or install it on the PATH", t.Command[0], err)
	}
	srv := t.Mock
	if srv == nil {
		srv = NewMock(nil)
		defer srv.Close()
	}
	info := srv.Info()
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	control := &controlClient{base: srv.URL, client: client, standing: t.Faults}
	defer control.reset(context.WithoutCancel(ctx))

	home, err := os.MkdirTemp("", "joai-conformance-")
	if err != nil {
		return fmt.Errorf("creating the bridge's config directory: %w", err)
	}
	defer os.RemoveAll(home)

	limits := mockLimits(srv)
	has := map[Capability]bool{
		CapRevokedToken:   info.RevokedToken != "",
		CapOtherTeamAgent: info.OtherAgentUUID != "",
		CapFaults:         true,
		CapLimits:         true,
	}
	vars := variables{
		"agent_uuid": info.AgentUUID,
		"agent_url":  srv.AgentURL(info.AgentUUID),
		"base_url":   srv.URL,
		"token":      info.Token,
		"run_id":     newRunID(),
		"target":     string(TargetStdio),
	}
	addCapabilityVariables(vars, info.RevokedToken, info.OtherAgentUUID, limits)
	secrets := []string{info.Token, info.RevokedToken, info.OtherTeamToken}

	for _, f := range selected {
		if !f.appliesTo(TargetStdio) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		ss := &session{r: r, f: f, kind: TargetStdio, vars: vars.clone(), control: control, secrets: secrets}
		var proc *bridgeProc
		start := func(ctx context.Context) (*Failure, func() (*Failure, string)) {
			p, err := startBridge(t, ss.vars, home, secrets)
			if err != nil {
				return &Failure{Problems: []string{redact.String(err.Error(), secrets...)}}, nil
			}
			ss.tr, proc = p, p
			if f.Handshake == nil || *f.Handshake {
				if fail := ss.handshake(ctx, p); fail != nil {
					return fail, p.stop
				}
			}
			return nil, p.stop
		}
		fr, err := r.runFixture(ctx, ss, missingNeeds(f, has, stdioHints), start)
		if fr.Name != "" {
			res.add(fr)
		}
		if err != nil {
			return err
		}
		// A command that is not an MCP stdio server, such as one that
		// waits forever, would cost a step timeout and a stop timeout per
		// fixture. One such fixture is enough to tell.
		if proc != nil && proc.handshakeTimedOut && !proc.wroteStdout() {
			return fmt.Errorf("the bridge command %q wrote nothing on stdout within %v of the initialize request, so the other stdio fixtures were not run: check that it is an MCP stdio server that reads JSON-RPC lines on stdin, or raise --timeout",
				t.Command[0], r.stepTimeout())
		}
	}
	return nil
}

// handshakeStep is the step name of a failure in the initialize handshake.
const handshakeStep = "initialize handshake"

// handshake sends initialize and notifications/initialized, as a host
// does before anything else.
func (ss *session) handshake(ctx context.Context, p *bridgeProc) *Failure {
	init := fmt.Sprintf(`{"jsonrpc":"2.0","id":%q,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"joai-conformance","version":"1"}}}`, handshakeID)
	req := &request{line: []byte(init + "\n"), wantReply: true, id: handshakeID, hasID: true}
	fail := func(rep *reply, problem string) *Failure {
		f := &Failure{StepName: handshakeStep, Request: describeRequest(req), Problems: []string{ss.redact(problem)}}
		if rep != nil {
			f.Reply = ss.redact(describeReply(rep, TargetStdio))
		}
		return f
	}
	rep, err := ss.sendOnce(ctx, req, ss.r.stepTimeout())
	if err != nil {
		p.handshakeTimedOut = errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil
		return fail(nil, "initialize handshake: "+err.Error())
	}
	if !gjson.GetBytes(rep.Body, "result").Exists() {
		return fail(rep, "initialize handshake: the bridge did not return a result")
	}
	note := &request{line: []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n")}
	if _, err := ss.sendOnce(ctx, note, ss.r.stepTimeout()); err != nil {
		return fail(nil, "notifications/initialized: "+err.Error())
	}
	return nil
}

// bridgeProc is a running bridge: its stdin, the messages it wrote to
// stdout, and the end of its stderr.
type bridgeProc struct {
	cmd         *exec.Cmd
	stopTimeout time.Duration
	secrets     []string
	// handshakeTimedOut is set when initialize got no reply within the
	// step timeout. Only the fixture's goroutine uses it.
	handshakeTimedOut bool

	// wmu serializes writes to stdin.
	wmu   sync.Mutex
	stdin io.WriteCloser

	// mu guards responses, badLines, readDone and wroteLine.
	mu        sync.Mutex
	responses [][]byte
	badLines  []string
	readDone  bool
	wroteLine bool          // the bridge has written at least one line to stdout
	signal    chan struct{} // receives a value when the fields above change

	stderr  *tailBuffer
	exited  chan struct{} // closed once Wait has returned
	waitErr error
	workers sync.WaitGroup // the stdout reader and the stdin writers
}

// startBridge starts the bridge command with its templates expanded.
func startBridge(t *StdioTarget, vars variables, home string, secrets []string) (*bridgeProc, error) {
	argv := make([]string, len(t.Command))
	for i, a := range t.Command {
		v, err := vars.expand(a)
		if err != nil {
			return nil, fmt.Errorf("bridge command argument %d: %w", i, err)
		}
		argv[i] = v
	}
	env := append(os.Environ(),
		"JOAI_API_TOKEN="+vars["token"],
		"XDG_CONFIG_HOME="+home,
		"JOAI_KEYCHAIN=off",
	)
	for _, kv := range t.Env {
		v, err := vars.expand(kv)
		if err != nil {
			return nil, fmt.Errorf("bridge environment %q: %w", strings.SplitN(kv, "=", 2)[0], err)
		}
		env = append(env, v)
	}

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, t.Dir
	cmd.WaitDelay = time.Second
	p := &bridgeProc{
		cmd:         cmd,
		stopTimeout: cmpOrDuration(t.StopTimeout, defaultStopTimeout),
		secrets:     secrets,
		signal:      make(chan struct{}, 1),
		stderr:      &tailBuffer{max: maxStderrTail},
		exited:      make(chan struct{}),
	}
	cmd.Stderr = p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the bridge %q: %w", argv[0], err)
	}
	p.stdin = stdin
	p.workers.Add(1)
	go p.read(stdout)
	return p, nil
}

// read takes the bridge's stdout apart into messages until EOF, then waits
// for the process.
func (p *bridgeProc) read(stdout io.Reader) {
	defer p.workers.Done()
	br := bufio.NewReaderSize(stdout, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if trimmed := strings.TrimRight(string(line), "\r\n"); trimmed != "" {
			p.take([]byte(trimmed))
		}
		if err != nil {
			break
		}
	}
	p.waitErr = p.cmd.Wait()
	close(p.exited)
	p.mu.Lock()
	p.readDone = true
	p.mu.Unlock()
	p.notify()
}

// take handles one line of stdout. It queues a response, replies to a
// request from the bridge, drops a notification, and keeps anything else
// as a protocol violation.
func (p *bridgeProc) take(line []byte) {
	p.mu.Lock()
	p.wroteLine = true
	p.mu.Unlock()
	if !gjson.ValidBytes(line) || !gjson.ParseBytes(line).IsObject() {
		p.mu.Lock()
		p.badLines = append(p.badLines, snippet(line, 300))
		p.mu.Unlock()
		p.notify()
		return
	}
	method := gjson.GetBytes(line, "method")
	id := gjson.GetBytes(line, "id")
	switch {
	case method.Exists() && id.Exists():
		p.answer(method.String(), id.Raw)
	case method.Exists():
	default:
		p.mu.Lock()
		p.responses = append(p.responses, line)
		p.mu.Unlock()
		p.notify()
	}
}

// answer replies to a request that the bridge relayed from the service,
// as a host with no optional client capabilities would.
func (p *bridgeProc) answer(method, rawID string) {
	var msg string
	switch method {
	case "ping":
		msg = fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{}}`, rawID)
	default:
		msg = fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"error":{"code":-32601,"message":"joai-conformance does not implement %s"}}`, rawID, method)
	}
	p.workers.Add(1)
	go func() {
		defer p.workers.Done()
		p.write([]byte(msg + "\n"))
	}()
}

// wroteStdout reports whether the bridge has written a line to stdout.
func (p *bridgeProc) wroteStdout() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.wroteLine
}

func (p *bridgeProc) notify() {
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

// write writes b to the bridge's stdin.
func (p *bridgeProc) write(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.stdin.Write(b)
	return err
}

func (p *bridgeProc) build(s *Step, vars variables) (*request, error) {
	if s.Stdio != nil {
		text, err := vars.expand(s.Stdio.Write)
		if err != nil {
			return nil, fmt.Errorf("stdio.write: %w", err)
		}
		return &request{line: []byte(text), wantReply: s.Stdio.Reply == nil || *s.Stdio.Reply}, nil
	}
	body, err := vars.expandJSON(s.RPC)
	if err != nil {
		return nil, fmt.Errorf("rpc: %w", err)
	}
	id, hasID := messageID(body)
	return &request{line: append(body, '\n'), wantReply: hasID, id: id, hasID: hasID}, nil
}

func (p *bridgeProc) send(ctx context.Context, req *request) (*reply, error) {
	written := make(chan error, 1)
	p.workers.Add(1)
	go func() {
		defer p.workers.Done()
		written <- p.write(req.line)
	}()
	select {
	case err := <-written:
		if err != nil {
			return nil, fmt.Errorf("writing to the bridge's stdin: %w%s", err, p.exitNote())
		}
	case <-ctx.Done():
		return nil, fmt.Errorf("writing to the bridge's stdin: %w", ctx.Err())
	}
	if !req.wantReply {
		return nil, nil
	}
	msg, err := p.next(ctx)
	if err != nil {
		return nil, err
	}
	rep := &reply{Body: msg}
	if req.hasID {
		var got any
		idRes := gjson.GetBytes(msg, "id")
		if err := json.Unmarshal([]byte(idRes.Raw), &got); err != nil || !cmp.Equal(req.id, got) {
			return rep, fmt.Errorf("the next response has id %s, want %s: %s", orNone(idRes.Raw), mustJSON(req.id), snippet(msg, 500))
		}
	}
	return rep, nil
}

func orNone(raw string) string {
	if raw == "" {
		return "(none)"
	}
	return raw
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// next waits for the next response from the bridge.
func (p *bridgeProc) next(ctx context.Context) ([]byte, error) {
	for {
		p.mu.Lock()
		switch {
		case len(p.badLines) > 0:
			bad := p.badLines[0]
			p.badLines = p.badLines[1:]
			p.mu.Unlock()
			return nil, fmt.Errorf("the bridge wrote a line to stdout that is not a JSON-RPC message: %s", bad)
		case len(p.responses) > 0:
			msg := p.responses[0]
			p.responses = p.responses[1:]
			p.mu.Unlock()
			return msg, nil
		case p.readDone:
			p.mu.Unlock()
			return nil, fmt.Errorf("the bridge closed stdout before it replied%s", p.exitNote())
		}
		p.mu.Unlock()
		select {
		case <-p.signal:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// exitNote describes how the bridge exited, if it has.
func (p *bridgeProc) exitNote() string {
	select {
	case <-p.exited:
		if p.waitErr != nil {
			return fmt.Sprintf(" (the bridge exited: %v)", p.waitErr)
		}
		return " (the bridge exited with status 0)"
	default:
		return ""
	}
}

// stop closes the bridge's stdin, as a host that quits does, and waits for
// it to exit. It returns a failure when the bridge takes longer than the
// stop timeout, exits with a non-zero status, or wrote responses that
// match no request or lines that are not JSON-RPC. It also returns the end
// of stderr, redacted.
func (p *bridgeProc) stop() (*Failure, string) {
	p.stdin.Close()
	var problems []string
	timer := time.NewTimer(p.stopTimeout)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		problems = append(problems, fmt.Sprintf("the bridge did not exit within %v of its stdin closing, so it was killed", p.stopTimeout))
		p.cmd.Process.Kill()
		<-p.exited
	}
	p.workers.Wait()

	if p.waitErr != nil && len(problems) == 0 {
		problems = append(problems, fmt.Sprintf("the bridge exited with %v after its stdin closed, want status 0", p.waitErr))
	}
	p.mu.Lock()
	for _, msg := range p.responses {
		problems = append(problems, "the bridge sent a response that no request asked for: "+snippet(msg, 500))
	}
	for _, bad := range p.badLines {
		problems = append(problems, "the bridge wrote a line to stdout that is not a JSON-RPC message: "+bad)
	}
	p.mu.Unlock()

	stderr := redact.String(p.stderr.String(), p.secrets...)
	if len(problems) == 0 {
		return nil, stderr
	}
	for i := range problems {
		problems[i] = redact.String(problems[i], p.secrets...)
	}
	return &Failure{StepName: "stopping the bridge", Problems: problems, Stderr: stderr}, stderr
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	// mu guards buf.
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
