package conformance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recordMock records the fixtures that run matches against a fresh mock
// and writes them to a temporary directory, which it returns.
func recordMock(t *testing.T, run string) (string, []Golden) {
	t.Helper()
	srv := startMock(t)
	res, err := Run(t.Context(), &Options{HTTP: MockHTTPTarget(srv), Record: true, Run: regexp.MustCompile(run)})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !res.OK() {
		t.Fatalf("recording run failed: %s", SummaryLine(res))
	}
	dir := t.TempDir()
	goldens := GoldenFiles(res)
	if _, err := WriteGolden(dir, goldens); err != nil {
		t.Fatalf("WriteGolden: %v", err)
	}
	return dir, goldens
}

const goldenRun = `^(tools-list|tools-call-memory-round-trip|errors-401-.*|errors-400-missing-context|ratelimit-per-minute|jsonrpc-parse-error)$`

func TestGoldenFilesAreRedactedAndTemplated(t *testing.T) {
	dir, _ := recordMock(t, goldenRun)
	srv := startMock(t)
	info := srv.Info()
	paths, err := filepath.Glob(filepath.Join(dir, "*"+GoldenSuffix))
	if err != nil || len(paths) != 9 {
		t.Fatalf("golden files = %v, %v; want 9", paths, err)
	}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{info.Token, info.RevokedToken, info.AgentUUID, srv.URL} {
			if strings.Contains(string(data), secret) {
				t.Errorf("%s contains %q, which a golden file must redact or template", filepath.Base(path), secret)
			}
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "tools-call-memory-round-trip"+GoldenSuffix))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"path": "/mcp/agents/{{agent_uuid}}"`, `"memoryId": "{{memory_id}}"`, `mcp://agent/{{agent_uuid}}/memories`, `"Bearer …` + info.Token[len(info.Token)-4:]} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the memory round trip's golden file does not contain %s:\n%s", want, data)
		}
	}
}

func TestReplayMatchesTheMock(t *testing.T) {
	dir, recorded := recordMock(t, goldenRun)
	goldens, err := ReadGolden(dir)
	if err != nil {
		t.Fatalf("ReadGolden: %v", err)
	}
	// Marshalling compacts the raw bodies, which the files indent.
	want, _ := json.Marshal(recorded)
	got, _ := json.Marshal(goldens)
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("ReadGolden differs from what was written (-want +got):\n%s", diff)
	}
	srv := startMock(t)
	res, err := Replay(t.Context(), &Options{HTTP: MockHTTPTarget(srv)}, goldens, false)
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	for _, fr := range res.Fixtures {
		if fr.Status != StatusPass {
			t.Errorf("%s", failureText(fr))
		}
	}
	if res.Passed != len(goldens) {
		t.Errorf("Replay passed %d of %d recordings", res.Passed, len(goldens))
	}
}

func TestReplayReportsDifferences(t *testing.T) {
	_, goldens := recordMock(t, `^(errors-400-missing-context|tools-list|tools-call-prompt-agent)$`)
	for i := range goldens {
		reply := goldens[i].Exchanges[0].Reply
		switch goldens[i].Fixture {
		case "errors-400-missing-context":
			reply.Body = json.RawMessage(`{"error":"missing_context","error_description":"Pick an agent"}`)
		case "tools-list":
			reply.Status = 201
		case "tools-call-prompt-agent":
			// A live agent's reply differs, and only the shape must match.
			reply.Body = json.RawMessage(strings.Replace(string(reply.Body), "Hello!", "Hi there!", 1))
		}
	}
	srv := startMock(t)
	res, err := Replay(t.Context(), &Options{HTTP: MockHTTPTarget(srv)}, goldens, false)
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	if diff := cmp.Diff([]string{"errors-400-missing-context", "tools-list"}, byStatus(res, TargetHTTP, StatusFail)); diff != "" {
		t.Fatalf("failing replays differ (-want +got):\n%s", diff)
	}
	for name, want := range map[string]string{
		"errors-400-missing-context": `"error_description": string("Pick an agent")`,
		"tools-list":                 "exchange 1 (list the tools): status 200, want 201 as recorded",
	} {
		if text := failureText(find(t, res, TargetHTTP, name)); !hasText(text, want) {
			t.Errorf("failure of %s does not contain %q:\n%s", name, want, text)
		}
	}

	res, err = Replay(t.Context(), &Options{HTTP: MockHTTPTarget(srv), Run: regexp.MustCompile(`prompt`)}, goldens, true)
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	if fr := find(t, res, TargetHTTP, "tools-call-prompt-agent"); fr.Status != StatusFail || !hasText(failureText(fr), `"i there",`) {
		t.Errorf("exact replay of a changed reply = %s, want a failure showing the text", failureText(fr))
	}
}

