package conformance

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sampleResult is a result with one fixture of each status.
func sampleResult() Result {
	var res Result
	res.add(FixtureResult{Name: "tools-list", File: "fixtures/tools-list.json", Target: TargetHTTP, Status: StatusPass, Duration: 3 * time.Millisecond, Tags: []string{"tools"}})
	res.add(FixtureResult{
		Name: "errors-401-no-authorization", File: "fixtures/errors-401-no-authorization.json", Target: TargetHTTP, Status: StatusFail,
		Reason: "step 1 (call tools/list): status: got 200 OK, want 401 Unauthorized", Duration: 1500 * time.Millisecond,
		Failure: &Failure{Step: 1, StepName: "call tools/list", Request: "POST http://127.0.0.1/mcp/agents/a", Reply: "HTTP 200 OK",
			Problems: []string{"status: got 200 OK, want 401 Unauthorized", "body error: value differs (-want +got):\n- a\n+ b <&>"}},
	})
	res.add(FixtureResult{Name: "errors-401-revoked-token", Target: TargetStdio, Status: StatusSkip, Reason: "target lacks revoked_token (set JOAI_REVOKED_TOKEN)"})
	res.Duration, res.Waited = 2*time.Second, time.Second
	return res
}

func TestWriteTextEndsWithSummary(t *testing.T) {
	var b bytes.Buffer
	if err := WriteText(&b, sampleResult()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if got, want := lines[len(lines)-1], "1 passed, 1 failed, 1 skipped"; got != want {
		t.Errorf("last line = %q, want %q", got, want)
	}
	if !regexp.MustCompile(`^(\d+) passed, (\d+) failed(, (\d+) skipped)?$`).MatchString(lines[len(lines)-1]) {
		t.Errorf("last line %q does not have the form CI reads", lines[len(lines)-1])
	}
	for _, want := range []string{
		"PASS  http   tools-list",
		"FAIL  http   errors-401-no-authorization",
		"1.50s  step 1 (call tools/list): status: got 200 OK, want 401 Unauthorized",
		"step 1: call tools/list (fixtures/errors-401-no-authorization.json)",
		"request:\n          POST http://127.0.0.1/mcp/agents/a",
		"  - body error: value differs (-want +got):\n          - a\n          + b <&>",
		"SKIP  stdio  errors-401-revoked-token",
		"target lacks revoked_token (set JOAI_REVOKED_TOKEN)",
		"ran 2 http + 1 stdio fixture runs in 2.00s: 1.00s in deliberate waits (Retry-After), 1.00s without them",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text report does not contain %q:\n%s", want, b.String())
		}
	}
}

func TestSummaryLineWithoutSkips(t *testing.T) {
	if got := SummaryLine(Result{Passed: 3}); got != "3 passed, 0 failed" {
		t.Errorf("SummaryLine = %q, want %q", got, "3 passed, 0 failed")
	}
}

func TestWriteJUnitIsValidXML(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, sampleResult()); err != nil {
		t.Fatal(err)
	}
	var doc JUnitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("the JUnit report is not valid XML: %v\n%s", err, b.String())
	}
	if doc.Tests != 3 || doc.Failures != 1 || doc.Skipped != 1 {
		t.Errorf("testsuites counts = %d tests, %d failures, %d skipped; want 3, 1, 1", doc.Tests, doc.Failures, doc.Skipped)
	}
	if len(doc.Suites) != 2 || doc.Suites[0].Name != "http" || doc.Suites[1].Name != "stdio" {
		t.Fatalf("suites = %+v, want http and stdio", doc.Suites)
	}
	http := doc.Suites[0]
	if http.Tests != 2 || http.Failures != 1 || http.Time != "1.503" {
		t.Errorf("http suite = %d tests, %d failures, time %s; want 2, 1, 1.503", http.Tests, http.Failures, http.Time)
	}
	failed := http.Cases[1]
	if failed.Failure == nil || failed.Failure.Message != "step 1 (call tools/list): status: got 200 OK, want 401 Unauthorized" {
		t.Fatalf("failed case = %+v, want a failure with the summary as message", failed)
	}
	if !strings.Contains(failed.Failure.Text, "+ b <&>") {
		t.Errorf("failure text %q does not keep the diff", failed.Failure.Text)
	}
	if failed.ClassName != "joai-conformance.http" || failed.File != "fixtures/errors-401-no-authorization.json" {
		t.Errorf("failed case classname %q file %q", failed.ClassName, failed.File)
	}
	if skipped := doc.Suites[1].Cases[0]; skipped.Skipped == nil || skipped.Skipped.Message == "" {
		t.Errorf("skipped case = %+v, want a skipped element with the reason", skipped)
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleResult()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Passed, Failed, Skipped int
		WaitedSeconds           float64 `json:"waited_seconds"`
		Fixtures                []struct {
			Name    string
			Target  string
			Status  string
			Failure *struct {
				Step     int
				Problems []string
			}
		}
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("the JSON report does not decode: %v", err)
	}
	if doc.Passed != 1 || doc.Failed != 1 || doc.Skipped != 1 || doc.WaitedSeconds != 1 {
		t.Errorf("counts = %+v", doc)
	}
	var statuses []string
	for _, f := range doc.Fixtures {
		statuses = append(statuses, f.Target+" "+f.Name+" "+f.Status)
	}
	want := []string{"http tools-list pass", "http errors-401-no-authorization fail", "stdio errors-401-revoked-token skip"}
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("fixtures differ (-want +got):\n%s", diff)
	}
	if f := doc.Fixtures[1].Failure; f == nil || f.Step != 1 || len(f.Problems) != 2 {
		t.Errorf("failure = %+v, want step 1 with two problems", f)
	}
}

func TestResultOK(t *testing.T) {
	if (&Result{}).OK() {
		t.Errorf("an empty result is OK, want not OK because nothing ran")
	}
	if !(&Result{Fixtures: []FixtureResult{{}}, Passed: 1}).OK() {
		t.Errorf("a passing result is not OK")
	}
	if (&Result{Fixtures: []FixtureResult{{}, {}}, Passed: 1, Failed: 1}).OK() {
		t.Errorf("a failing result is OK")
	}
	if (&Result{Fixtures: []FixtureResult{{}}, Skipped: 1}).OK() {
		t.Errorf("a result with only skipped fixtures is OK, want not OK because nothing passed")
	}
}

func TestResultErr(t *testing.T) {
	res := sampleResult()
	err := res.Err()
	if err == nil {
		t.Fatal("Err of a result with a failure is nil")
	}
	text := err.Error()
	if !strings.HasPrefix(text, "1 passed, 1 failed, 1 skipped:\n") || !strings.Contains(text, "FAIL  http   errors-401-no-authorization") || strings.Contains(text, "tools-list") {
		t.Errorf("Err = %q, want the summary and the failed fixture only", text)
	}
	ok := Result{Fixtures: []FixtureResult{{Status: StatusPass}}, Passed: 1}
	if err := ok.Err(); err != nil {
		t.Errorf("Err of a passing result = %v", err)
	}
	if err := (&Result{Skipped: 2}).Err(); err == nil || !strings.Contains(err.Error(), "no fixture passed") {
		t.Errorf("Err of a result with only skips = %v", err)
	}
}
