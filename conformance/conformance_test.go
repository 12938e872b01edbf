package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/joai-ai/joai-mcp/bridge/cli"
	"github.com/joai-ai/joai-mcp/mockserver"
)

// bridgeEnv makes the test binary run the real bridge, as
// cmd/joai-conformance does with its own binary.
const bridgeEnv = "JOAI_CONFORMANCE_TEST_REAL_BRIDGE"

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(standInEnv) == "1":
		os.Exit(runStandInBridge(os.Args[1:], os.Stdin, os.Stdout))
	case os.Getenv(bridgeEnv) == "1":
		os.Exit(cli.Main(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// startMock starts a suite mock that the test closes.
func startMock(tb testing.TB) *mockserver.Server {
	tb.Helper()
	srv := NewMock(nil)
	tb.Cleanup(srv.Close)
	return srv
}

// standInTarget returns a stdio target that runs the stand-in bridge with
// the given flaw in front of srv.
func standInTarget(tb testing.TB, srv *mockserver.Server, flaw string) *StdioTarget {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	return &StdioTarget{
		Command: []string{exe, "{{agent_url}}"},
		// The race detector's default pause of 1 s at exit would add a
		// second to every fixture.
		Env:  []string{standInEnv + "=1", "JOAI_STANDIN_FLAW=" + flaw, "GORACE=atexit_sleep_ms=0"},
		Mock: srv,
	}
}

// bridgeTarget returns a stdio target that runs the real bridge in front
// of srv.
func bridgeTarget(tb testing.TB, srv *mockserver.Server) *StdioTarget {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	return &StdioTarget{
		Command: []string{exe, "--url", "{{agent_url}}", "--log-level", "warn"},
		Env:     []string{bridgeEnv + "=1", "GORACE=atexit_sleep_ms=0"},
		Mock:    srv,
	}
}

// byStatus returns the names of the fixtures with status st on target k.
func byStatus(res Result, k TargetKind, st Status) []string {
	var names []string
	for _, fr := range res.Fixtures {
		if fr.Target == k && fr.Status == st {
			names = append(names, fr.Name)
		}
	}
	return names
}

// find returns the result of one fixture on one target.
func find(tb testing.TB, res Result, k TargetKind, name string) FixtureResult {
	tb.Helper()
	for _, fr := range res.Fixtures {
		if fr.Target == k && fr.Name == name {
			return fr
		}
	}
	tb.Fatalf("no result for %s on %s", name, k)
	return FixtureResult{}
}

// hasText reports whether text contains want once runs of white
// space in both are made single spaces, because go-cmp varies the spacing
// of its diffs on purpose.
func hasText(text, want string) bool {
	squash := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	return strings.Contains(squash(text), squash(want))
}

// failureText renders a fixture's failure as the text report does.
func failureText(fr FixtureResult) string {
	var b strings.Builder
	WriteFixture(&b, fr)
	return b.String()
}

// applicable returns the names of the default fixtures for target k.
func applicable(tb testing.TB, k TargetKind) []string {
	tb.Helper()
	list, err := DefaultFixtures()
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, f := range list {
		if f.appliesTo(k) {
			names = append(names, f.Name)
		}
	}
	return names
}

func TestRunMockHTTPPassesEveryFixture(t *testing.T) {
	t.Parallel()
	srv := startMock(t)
	res, err := Run(t.Context(), &Options{HTTP: MockHTTPTarget(srv)})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, fr := range res.Fixtures {
		if fr.Status != StatusPass {
			t.Errorf("%s", failureText(fr))
		}
	}
	if diff := cmp.Diff(applicable(t, TargetHTTP), byStatus(res, TargetHTTP, StatusPass)); diff != "" {
		t.Errorf("passing HTTP fixtures differ from the HTTP fixtures (-want +got):\n%s", diff)
	}
	if res.Failed != 0 || res.Skipped != 0 || res.Passed != len(res.Fixtures) {
		t.Errorf("counts = %d passed, %d failed, %d skipped of %d", res.Passed, res.Failed, res.Skipped, len(res.Fixtures))
	}
	if res.Waited <= 0 || res.Waited > res.Duration {
		t.Errorf("Waited = %v, want a positive part of Duration %v", res.Waited, res.Duration)
	}
}

func TestRunBridgeStdioPassesEveryFixture(t *testing.T) {
	t.Parallel()
	srv := startMock(t)
	res, err := Run(t.Context(), &Options{Stdio: bridgeTarget(t, srv)})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, fr := range res.Fixtures {
		if fr.Status != StatusPass {
			t.Errorf("%s", failureText(fr))
		}
	}
	if got, want := len(res.Fixtures), len(applicable(t, TargetStdio)); got != want {
		t.Errorf("%d stdio fixtures ran, want %d", got, want)
	}
}

// TestRunCatchesFaults breaks one documented behaviour of the mock at a
// time and checks that the fixtures covering it fail with a message that
// names what broke, while a neighbouring fixture still passes.
func TestRunCatchesFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		fault    string
		run      string
		wantFail []string
		wantText []string
	}{
		{
			name:     "wrong-401-body",
			fault:    `{"break":"wrong-401-body"}`,
			run:      `^(errors-401-.*|tools-list)$`,
			wantFail: []string{"errors-401-no-authorization", "errors-401-revoked-token", "errors-401-unknown-token", "errors-401-wrong-scheme"},
			wantText: []string{"body @this", `"error_description"`, `"unauthorized"`, "invalid_token"},
		},
		{
			name:     "missing-retry-after",
			fault:    `{"break":"no-retry-after"}`,
			run:      `^ratelimit-(per-minute|retry-after-honest|burst)$`,
			wantFail: []string{"ratelimit-per-minute", "ratelimit-retry-after-honest"},
			wantText: []string{"header Retry-After: missing"},
		},
		{
			name:     "dishonest-retry-after",
			fault:    `{"break":"dishonest-retry-after"}`,
			run:      `^ratelimit-(per-minute|retry-after-honest)$`,
			wantFail: []string{"ratelimit-retry-after-honest"},
			wantText: []string{"status: got 429 Too Many Requests, want 200 OK", `wait "{{retry_after}}" is 0s`},
		},
		{
			name:     "missing-tool",
			fault:    `{"break":"missing-tool"}`,
			run:      `^(tools-list|get-listing|tools-call-prompt-agent)$`,
			wantFail: []string{"get-listing", "tools-list"},
			wantText: []string{`tools.#.name: value differs`, `string("update_memory")`, "tools.#(name==update_memory).inputSchema: no value at this path"},
		},
		{
			name:     "changed-schema",
			fault:    `{"break":"changed-schema"}`,
			run:      `^(tools-list|get-listing|tools-call-prompt-agent)$`,
			wantFail: []string{"get-listing", "tools-list"},
			wantText: []string{"tools.#(name==prompt_agent).inputSchema: value differs (-want +got)", `"message": map[string]any{`, `string("integer")`},
		},
	}
	srv := startMock(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := MockHTTPTarget(srv)
			target.Faults = []json.RawMessage{json.RawMessage(tt.fault)}
			res, err := Run(t.Context(), &Options{HTTP: target, Run: regexp.MustCompile(tt.run)})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			got := byStatus(res, TargetHTTP, StatusFail)
			if diff := cmp.Diff(tt.wantFail, got); diff != "" {
				t.Fatalf("failing fixtures differ (-want +got):\n%s", diff)
			}
			if res.Passed == 0 {
				t.Errorf("no fixture passed; the fault should leave the neighbouring fixture alone")
			}
			for _, name := range tt.wantFail {
				text := failureText(find(t, res, TargetHTTP, name))
				for _, want := range tt.wantText {
					if !hasText(text, want) {
						t.Errorf("failure of %s does not contain %q:\n%s", name, want, text)
					}
				}
			}
		})
	}
}

