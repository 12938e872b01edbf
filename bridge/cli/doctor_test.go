package cli

import (
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/joai-ai/joai-mcp/mockserver"
)

// doctorReport runs doctor --json and returns its checks by name.
func doctorReport(t *testing.T, h *harness, want int, args ...string) map[string]checkResult {
	t.Helper()
	stdout, _ := h.mustRun(want, "", append([]string{"doctor", "--json"}, args...)...)
	var report struct {
		Passed bool          `json:"passed"`
		Checks []checkResult `json:"checks"`
	}
	if err := json.Unmarshal([]byte(stdout), &report); err != nil {
		t.Fatalf("doctor --json output is not JSON: %v\n%s", err, stdout)
	}
	if report.Passed != (want == exitOK) {
		t.Errorf("passed = %v with exit status %d", report.Passed, want)
	}
	checks := map[string]checkResult{}
	for _, c := range report.Checks {
		checks[c.Name] = c
	}
	if len(checks) != 9 {
		t.Errorf("doctor reported %d checks, want 9: %v", len(checks), report.Checks)
	}
	return checks
}

func TestDoctorAllPass(t *testing.T) {
	h := newHarness(t)
	h.login()
	checks := doctorReport(t, h, exitOK, "--mock-url", h.mock.URL)
	for name, c := range checks {
		if c.Status != checkOK && !(name == nameTLS && c.Status == checkSkip) {
			t.Errorf("check %s = %s (%s), want ok", name, c.Status, c.Detail)
		}
	}
	if got := checks[nameTools].Detail; got != "3 tools (prompt_agent, create_memory, update_memory)" {
		t.Errorf("tools detail = %q", got)
	}

	// The text report says the same.
	stdout, _ := h.mustRun(exitOK, "", "doctor", "--mock-url", h.mock.URL)
	if !strings.Contains(stdout, "All checks passed.") || !strings.Contains(stdout, "tools/list took") {
		t.Errorf("doctor text report:\n%s", stdout)
	}
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestDoctorFailures(t *testing.T) {
	tlsServer := httptest.NewUnstartedServer(http.NotFoundHandler())
	// The server logs the handshakes that doctor's client, which does not
	// trust it, abandons; keep that out of the test's output.
	tlsServer.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsServer.StartTLS()
	defer tlsServer.Close()

	tests := []struct {
		name   string
		setup  func(h *harness) []string
		failed string
		detail string
		fix    string
	}{
		{
			name:   "no-token",
			setup:  func(h *harness) []string { return []string{"--mock-url", h.mock.URL, "--agent", h.info.AgentUUID} },
			failed: nameTokenPresent, detail: "no token stored", fix: "joai-bridge login --agent UUID",
		},
		{
			name: "malformed-token",
			setup: func(h *harness) []string {
				h.env["JOAI_API_TOKEN"] = `"` + h.info.Token + `"`
				return []string{"--mock-url", h.mock.URL, "--agent", h.info.AgentUUID}
			},
			failed: nameTokenFormed, detail: "token from JOAI_API_TOKEN is malformed: the token contains a quote character", fix: "remove the quotes",
		},
		{
			name: "bearer-prefix",
			setup: func(h *harness) []string {
				h.env["JOAI_API_TOKEN"] = "Bearer " + h.info.Token
				return []string{"--mock-url", h.mock.URL, "--agent", h.info.AgentUUID}
			},
			failed: nameTokenFormed, detail: `starts with "Bearer "`, fix: "without the scheme",
		},
		{
			name: "no-agent",
			setup: func(h *harness) []string {
				h.env["JOAI_API_TOKEN"] = h.info.Token
				return []string{"--mock-url", h.mock.URL}
			},
			failed: nameAgent, detail: "no agent UUID given", fix: "joai-bridge agents",
		},
		{
			name: "connection-refused",
			setup: func(h *harness) []string {
				h.env["JOAI_API_TOKEN"] = h.info.Token
				return []string{"--mock-url", "http://" + closedPort(t), "--agent", h.info.AgentUUID}
			},
			failed: nameReachable, detail: "connection refused", fix: "verify the API endpoint URL is correct",
		},
		{
			name: "untrusted-certificate",
			setup: func(h *harness) []string {
				h.env["JOAI_API_TOKEN"] = h.info.Token
				return []string{"--mock-url", tlsServer.URL, "--agent", h.info.AgentUUID}
			},
			failed: nameTLS, detail: "not signed by an authority this machine trusts", fix: "--ca-file",
		},
		{
			name: "unauthorized",
			setup: func(h *harness) []string {
				h.env["JOAI_API_TOKEN"] = h.info.RevokedToken
				return []string{"--mock-url", h.mock.URL, "--agent", h.info.AgentUUID}
			},
			failed: nameAccepted, detail: "HTTP 401 Unauthorized: unauthorized (Invalid or expired token)", fix: "revoked or rotated",
		},
		{
			name: "unknown-agent",
			setup: func(h *harness) []string {
				h.env["JOAI_API_TOKEN"] = h.info.Token
				return []string{"--mock-url", h.mock.URL, "--agent", "00000000-0000-4000-8000-000000000000"}
			},
			failed: nameAgentFound, detail: "HTTP 404 Not Found: not_found (Agent not found)", fix: "the token's team has: " + "9b2f6c1e-4d7a-4e3b-8c15-2a6f0d9e7b41 (Ada)",
		},
		{
			name: "tool-missing",
			setup: func(h *harness) []string {
				h.env["JOAI_API_TOKEN"] = h.info.Token
				h.mock.AddFault(mockserver.Fault{Method: "tools/list", Break: "missing-tool", Tool: "create_memory"})
				return []string{"--mock-url", h.mock.URL, "--agent", h.info.AgentUUID}
			},
			failed: nameTools, detail: "tools/list lacks create_memory", fix: "documented tools",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			args := tt.setup(h)
			checks := doctorReport(t, h, exitFailed, args...)
			c := checks[tt.failed]
			if c.Status != checkFail {
				t.Fatalf("check %s = %s (%s), want FAIL; all: %+v", tt.failed, c.Status, c.Detail, checks)
			}
			if !strings.Contains(c.Detail, tt.detail) {
				t.Errorf("check %s detail = %q, want it to contain %q", tt.failed, c.Detail, tt.detail)
			}
			if !strings.Contains(c.Fix, tt.fix) {
				t.Errorf("check %s fix = %q, want it to contain %q", tt.failed, c.Fix, tt.fix)
			}
			failures := 0
			for _, other := range checks {
				if other.Status == checkFail {
					failures++
				}
			}
			if failures != 1 {
				t.Errorf("%d checks failed, want only %s: %+v", failures, tt.failed, checks)
			}

			// The text report prints the fix under the failed check.
			stdout, _ := h.mustRun(exitFailed, "", append([]string{"doctor"}, args...)...)
			if !strings.Contains(stdout, "FAIL  "+tt.failed) || !strings.Contains(stdout, "fix: "+c.Fix) {
				t.Errorf("text report lacks the failure or its fix:\n%s", stdout)
			}
		})
	}
}
