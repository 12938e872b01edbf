package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/joai-ai/joai-mcp/bridge/credentials"
	"github.com/joai-ai/joai-mcp/internal/redact"
)

const doctorUsage = "doctor [--json] [--agent UUID] [--mock-url URL] [--token-file FILE | --token-command CMD] [--ca-file FILE]"

// documentedTools are the tools the reference lists for every agent.
var documentedTools = []string{"prompt_agent", "create_memory", "update_memory"}

// slowLatency is the round trip above which doctor warns. Hosts give up on
// initialize after about 60 seconds, and a session makes several requests.
const slowLatency = 5 * time.Second

// Check statuses. Only checkFail makes doctor exit with status 1.
const (
	checkOK   = "ok"
	checkFail = "FAIL"
	checkWarn = "warn"
	checkSkip = "skip"
)

// checkResult is one line of doctor's report.
type checkResult struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// doctor runs the checks in order; a failed check skips those that depend
// on it.
type doctor struct {
	inv     *invocation
	t       *target
	results []checkResult
}

func (d *doctor) add(name, status, detail, fix string) {
	d.results = append(d.results, checkResult{Name: name, Status: status, Detail: detail, Fix: fix})
}

func (d *doctor) skip(reason string, names ...string) {
	for _, n := range names {
		d.add(n, checkSkip, reason, "")
	}
}

// The checks, in the order of the reference's quick test and
// troubleshooting list.
const (
	nameTokenPresent = "token present"
	nameTokenFormed  = "token well formed"
	nameAgent        = "agent given"
	nameReachable    = "endpoint reachable"
	nameTLS          = "TLS"
	nameAccepted     = "token accepted"
	nameAgentFound   = "agent found"
	nameTools        = "tools listed"
	nameLatency      = "latency"
)

var networkChecks = []string{nameReachable, nameTLS, nameAccepted, nameAgentFound, nameTools, nameLatency}

// runDoctor automates the reference's quick test and troubleshooting list,
// printing the fix of every failed check.
func runDoctor(inv *invocation) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	resolve := targetFlags(fs, inv)
	asJSON := fs.Bool("json", false, "print the checks as JSON")
	if ok, code := parseFlags(fs, inv, doctorUsage); !ok {
		return code
	}
	t, err := resolve()
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}
	d := &doctor{inv: inv, t: t}
	d.run()

	failed := 0
	for _, r := range d.results {
		if r.Status == checkFail {
			failed++
		}
	}
	if *asJSON {
		b, _ := json.MarshalIndent(map[string]any{"endpoint": t.endpoint(), "passed": failed == 0, "checks": d.results}, "", "  ")
		inv.stdout.Write(append(b, '\n'))
	} else {
		d.print(failed)
	}
	if failed > 0 {
		return exitFailed
	}
	return exitOK
}

func (d *doctor) print(failed int) {
	target := d.t.baseURL + "/mcp/agents/<agent-uuid>"
	if d.t.agent != "" {
		target = d.t.endpoint()
	}
	d.inv.printf("Checking %s\n", target)
	for _, r := range d.results {
		d.inv.printf("  %-4s  %-18s  %s\n", r.Status, r.Name, r.Detail)
		if r.Fix != "" {
			d.inv.printf("        %-18s  fix: %s\n", "", r.Fix)
		}
	}
	if failed == 0 {
		d.inv.printf("All checks passed.\n")
	} else {
		d.inv.printf("%d of %d checks failed.\n", failed, len(d.results))
	}
}