func TestCompareGoldenShape(t *testing.T) {
	mk := func(status int, body string, header ...string) Golden {
		r := &RecordedReply{Status: status, Body: json.RawMessage(body)}
		if len(header) > 0 {
			r.Header = map[string][]string{header[0]: {header[1]}}
		}
		return Golden{Fixture: "f", Exchanges: []Exchange{{Step: "s", Reply: r}}}
	}
	tests := []struct {
		name       string
		golden     Golden
		got        Golden
		wantSubstr string
	}{
		{"same-shape", mk(200, `{"a":"x","n":1,"l":[1,2]}`), mk(200, `{"a":"y","n":2,"l":[3,4]}`), ""},
		{"missing-key", mk(200, `{"a":"x","b":1}`), mk(200, `{"a":"y"}`), `"b"`},
		{"type-change", mk(200, `{"a":"x"}`), mk(200, `{"a":1}`), `"<number>"`},
		{"array-length", mk(200, `{"l":[1,2]}`), mk(200, `{"l":[1]}`), "bodies differ"},
		{"error-body-exact", mk(200, `{"error":{"code":-32601}}`), mk(200, `{"error":{"code":-32602}}`), "-32602"},
		{"media-type", mk(200, `{}`, "Content-Type", "application/json; charset=utf-8"), mk(200, `{}`, "Content-Type", "application/json"), ""},
		{"retry-after-presence", mk(429, `{}`, "Retry-After", "1"), mk(429, `{}`, "Retry-After", "30"), ""},
		{"retry-after-missing", mk(429, `{}`, "Retry-After", "1"), mk(429, `{}`), "Retry-After"},
		{"text-bodies", mk(400, `"not json"`), mk(400, `"other"`), "bodies differ"},
		{"extra-exchange", mk(200, `{}`), Golden{Exchanges: append(mk(200, `{}`).Exchanges, Exchange{Step: "t"})}, `2 exchanges, want 1 as recorded (["s", "t"] against ["s"])`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := CompareGolden(tt.golden, tt.got, false)
			text := strings.Join(problems, "\n")
			switch {
			case tt.wantSubstr == "" && len(problems) > 0:
				t.Errorf("CompareGolden = %s, want no difference", text)
			case tt.wantSubstr != "" && !hasText(text, tt.wantSubstr):
				t.Errorf("CompareGolden = %q, want a difference containing %q", text, tt.wantSubstr)
			}
		})
	}
}

func TestReadGoldenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadGolden(dir); err == nil || !strings.Contains(err.Error(), "no golden files") {
		t.Errorf("ReadGolden of an empty directory: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "x"+GoldenSuffix), []byte(`{"fixture": "x", "unknown": 1}`), 0o644)
	if _, err := ReadGolden(dir); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("ReadGolden of a file with an unknown field: %v", err)
	}
	missing := filepath.Join(dir, "nope")
	if _, err := ReadGolden(missing); err == nil || !strings.Contains(err.Error(), missing+" does not exist") {
		t.Errorf("ReadGolden of a missing directory: %v, want it to say it does not exist", err)
	}
	file := filepath.Join(dir, "x"+GoldenSuffix)
	if _, err := ReadGolden(file); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("ReadGolden of a file: %v, want it to say it is not a directory", err)
	}
}

func TestReplayRejectsUnknownFixture(t *testing.T) {
	srv := startMock(t)
	goldens := []Golden{{Fixture: "tools-list", Target: TargetHTTP}, {Fixture: "no-such-fixture", Target: TargetHTTP}}
	_, err := Replay(t.Context(), &Options{HTTP: MockHTTPTarget(srv)}, goldens, false)
	if err == nil || !strings.Contains(err.Error(), "no-such-fixture") {
		t.Errorf("Replay error = %v, want one naming no-such-fixture", err)
	}
	if !slices.ContainsFunc(goldens, func(g Golden) bool { return g.Fixture == "tools-list" }) {
		t.Fatal("unreachable")
	}
}
