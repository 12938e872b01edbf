package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/joai-ai/joai-mcp/bridge/cli"
	"github.com/joai-ai/joai-mcp/conformance"
)

// TestMain runs the bridge when the suite re-executes this test binary as
// it re-executes joai-conformance.
func TestMain(m *testing.M) {
	if os.Getenv(bridgeEnv) == "1" {
		os.Exit(cli.Main(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runCLI runs the command with args and an environment of its own.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	// The race detector's pause of 1 s at exit would slow every bridge the
	// suite starts from this binary.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	var out, errOut bytes.Buffer
	code = run(t.Context(), args, func(k string) string { return env[k] }, &out, &errOut)
	return code, out.String(), errOut.String()
}

var summaryPattern = regexp.MustCompile(`^(\d+) passed, (\d+) failed(, (\d+) skipped)?$`)

// lastLine returns the last line of the output.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestHelpNamesModesFlagsAndEnvironment(t *testing.T) {
	code, stdout, _ := runCLI(t, nil, "--help")
	if code != exitPass {
		t.Errorf("--help exit status = %d, want 0", code)
	}
	for _, want := range []string{
		"joai-conformance http --url URL --agent UUID", "joai-conformance stdio [flags] -- COMMAND", "joai-conformance record", "joai-conformance replay",
		"JOAI_API_TOKEN", "JOAI_REVOKED_TOKEN", "JOAI_OTHER_AGENT_UUID", "JOAI_LIMIT_RPM", "JOAI_MOCK_CONTROL",
		"-run", "-tags", "-list", "-json", "-junit", "-limit-concurrent", "-mock-control", "-golden", "{{agent_url}}",
		`"N passed, N failed"`,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--help does not mention %q", want)
		}
	}
}

func TestListSelectsByTag(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil, "--list", "--tags", "ratelimit")
	if code != exitPass {
		t.Fatalf("--list exit status = %d: %s", code, stderr)
	}
	var names []string
	for _, line := range strings.Split(stdout, "\n") {
		if line != "" && !strings.HasPrefix(line, " ") {
			names = append(names, strings.Fields(line)[0])
		}
	}
	want := "ratelimit-burst ratelimit-concurrency ratelimit-per-minute ratelimit-retry-after-honest"
	if strings.Join(names, " ") != want {
		t.Errorf("--list --tags ratelimit = %v, want %s", names, want)
	}
	if !strings.Contains(stdout, "needs=limits,faults") {
		t.Errorf("--list does not show the concurrency fixture's needs:\n%s", stdout)
	}
}

// TestDefaultRunReportsEveryFixture runs the first command a newcomer
// runs, with its reports, and checks that the text, JSON and JUnit reports
// agree and that the exit status follows the summary.
func TestDefaultRunReportsEveryFixture(t *testing.T) {
	dir := t.TempDir()
	jsonFile, junitFile := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.xml")
	code, stdout, stderr := runCLI(t, nil, "--json", jsonFile, "--junit", junitFile)

	m := summaryPattern.FindStringSubmatch(lastLine(stdout))
	if m == nil {
		t.Fatalf("last line %q is not a summary; stderr:\n%s", lastLine(stdout), stderr)
	}
	if m[2] != "0" || code != exitPass {
		t.Errorf("exit status = %d with summary %q, want 0 and no failure:\n%s", code, m[0], stdout)
	}

	var report struct {
		Passed, Failed, Skipped int
		Fixtures                []struct{ Name, Target, Status string }
	}
	data, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatalf("--json file: %v", err)
	}
	if got := conformance.SummaryLine(conformance.Result{Passed: report.Passed, Failed: report.Failed, Skipped: report.Skipped}); got != m[0] {
		t.Errorf("JSON counts give %q, the text summary is %q", got, m[0])
	}
	targets := map[string]int{}
	for _, f := range report.Fixtures {
		targets[f.Target]++
		line := regexp.MustCompile(`(?m)^` + strings.ToUpper(f.Status) + `\s+` + f.Target + `\s+` + regexp.QuoteMeta(f.Name) + `\s`)
		if !line.MatchString(stdout) {
			t.Errorf("no report line for %s on %s with status %s", f.Name, f.Target, f.Status)
		}
	}
	if targets["http"] < 25 || targets["stdio"] < 20 {
		t.Errorf("fixtures per target = %v, want every fixture over HTTP and through the bridge", targets)
	}

	var junit conformance.JUnitSuites
	data, err = os.ReadFile(junitFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(data, &junit); err != nil {
		t.Fatalf("--junit file is not valid XML: %v", err)
	}
	if junit.Tests != len(report.Fixtures) || junit.Failures != report.Failed {
		t.Errorf("JUnit has %d tests and %d failures, JSON %d and %d", junit.Tests, junit.Failures, len(report.Fixtures), report.Failed)
	}
}