func (d *doctor) run() {
	tok, ok := d.checkToken()
	if !ok {
		d.skip("needs a token", nameAgent)
		d.skip("needs a token", networkChecks...)
		return
	}
	if d.t.agent == "" {
		d.add(nameAgent, checkFail, "no agent UUID given and no earlier login", "pass --agent UUID; joai-bridge agents lists the agents the token can see")
		d.skip("needs an agent", networkChecks...)
		return
	}
	d.add(nameAgent, checkOK, d.t.agent, "")

	client, err := newHTTPClient(d.t.caFile)
	if err != nil {
		d.add(nameReachable, checkFail, err.Error(), "give --ca-file a PEM file of CA certificates")
		d.skip("needs a working --ca-file", networkChecks[1:]...)
		return
	}
	if !d.checkReachable() {
		d.skip("needs a reachable endpoint", networkChecks[1:]...)
		return
	}
	if !d.checkTLS(client) {
		d.skip("needs a working TLS connection", networkChecks[2:]...)
		return
	}
	d.quickTest(client, tok)
}

// checkToken finds the token and checks its form.
func (d *doctor) checkToken() (string, bool) {
	store, err := d.inv.store()
	if err != nil {
		d.add(nameTokenPresent, checkFail, err.Error(), "fix the environment variable named above")
		d.skip("needs a token", nameTokenFormed)
		return "", false
	}
	chain, err := d.inv.tokenChain(d.t, store)
	if err != nil {
		d.add(nameTokenPresent, checkFail, err.Error(), "run joai-bridge login --agent UUID, set JOAI_API_TOKEN, or pass --token-file FILE")
		d.skip("needs a token", nameTokenFormed)
		return "", false
	}
	tok, err := chain.Token(d.inv.ctx)
	var fe *credentials.FormatError
	switch {
	case errors.As(err, &fe):
		d.add(nameTokenPresent, checkOK, "found in "+chain.Describe(), "")
		d.add(nameTokenFormed, checkFail, err.Error(), fe.Fix+"; the reference's first troubleshooting step: verify the token is complete, with no extra spaces or characters")
		return "", false
	case errors.Is(err, credentials.ErrNotFound):
		d.add(nameTokenPresent, checkFail, err.Error(), "run joai-bridge login --agent UUID, set JOAI_API_TOKEN, or pass --token-file FILE")
		d.skip("needs a token", nameTokenFormed)
		return "", false
	case err != nil:
		d.add(nameTokenPresent, checkFail, err.Error(), "fix the token source named above, or run joai-bridge login --agent UUID")
		d.skip("needs a token", nameTokenFormed)
		return "", false
	}
	d.add(nameTokenPresent, checkOK, redact.Token(tok)+" from "+chain.Describe(), "")

	d.add(nameTokenFormed, checkOK, fmt.Sprintf("%d characters, no spaces, quotes or Bearer prefix", len(tok)), "")
	return tok, true
}

// checkReachable resolves the endpoint's host and opens a TCP connection to
// it, or to the proxy that HTTPS_PROXY or HTTP_PROXY names for it.
func (d *doctor) checkReachable() bool {
	u, _ := url.Parse(d.t.baseURL)
	addr := hostPort(u)
	via := ""
	req := &http.Request{URL: u}
	if proxy, err := http.ProxyFromEnvironment(req); err == nil && proxy != nil {
		addr, via = hostPort(proxy), " through the proxy "+proxy.Host
	}

	ctx, cancel := context.WithTimeout(d.inv.ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		problem, fix := diagnose(err, d.t)
		d.add(nameReachable, checkFail, problem, fix)
		return false
	}
	conn.Close()
	d.add(nameReachable, checkOK, fmt.Sprintf("connected to %s%s in %v", addr, via, roundMS(time.Since(start))), "")
	return true
}

