package conformance

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultFixturesLoad(t *testing.T) {
	list, err := DefaultFixtures()
	if err != nil {
		t.Fatalf("DefaultFixtures: %v", err)
	}
	names := map[string]bool{}
	for _, f := range list {
		names[f.Name] = true
		if f.File != "fixtures/"+f.Name+".json" {
			t.Errorf("fixture %s is in %s, want fixtures/%s.json", f.Name, f.File, f.Name)
		}
		if len(f.Targets) == 0 {
			t.Errorf("fixture %s runs on no target", f.Name)
		}
	}
	// The behaviours the suite must cover, each by a fixture of its own.
	for _, want := range []string{
		"tools-list", "tools-call-prompt-agent", "tools-call-memory-round-trip", "tools-call-update-memory-unknown-id",
		"resources-list", "resources-read-info", "resources-read-character", "resources-read-memories", "resources-read-unknown-uri",
		"get-listing", "lifecycle-initialize-and-ping",
		"errors-401-no-authorization", "errors-401-wrong-scheme", "errors-401-unknown-token", "errors-401-revoked-token",
		"errors-400-missing-context", "errors-404-unknown-agent", "errors-404-other-team-agent",
		"ratelimit-per-minute", "ratelimit-concurrency", "ratelimit-burst", "ratelimit-retry-after-honest",
		"jsonrpc-parse-error", "jsonrpc-invalid-request", "jsonrpc-method-not-found", "jsonrpc-invalid-params",
		"bridge-upstream-400", "bridge-upstream-401", "bridge-upstream-403", "bridge-upstream-404",
		"bridge-upstream-429", "bridge-upstream-500", "bridge-upstream-503",
		"bridge-framing-crlf", "bridge-framing-blank-lines", "bridge-framing-large-message",
		"bridge-framing-batch", "bridge-framing-parse-error",
	} {
		if !names[want] {
			t.Errorf("no fixture named %s", want)
		}
	}
}

func TestLoadSkipsSeedAndSchemas(t *testing.T) {
	fsys := fstest.MapFS{
		"seed.json":         {Data: []byte(`{"agents": []}`)},
		"other.schema.json": {Data: []byte(`{"type": "object"}`)},
		"ping.json":         {Data: []byte(minimalFixture("ping"))},
		"README.md":         {Data: []byte("# not a fixture")},
	}
	list, err := Load(fsys)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(list) != 1 || list[0].Name != "ping" {
		t.Errorf("Load = %v, want only the ping fixture", list)
	}
}

func TestLoadRejectsDuplicateNames(t *testing.T) {
	fsys := fstest.MapFS{
		"a.json": {Data: []byte(minimalFixture("same"))},
		"b.json": {Data: []byte(minimalFixture("same"))},
	}
	_, err := Load(fsys)
	want := `fixtures/b.json: /name: fixture name "same" is already used by fixtures/a.json`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Load error = %v, want one containing %q", err, want)
	}
}

func TestLoadRejectsEmptyDirectory(t *testing.T) {
	if _, err := Load(fstest.MapFS{"seed.json": {Data: []byte(`{}`)}}); err == nil {
		t.Errorf("Load of a directory without fixtures succeeded")
	}
}

// minimalFixture returns a valid fixture with one ping step.
func minimalFixture(name string) string {
	return `{"name": "` + name + `", "description": "d", "tags": ["t"],
	  "steps": [{"name": "ping", "rpc": {"jsonrpc": "2.0", "id": 1, "method": "ping"}}]}`
}