func TestDefaultRunCatchesAFault(t *testing.T) {
	code, stdout, _ := runCLI(t, nil, "--targets", "http", "--run", "^errors-401", "--fault", `{"break":"wrong-401-body"}`)
	if code != exitFail {
		t.Errorf("exit status = %d, want 1", code)
	}
	if got := lastLine(stdout); got != "0 passed, 4 failed" {
		t.Errorf("summary = %q, want 0 passed, 4 failed", got)
	}
	if !strings.Contains(stdout, "invalid_token") {
		t.Errorf("the report does not show the wrong body:\n%s", stdout)
	}
}

func TestStdioModeRunsAGivenBridge(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(bridgeEnv, "1")
	code, stdout, stderr := runCLI(t, nil, "stdio", "--run", "^(tools-list|bridge-upstream-401)$", "--", exe, "--url", "{{agent_url}}")
	if code != exitPass || lastLine(stdout) != "2 passed, 0 failed" {
		t.Errorf("stdio mode = %d, %q; stderr:\n%s\n%s", code, lastLine(stdout), stderr, stdout)
	}
}

func TestHTTPModeSkipsWhatTheTargetLacks(t *testing.T) {
	srv := conformance.NewMock(nil)
	t.Cleanup(srv.Close)
	info := srv.Info()
	env := map[string]string{"JOAI_API_TOKEN": info.Token, "JOAI_AGENT_UUID": info.AgentUUID}
	code, stdout, stderr := runCLI(t, env, "http", "--url", srv.URL, "--tags", "errors")
	if code != exitPass {
		t.Errorf("exit status = %d, want 0 when nothing failed; stderr:\n%s\n%s", code, stderr, stdout)
	}
	for _, want := range []string{
		"SKIP  http   errors-401-revoked-token", "target lacks revoked_token (set JOAI_REVOKED_TOKEN)",
		"SKIP  http   ratelimit-per-minute", "target lacks limits",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output does not contain %q:\n%s", want, stdout)
		}
	}
	if !summaryPattern.MatchString(lastLine(stdout)) || !strings.HasSuffix(lastLine(stdout), "skipped") {
		t.Errorf("summary = %q, want one with skipped fixtures", lastLine(stdout))
	}
	if strings.Contains(stdout+stderr, info.Token) {
		t.Errorf("the output contains the token")
	}

	env["JOAI_REVOKED_TOKEN"] = info.RevokedToken
	code, stdout, _ = runCLI(t, env, "http", "--url", srv.URL, "--run", "revoked")
	if code != exitPass || lastLine(stdout) != "1 passed, 0 failed" {
		t.Errorf("with JOAI_REVOKED_TOKEN = %d, %q; want the revoked-token fixture to pass", code, lastLine(stdout))
	}
}