// checkTLS completes a TLS handshake with the endpoint's host and verifies
// its certificate, as the HTTP client will.
func (d *doctor) checkTLS(client *http.Client) bool {
	u, _ := url.Parse(d.t.baseURL)
	if u.Scheme == "http" {
		d.add(nameTLS, checkSkip, "plain http to a loopback address (a local mock)", "")
		return true
	}
	if proxy, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err == nil && proxy != nil {
		d.add(nameTLS, checkSkip, "checked by the request below, through the proxy", "")
		return true
	}
	cfg := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if tr, ok := client.Transport.(*http.Transport); ok && tr.TLSClientConfig != nil {
		cfg.RootCAs = tr.TLSClientConfig.RootCAs
	}
	ctx, cancel := context.WithTimeout(d.inv.ctx, 10*time.Second)
	defer cancel()
	conn, err := (&tls.Dialer{Config: cfg}).DialContext(ctx, "tcp", hostPort(u))
	if err != nil {
		problem, fix := diagnose(err, d.t)
		d.add(nameTLS, checkFail, problem, fix)
		return false
	}
	state := conn.(*tls.Conn).ConnectionState()
	conn.Close()
	d.add(nameTLS, checkOK, fmt.Sprintf("%s, certificate for %s verified", tls.VersionName(state.Version), u.Hostname()), "")
	return true
}