func TestParseFixtureRejectsBadFixtures(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{
			name: "invalid-json",
			text: "{\n  \"name\": \"x\",\n  \"tags\": [,]\n}",
			want: []string{"bad.json: invalid JSON at line 3, column 12"},
		},
		{
			name: "missing-steps",
			text: `{"name": "x", "description": "d", "tags": ["t"]}`,
			want: []string{"bad.json: /: missing property 'steps'"},
		},
		{
			name: "status-of-wrong-type",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "ping"}, "expect": {"status": "200"}}]}`,
			want: []string{"bad.json: /steps/0/expect/status: "},
		},
		{
			name: "unknown-field",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "ping"}, "expct": {}}]}`,
			want: []string{"bad.json: /steps/0: additional properties 'expct' not allowed"},
		},
		{
			name: "bad-name",
			text: `{"name": "Has Spaces", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "ping"}}]}`,
			want: []string{"bad.json: /name: "},
		},
		{
			name: "unknown-capability",
			text: `{"name": "x", "description": "d", "tags": ["t"], "needs": ["root"], "steps": [{"name": "s", "rpc": {"method": "ping"}}]}`,
			want: []string{"bad.json: /needs/0: "},
		},
		{
			name: "assertion-without-check",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "ping"}, "expect": {"body": [{"path": "id"}]}}]}`,
			want: []string{"bad.json: /steps/0/expect/body/0: minProperties"},
		},
		{
			name: "invalid-gjson-path",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "ping"}, "expect": {"body": [{"path": "jsonrpc[[[", "exists": true}]}, "capture": {"v": "result..x"}}]}`,
			want: []string{
				`bad.json: /steps/0/expect/body/0/path: invalid gjson path: path "jsonrpc[[[" is missing "]" at its end`,
				`bad.json: /steps/0/capture/v/path: invalid gjson path: path "result..x" has an empty component`,
			},
		},
		{
			name: "no-request",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "s"}]}`,
			want: []string{"bad.json: /steps/0: a step needs a request: rpc, http, or stdio"},
		},
		{
			name: "stdio-and-rpc",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "ping"}, "stdio": {"write": "x\n"}}]}`,
			want: []string{"bad.json: /steps/0: a step has either stdio or rpc/http, not both"},
		},
		{
			name: "bad-regexp",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "ping"}, "expect": {"body": [{"path": "id", "matches": "("}]}}]}`,
			want: []string{"bad.json: /steps/0/expect/body/0/matches: invalid regular expression"},
		},
		{
			name: "capture-pattern-without-group",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "ping"}, "capture": {"v": {"path": "id", "pattern": "[0-9]+"}}}]}`,
			want: []string{"bad.json: /steps/0/capture/v/pattern: a capture pattern needs one group"},
		},
		{
			name: "undefined-variable",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "ping", "params": {"id": "{{memory_id}}"}}}]}`,
			want: []string{"bad.json: /steps/0/rpc/params/id: undefined variable {{memory_id}}"},
		},
		{
			name: "capture-used-before-it-is-made",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [
			  {"name": "a", "rpc": {"method": "ping", "params": {"id": "{{v}}"}}},
			  {"name": "b", "rpc": {"method": "ping"}, "capture": {"v": "id"}}]}`,
			want: []string{"bad.json: /steps/0/rpc/params/id: undefined variable {{v}}"},
		},
		{
			name: "capability-variable-without-need",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "ping"}, "http": {"headers": {"Authorization": "Bearer {{revoked_token}}"}}}]}`,
			want: []string{`bad.json: /steps/0/http/headers/Authorization: {{revoked_token}} needs the revoked_token capability: add "revoked_token" to needs`},
		},
		{
			name: "bad-template-expression",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "ping", "params": {"n": "{{limit_rpm*2}}"}}}]}`,
			want: []string{`bad.json: /steps/0/rpc/params/n: invalid template expression {{limit_rpm*2}}`},
		},
		{
			name: "fault-without-need",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "s", "fault": {"status": 500}, "rpc": {"method": "ping"}}]}`,
			want: []string{`bad.json: /steps/0/fault: a step with a fault needs the faults capability`},
		},
		{
			name: "stdio-step-on-http-target",
			text: `{"name": "x", "description": "d", "tags": ["t"], "targets": ["http"], "steps": [{"name": "s", "stdio": {"write": "x\n"}}]}`,
			want: []string{`bad.json: /targets/0: x cannot run on http targets because step 0 (s) runs only on stdio`},
		},
		{
			name: "mixed-steps",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "a", "stdio": {"write": "x\n"}}, {"name": "b", "http": {"method": "GET"}}]}`,
			want: []string{`bad.json: /steps: the steps mix HTTP-only and stdio-only requests`},
		},
		{
			name: "concurrent-with-expect",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "ping"}, "expect": {"status": 200},
			  "concurrent": {"count": 2, "groups": [{"name": "ok", "count": 2}]}}]}`,
			want: []string{`bad.json: /steps/0/expect: a concurrent step checks its replies with concurrent.groups`},
		},
		{
			name: "repeat-until-only-http-on-stdio",
			text: `{"name": "x", "description": "d", "tags": ["t"], "targets": ["stdio"], "steps": [{"name": "s", "rpc": {"method": "ping"}, "repeat": {"max": 3, "until": {"status": 429}}}]}`,
			want: []string{`bad.json: /steps/0/repeat/until: on stdio targets only body assertions are checked`},
		},
		{
			name: "invalid-timeout",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "ping"}, "timeout": "0s"}]}`,
			want: []string{`bad.json: /steps/0/timeout: invalid duration "0s"`},
		},
		{
			name: "two-problems",
			text: `{"name": "x", "description": "d", "tags": ["t"], "steps": [
			  {"name": "a", "rpc": {"method": "ping", "params": {"id": "{{nope}}"}}},
			  {"name": "b", "rpc": {"method": "ping"}, "expect": {"body": [{"path": "id", "matches": "["}]}}]}`,
			want: []string{"bad.json: /steps/0/rpc/params/id: undefined variable {{nope}}", "bad.json: /steps/1/expect/body/0/matches: invalid regular expression"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFixture("bad.json", []byte(tt.text))
			if err == nil {
				t.Fatalf("ParseFixture succeeded, want an error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("ParseFixture error =\n%v\nwant one containing %q", err, want)
				}
			}
		})
	}
}