func TestHTTPModeWithMockControl(t *testing.T) {
	srv := conformance.NewMock(nil)
	t.Cleanup(srv.Close)
	code, stdout, stderr := runCLI(t, nil, "http", "--url", srv.URL, "--mock-control", "--tags", "ratelimit")
	if code != exitPass || lastLine(stdout) != "4 passed, 0 failed" {
		t.Errorf("--mock-control run = %d, %q; stderr:\n%s\n%s", code, lastLine(stdout), stderr, stdout)
	}
}

func TestRecordAndReplay(t *testing.T) {
	srv := conformance.NewMock(nil)
	t.Cleanup(srv.Close)
	info := srv.Info()
	dir := t.TempDir()
	env := map[string]string{"JOAI_API_TOKEN": info.Token}
	code, stdout, stderr := runCLI(t, env, "record", "--url", srv.URL, "--agent", info.AgentUUID, "--run", "^(tools-list|errors-401-wrong-scheme)$", "--out", dir)
	if code != exitPass || !strings.Contains(stdout, "wrote 2 golden files to "+dir) {
		t.Fatalf("record = %d:\n%s\n%s", code, stdout, stderr)
	}
	for _, name := range []string{"tools-list", "errors-401-wrong-scheme"} {
		data, err := os.ReadFile(filepath.Join(dir, name+conformance.GoldenSuffix))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), info.Token) {
			t.Errorf("%s golden file contains the token", name)
		}
	}

	code, stdout, stderr = runCLI(t, nil, "replay", "--golden", dir)
	if code != exitPass || lastLine(stdout) != "2 passed, 0 failed" {
		t.Errorf("replay = %d, %q; stderr:\n%s\n%s", code, lastLine(stdout), stderr, stdout)
	}
}