// quickTest sends the reference's quick test, tools/list without a session,
// and checks the token, the agent, the tools and the time it took.
func (d *doctor) quickTest(client *http.Client, tok string) {
	ctx, cancel := context.WithTimeout(d.inv.ctx, defaultRequestTimeout)
	defer cancel()
	rc := &rpcClient{http: client, url: d.t.endpoint(), token: tok}
	start := time.Now()
	result, err := rc.request(ctx, "tools/list", nil)
	latency := time.Since(start)

	var se *httpStatusError
	var re *rpcError
	switch {
	case errors.As(err, &se) && se.Status == http.StatusNotFound:
		d.add(nameAccepted, checkOK, "the service answered 404 for the agent, not 401 for the token", "")
		_, fix := diagnose(err, d.t)
		d.add(nameAgentFound, checkFail, se.Error(), fix+d.teamAgents(ctx, client, tok))
		d.skip("needs the agent", nameTools, nameLatency)
		return
	case errors.As(err, &se) && se.Status == http.StatusBadRequest:
		d.add(nameAccepted, checkOK, "the service answered 400, not 401", "")
		_, fix := diagnose(err, d.t)
		d.add(nameAgentFound, checkFail, se.Error(), fix)
		d.skip("needs the agent", nameTools, nameLatency)
		return
	case errors.As(err, &re):
		d.add(nameAccepted, checkOK, "the service answered with JSON-RPC", "")
		d.add(nameAgentFound, checkOK, d.t.agent, "")
		d.add(nameTools, checkFail, "tools/list failed: "+re.Error(), "the agent endpoint answered but could not list tools: ensure the agent is active and not deleted, then try again")
		d.skip("needs tools/list to succeed", nameLatency)
		return
	case err != nil:
		problem, fix := diagnose(err, d.t)
		d.add(nameAccepted, checkFail, problem, fix)
		d.skip("needs the token to be accepted", nameAgentFound, nameTools, nameLatency)
		return
	}
	d.add(nameAccepted, checkOK, "tools/list answered 200", "")
	d.add(nameAgentFound, checkOK, d.t.agent, "")

	names := toolNames(result)
	var missing []string
	for _, want := range documentedTools {
		if !slices.Contains(names, want) {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		d.add(nameTools, checkFail, fmt.Sprintf("tools/list lacks %s (it lists: %s)", strings.Join(missing, ", "), strings.Join(names, ", ")),
			"every agent should offer the documented tools; ensure the agent is active and not deleted, and that JOAI_BASE_URL points at the JoAi service")
	} else {
		d.add(nameTools, checkOK, describeTools(result), "")
	}

	if latency > slowLatency {
		d.add(nameLatency, checkWarn, fmt.Sprintf("tools/list took %v", roundMS(latency)), "the network or a proxy is slow; hosts give up on a server that does not answer initialize within about 60 seconds")
	} else {
		d.add(nameLatency, checkOK, fmt.Sprintf("tools/list took %v", roundMS(latency)), "")
	}
}

// teamAgents returns a hint listing the agents the token can see, or ""
// when discovery fails.
func (d *doctor) teamAgents(ctx context.Context, client *http.Client, tok string) string {
	agents, err := listAgents(ctx, client, d.t, tok)
	if err != nil || len(agents) == 0 {
		return ""
	}
	var ids []string
	for _, a := range agents {
		ids = append(ids, a.UUID+" ("+cell(a.Name, 40)+")")
	}
	return "; the token's team has: " + strings.Join(ids, ", ")
}

// diagnose returns what went wrong with a request and the reference's fix
// for it.
func diagnose(err error, t *target) (problem, fix string) {
	problem = err.Error()
	var se *httpStatusError
	if errors.As(err, &se) {
		switch se.Status {
		case http.StatusUnauthorized:
			return problem, "the token is invalid, expired, revoked or rotated: verify it is complete (no extra spaces or characters) and still active in Agent Settings > Apps or Integrations > API Tokens, then run joai-bridge login --agent " + cmpOr(t.agent, "UUID") + " with a current token"
		case http.StatusForbidden:
			return problem, "the token may not use this agent: verify you have access to the agent and that it is in the token's team"
		case http.StatusNotFound:
			return problem, "the agent UUID is incorrect, or the agent does not exist or is not accessible: verify you have access to it, that it is in the token's team, active and not deleted (joai-bridge agents lists the team's agents)"
		case http.StatusBadRequest:
			return problem, "API tokens require explicit agent selection: make sure the endpoint ends in /mcp/agents/<agent-uuid>, or that the token has an associated agent"
		case http.StatusTooManyRequests:
			return problem, "the token's rate limit is reached: wait " + cmpOr(se.RetryAfter, "a minute") + " seconds and try again"
		}
		if se.Status >= 500 {
			return problem, "the service failed; try again in a minute"
		}
		return problem, "verify the API endpoint URL is correct (now " + t.baseURL + ")"
	}

	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var certErr x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	var rpcErr *rpcError
	var urlErr *url.Error
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		return "the host name " + dnsErr.Name + " does not resolve: " + dnsErr.Err, "verify the API endpoint URL is correct (JOAI_BASE_URL or --mock-url, now " + t.baseURL + ") and that this machine's DNS works"
	case errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(problem, "actively refused"):
		return "connection refused: nothing listens at " + hostOf(t.baseURL), "verify the API endpoint URL is correct (JOAI_BASE_URL or --mock-url, now " + t.baseURL + "); for a local mock, start joai-mock first"
	case errors.As(err, &unknownCA):
		return "the server's certificate is not signed by an authority this machine trusts", "if your network inspects TLS (a company proxy or antivirus), pass its CA certificate with --ca-file FILE; never turn certificate checks off"
	case errors.As(err, &hostErr):
		return "the server's certificate is for another host name: " + hostErr.Error(), "verify the API endpoint URL is correct (now " + t.baseURL + ")"
	case errors.As(err, &certErr):
		return "the server's certificate is not valid: " + certErr.Error(), "check this machine's clock; if your network inspects TLS, pass its CA certificate with --ca-file FILE"
	case errors.As(err, &recordErr):
		return "the server did not answer with TLS", "use http:// for a local mock, or verify the API endpoint URL (now " + t.baseURL + ")"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return "timed out: " + problem, "the service or the network is slow or blocked: check your connection and HTTPS_PROXY, then try again"
	case errors.As(err, &rpcErr):
		// The service processed the request, and its error message states the
		// problem.
		return problem, ""
	case errors.As(err, &urlErr) || errors.As(err, &netErr):
		return problem, "verify the API endpoint URL is correct (now " + t.baseURL + ") and that this machine can reach it"
	}
	// The service replied, but not with a JSON-RPC message.
	return problem, "verify the API endpoint URL is correct (now " + t.baseURL + ")"
}

// explain returns an error and its fix, if any, on one line, for the
// subcommands other than doctor.
func explain(err error, t *target) string {
	problem, fix := diagnose(err, t)
	if fix == "" {
		return problem
	}
	return problem + "; " + fix
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port)
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return hostPort(u)
}

func roundMS(d time.Duration) time.Duration {
	return d.Round(time.Millisecond)
}