func TestParseFixtureDefaults(t *testing.T) {
	f, err := ParseFixture("f.json", []byte(`{"name": "x", "description": "d", "tags": ["t"], "steps": [
	  {"name": "a", "rpc": {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}, "capture": {"id": "result.id", "ra": {"header": "Retry-After"}},
	   "expect": {"status": [200, 202], "body": [{"path": "result", "length": 2}, {"path": "x", "length": {"min": 1}}]}},
	  {"name": "b", "rpc": {"jsonrpc": "2.0", "id": 2, "method": "x", "params": {"id": "{{id}}", "n": "{{limit_rpm+1}}"}}}],
	  "needs": ["limits"]}`))
	if err != nil {
		t.Fatalf("ParseFixture: %v", err)
	}
	if diff := cmp.Diff([]TargetKind{TargetHTTP, TargetStdio}, f.Targets); diff != "" {
		t.Errorf("Targets differ (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(StatusSet{200, 202}, f.Steps[0].Expect.Status); diff != "" {
		t.Errorf("Status differs (-want +got):\n%s", diff)
	}
	wantCapture := map[string]Capture{"id": {Path: "result.id"}, "ra": {Header: "Retry-After"}}
	if diff := cmp.Diff(wantCapture, f.Steps[0].Capture); diff != "" {
		t.Errorf("Capture differs (-want +got):\n%s", diff)
	}
	if got := string(f.Steps[0].Expect.Body[0].Length.Min) + "," + string(f.Steps[0].Expect.Body[0].Length.Max); got != "2,2" {
		t.Errorf("exact length = %s, want 2,2", got)
	}
	if got := f.Steps[0].Expect.Body[1].Length.Max; got != nil {
		t.Errorf("min-only length has Max %s, want nil", got)
	}
}