func TestRejectsBadInvocations(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown-mode", nil, []string{"bogus"}, `unknown mode "bogus"`},
		{"bad-run", nil, []string{"--run", "("}, `invalid --run "("`},
		{"flag-of-another-mode", nil, []string{"--url", "http://127.0.0.1:1"}, "--url does not apply to the default run"},
		{"http-without-url", nil, []string{"http"}, "no target URL"},
		{"http-without-token", nil, []string{"http", "--url", "http://127.0.0.1:1", "--agent", "a"}, "set JOAI_API_TOKEN"},
		{"bad-env-limit", map[string]string{"JOAI_LIMIT_RPM": "many"}, []string{"http"}, `invalid JOAI_LIMIT_RPM "many"`},
		{"half-limits", map[string]string{"JOAI_API_TOKEN": "t"}, []string{"http", "--url", "http://127.0.0.1:1", "--agent", "a", "--limit-rpm", "5"}, "--limit-rpm and --limit-concurrent go together"},
		{"stdio-without-command", nil, []string{"stdio"}, "no bridge command"},
		{"record-without-out", map[string]string{"JOAI_API_TOKEN": "t"}, []string{"record", "--url", "http://127.0.0.1:1", "--agent", "a"}, "pass --out DIR"},
		{"replay-without-golden", nil, []string{"replay"}, "pass --golden DIR"},
		{"http-agent-not-uuid", map[string]string{"JOAI_API_TOKEN": "t"}, []string{"http", "--url", "http://127.0.0.1:1", "--agent", "not-a-uuid"}, `invalid --agent: agent "not-a-uuid" is not a UUID such as 0b7e2c9a-1d3f-4c5e-8a6b-9c0d1e2f3a4b`},
		{"env-agent-not-uuid", map[string]string{"JOAI_API_TOKEN": "t", "JOAI_AGENT_UUID": "ada"}, []string{"http", "--url", "http://127.0.0.1:1"}, `invalid --agent: agent "ada" is not a UUID`},
		{"other-agent-not-uuid", map[string]string{"JOAI_API_TOKEN": "t"}, []string{"http", "--url", "http://127.0.0.1:1", "--agent", "0b7e2c9a-1d3f-4c5e-8a6b-9c0d1e2f3a4b", "--other-agent", "grace"}, `invalid --other-agent: agent "grace" is not a UUID`},
		{"bad-targets", nil, []string{"--targets", "ftp"}, `invalid --targets "ftp"`},
		{"bad-fault", nil, []string{"--fault", "{"}, "not valid JSON"},
		{"extra-argument", nil, []string{"--list", "extra"}, `unexpected argument "extra"`},
		{"missing-fixtures-dir", nil, []string{"--fixtures", "/nonexistent/fixtures"}, "reading fixtures"},
		{"bad-max-wait", nil, []string{"--max-wait", "banana"}, `"banana" is not a Go duration: use a number with a unit, such as 30s`},
		{"zero-timeout", nil, []string{"--timeout", "0s"}, `"0s" is not positive`},
		{"missing-golden-dir", nil, []string{"replay", "--golden", "/nonexistent/golden"}, "/nonexistent/golden does not exist"},
		{"json-in-missing-dir", nil, []string{"--json", "/nonexistent/dir/report.json"}, "--json /nonexistent/dir/report.json cannot be written"},
		{"junit-is-directory", nil, []string{"--junit", os.TempDir()}, "it is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.env, tt.args...)
			if code != exitUsage {
				t.Errorf("exit status = %d, want 2", code)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
}

func TestFixturesFlagReportsBadFixture(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"name": "bad", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "ping"}, "expect": {"status": "200"}}]}`), 0o644)
	code, _, stderr := runCLI(t, nil, "--fixtures", dir, "--list")
	if code != exitUsage || !strings.Contains(stderr, filepath.Join(dir, "bad.json")+": /steps/0/expect/status: got string, want integer") {
		t.Errorf("exit status %d, stderr %q; want 2 and the file, field and problem", code, stderr)
	}
}

func TestReportPathCheckedBeforeRun(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "missing", "report.xml")
	code, stdout, stderr := runCLI(t, nil, "--junit", bad)
	if code != exitUsage {
		t.Errorf("exit status = %d, want 2", code)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want no fixture run", stdout)
	}
	if !strings.Contains(stderr, "--junit "+bad+" cannot be written") {
		t.Errorf("stderr = %q, want it to name --junit and the path", stderr)
	}
}

func TestFixtureErrorPrefixesEveryLine(t *testing.T) {
	dir := t.TempDir()
	// A capture that is neither a string nor an object breaks a "one of"
	// rule, which the schema reports as one problem per alternative.
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"name": "bad", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "ping"}, "capture": {"v": 5}}]}`), 0o644)
	code, _, stderr := runCLI(t, nil, "--fixtures", dir, "--list")
	if code != exitUsage {
		t.Errorf("exit status = %d, want 2", code)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) < 2 {
		t.Fatalf("stderr = %q, want a line per alternative of the one-of rule", stderr)
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "joai-conformance: ") {
			t.Errorf("stderr line %q lacks the joai-conformance: prefix", line)
		}
	}
}

func TestInvalidGJSONPathIsUsageError(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"name": "bad", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"jsonrpc": "2.0", "id": 1, "method": "ping"}, "expect": {"body": [{"path": "jsonrpc[[[", "equals": "2.0"}]}}]}`), 0o644)
	code, stdout, stderr := runCLI(t, nil, "--fixtures", dir)
	if code != exitUsage {
		t.Errorf("exit status = %d, want 2", code)
	}
	if !strings.Contains(stderr, "/steps/0/expect/body/0/path: invalid gjson path") {
		t.Errorf("stderr = %q, want the path's pointer and problem", stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want no run", stdout)
	}
}

func TestUnknownFlagGetsOneHint(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil, "--bogus")
	want := "joai-conformance: flag provided but not defined: -bogus; run joai-conformance --help for the modes, flags and environment\n"
	if code != exitUsage || stderr != want || stdout != "" {
		t.Errorf("--bogus = %d, stdout %q, stderr %q; want 2 and stderr %q", code, stdout, stderr, want)
	}
}