// TestStdioCatchesBridgeFlaws runs the framing fixtures through stand-in
// bridges with one deliberate bug each, and through one without a bug,
// which must pass them all.
func TestStdioCatchesBridgeFlaws(t *testing.T) {
	t.Parallel()
	tests := []struct {
		flaw     string
		wantFail []string
		wantText string
	}{
		{flawNone, nil, ""},
		{flawBlankLines, []string{"bridge-framing-blank-lines"}, `body id: value differs`},
		{flawNoCRLF, []string{"bridge-framing-blank-lines", "bridge-framing-crlf"}, "stray carriage return"},
		{flawExitNonZero, []string{"bridge-framing-batch", "bridge-framing-blank-lines", "bridge-framing-crlf", "bridge-framing-parse-error"}, "exited with exit status 1 after its stdin closed"},
	}
	srv := startMock(t)
	for _, tt := range tests {
		name := tt.flaw
		if name == flawNone {
			name = "no-flaw"
		}
		t.Run(name, func(t *testing.T) {
			res, err := Run(t.Context(), &Options{
				Stdio: standInTarget(t, srv, tt.flaw),
				Run:   regexp.MustCompile(`^bridge-framing-(crlf|blank-lines|batch|parse-error)$`),
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if diff := cmp.Diff(tt.wantFail, byStatus(res, TargetStdio, StatusFail)); diff != "" {
				t.Fatalf("failing fixtures differ (-want +got):\n%s", diff)
			}
			for _, name := range tt.wantFail {
				if text := failureText(find(t, res, TargetStdio, name)); !hasText(text, tt.wantText) {
					t.Errorf("failure of %s does not contain %q:\n%s", name, tt.wantText, text)
				}
			}
		})
	}
}

func TestRunSkipsMissingCapabilities(t *testing.T) {
	srv := startMock(t)
	info := srv.Info()
	target := &HTTPTarget{URL: srv.URL, AgentUUID: info.AgentUUID, Token: info.Token}
	res, err := Run(t.Context(), &Options{HTTP: target, Run: regexp.MustCompile(`^(errors-401-revoked-token|errors-404-other-team-agent|ratelimit-concurrency|tools-list)$`)})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := map[string]string{
		"errors-401-revoked-token":    "target lacks revoked_token (set JOAI_REVOKED_TOKEN)",
		"errors-404-other-team-agent": "target lacks other_team_agent (set --other-agent or JOAI_OTHER_AGENT_UUID)",
		"ratelimit-concurrency":       "target lacks limits (set --limit-rpm, --limit-burst and --limit-concurrent), faults (only a joai-mock target has one: pass --mock-control)",
	}
	got := map[string]string{}
	for _, fr := range res.Fixtures {
		if fr.Status == StatusSkip {
			got[fr.Name] = fr.Reason
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("skip reasons differ (-want +got):\n%s", diff)
	}
	if res.Passed != 1 || res.Skipped != 3 || res.Failed != 0 {
		t.Errorf("counts = %d passed, %d failed, %d skipped; want 1, 0, 3", res.Passed, res.Failed, res.Skipped)
	}
	if got, want := SummaryLine(res), "1 passed, 0 failed, 3 skipped"; got != want {
		t.Errorf("SummaryLine = %q, want %q", got, want)
	}
}

func TestRunRejectsBadOptions(t *testing.T) {
	srv := startMock(t)
	info := srv.Info()
	tests := []struct {
		name string
		opts *Options
		want string
	}{
		{"no-target", &Options{}, "no target"},
		{"bad-url", &Options{HTTP: &HTTPTarget{URL: "ftp://x", AgentUUID: "a", Token: "t"}}, `invalid target URL "ftp://x"`},
		{"no-agent", &Options{HTTP: &HTTPTarget{URL: srv.URL, Token: "t"}}, "no agent UUID"},
		{"no-token", &Options{HTTP: &HTTPTarget{URL: srv.URL, AgentUUID: info.AgentUUID}}, "JOAI_API_TOKEN"},
		{"faults-without-control", &Options{HTTP: &HTTPTarget{URL: srv.URL, AgentUUID: "a", Token: "t", Faults: []json.RawMessage{[]byte(`{}`)}}}, "MockControl"},
		{"no-bridge-command", &Options{Stdio: &StdioTarget{Mock: srv}}, "no bridge command"},
		{"missing-bridge-command", &Options{Stdio: &StdioTarget{Mock: srv, Command: []string{"/nonexistent/joai-bridge"}}}, `bridge command "/nonexistent/joai-bridge"`},
		{"nothing-selected", &Options{HTTP: MockHTTPTarget(srv), Run: regexp.MustCompile(`^nothing$`)}, "no fixture matches"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(t.Context(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestRunRedactsTokens(t *testing.T) {
	srv := startMock(t)
	target := MockHTTPTarget(srv)
	target.Faults = []json.RawMessage{json.RawMessage(`{"break":"wrong-401-body"}`)}
	res, err := Run(t.Context(), &Options{HTTP: target, Run: regexp.MustCompile(`^errors-401-(wrong-scheme|revoked-token)$`), Record: true})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var b strings.Builder
	WriteText(&b, res)
	WriteJSON(&b, res)
	for _, fr := range res.Fixtures {
		for _, ex := range fr.Exchanges {
			raw, _ := json.Marshal(ex)
			b.Write(raw)
		}
	}
	info := srv.Info()
	for _, secret := range []string{info.Token, info.RevokedToken} {
		if strings.Contains(b.String(), secret) {
			t.Errorf("the reports contain a token in clear text")
		}
	}
	if !strings.Contains(b.String(), "Basic …"+info.Token[len(info.Token)-4:]) {
		t.Errorf("the reports do not show the redacted token of the wrong-scheme request:\n%s", b.String())
	}
	if slices.ContainsFunc(res.Fixtures, func(fr FixtureResult) bool { return fr.Status != StatusFail }) {
		t.Errorf("want both fixtures to fail under the wrong-401-body fault")
	}
}

func TestRunMockSSEPassesEveryFixture(t *testing.T) {
	srv := NewMock(&mockserver.Options{SSE: true})
	t.Cleanup(srv.Close)
	res, err := Run(t.Context(), &Options{HTTP: MockHTTPTarget(srv), Run: regexp.MustCompile(`^(tools|resources|lifecycle|jsonrpc|errors)-`)})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, fr := range res.Fixtures {
		if fr.Status != StatusPass {
			t.Errorf("%s", failureText(fr))
		}
	}
	if res.Passed < 20 {
		t.Errorf("only %d fixtures passed over SSE", res.Passed)
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	srv := startMock(t)
	ctx, cancel := context.WithCancel(t.Context())
	var seen int
	res, err := Run(ctx, &Options{HTTP: MockHTTPTarget(srv), OnResult: func(FixtureResult) {
		seen++
		if seen == 2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run error = %v, want context.Canceled", err)
	}
	if len(res.Fixtures) != 2 {
		t.Errorf("Run returned %d results, want the 2 that finished", len(res.Fixtures))
	}
	var ran time.Duration
	for _, fr := range res.Fixtures {
		ran += fr.Duration
	}
	if res.Duration < ran {
		t.Errorf("Run duration = %v, want at least the %v its finished fixtures took", res.Duration, ran)
	}
}

func TestStdioStopsAtSilentCommand(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command to stand for a bridge that never answers:", err)
	}
	srv := startMock(t)
	res, err := Run(t.Context(), &Options{
		Stdio:       &StdioTarget{Command: []string{sleep, "1000"}, Mock: srv, StopTimeout: 100 * time.Millisecond},
		StepTimeout: 200 * time.Millisecond,
		Run:         regexp.MustCompile(`^bridge-framing-`),
	})
	if err == nil || !strings.Contains(err.Error(), "wrote nothing on stdout within 200ms") {
		t.Errorf("Run error = %v, want one saying the command wrote nothing", err)
	}
	if len(res.Fixtures) != 1 {
		t.Errorf("Run returned %d results, want only the first fixture's", len(res.Fixtures))
	}
	if res.Duration <= 0 {
		t.Errorf("Run duration = %v, want the time the first fixture took", res.Duration)
	}
}

// TestRunKeepsTheSession runs the lifecycle fixture against a mock that
// requires the Mcp-Session-Id from initialize on every later request.
func TestRunKeepsTheSession(t *testing.T) {
	srv := NewMock(&mockserver.Options{Sessions: true})
	t.Cleanup(srv.Close)
	res, err := Run(t.Context(), &Options{HTTP: MockHTTPTarget(srv), Run: regexp.MustCompile(`^(lifecycle-initialize-and-ping|tools-list)$`)})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if fr := find(t, res, TargetHTTP, "lifecycle-initialize-and-ping"); fr.Status != StatusPass {
		t.Errorf("%s", failureText(fr))
	}
	// tools-list sends no initialize, so a mock that requires sessions
	// rejects it: this shows that the session came from initialize.
	if fr := find(t, res, TargetHTTP, "tools-list"); fr.Status != StatusFail {
		t.Errorf("tools-list without initialize passed against a mock that requires sessions")
	}
}
