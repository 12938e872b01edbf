package conformance

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

const sampleBody = `{"jsonrpc":"2.0","id":1,"result":{
  "tools":[{"name":"a","n":1},{"name":"b","n":2.5}],
  "text":"héllo world","count":3,"flag":true,"none":null,"obj":{"k":"v","k2":2},
  "inner":"{\"memories\":[{\"id\":\"m1\"}]}"}}`

func TestCheckAssertion(t *testing.T) {
	vars := variables{"who": "world", "three": "3"}
	tests := []struct {
		name      string
		assertion string
		want      string // "" when the assertion must hold
	}{
		{"equals-object", `{"path": "result.obj", "equals": {"k2": 2.0, "k": "v"}}`, ""},
		{"equals-template", `{"path": "result.text", "equals": "héllo {{who}}"}`, ""},
		{"equals-null", `{"path": "result.none", "equals": null}`, ""},
		{"equals-diff-names-field", `{"path": "result.obj", "equals": {"k": "w", "k2": 2}}`, `+ "k": string("v")`},
		{"equals-ordered", `{"path": "result.tools.#.name", "equals": ["b", "a"]}`, "value differs"},
		{"equals-unordered", `{"path": "result.tools.#.name", "equals": ["b", "a"], "unordered": true}`, ""},
		{"equals-unordered-missing", `{"path": "result.tools.#.name", "equals": ["a", "b", "c"], "unordered": true}`, `string("c")`},
		{"query", `{"path": "result.tools.#(name==b).n", "equals": 2.5}`, ""},
		{"fromstr", `{"path": "result.inner|@fromstr|memories.0.id", "equals": "m1"}`, ""},
		{"whole-body", `{"path": "@this", "exists": true}`, ""},
		{"exists", `{"path": "result.none", "exists": true}`, ""},
		{"exists-missing", `{"path": "result.nothing", "exists": true}`, "no value at this path, want a value"},
		{"absent", `{"path": "error", "absent": true}`, ""},
		{"absent-present", `{"path": "result.count", "absent": true}`, "got 3, want no value"},
		{"type-string", `{"path": "result.text", "type": "string"}`, ""},
		{"type-integer", `{"path": "result.count", "type": "integer"}`, ""},
		{"type-number-accepts-integer", `{"path": "result.count", "type": "number"}`, ""},
		{"type-integer-rejects-fraction", `{"path": "result.tools.1.n", "type": "integer"}`, "got a value of type number (2.5), want type integer"},
		{"type-boolean", `{"path": "result.flag", "type": "boolean"}`, ""},
		{"type-null", `{"path": "result.none", "type": "null"}`, ""},
		{"type-array", `{"path": "result.tools", "type": "array"}`, ""},
		{"type-object", `{"path": "result.obj", "type": "object"}`, ""},
		{"type-wrong", `{"path": "result.obj", "type": "array"}`, "got a value of type object"},
		{"matches", `{"path": "result.text", "matches": "^h.llo"}`, ""},
		{"matches-number-as-json", `{"path": "result.count", "matches": "^3$"}`, ""},
		{"matches-fails", `{"path": "result.text", "matches": "^bye"}`, `got "héllo world", want a value matching ^bye`},
		{"contains-substring", `{"path": "result.text", "contains": "{{who}}"}`, ""},
		{"contains-substring-fails", `{"path": "result.text", "contains": "moon"}`, `want a string containing "moon"`},
		{"contains-element", `{"path": "result.tools.#.name", "contains": "b"}`, ""},
		{"contains-object-element", `{"path": "result.tools", "contains": {"name": "a", "n": 1}}`, ""},
		{"contains-element-fails", `{"path": "result.tools.#.name", "contains": "z"}`, `want an array with the element "z"`},
		{"contains-key", `{"path": "result.obj", "contains": "k2"}`, ""},
		{"contains-key-fails", `{"path": "result.obj", "contains": "k3"}`, `want an object with the key "k3"`},
		{"contains-number-fails", `{"path": "result.count", "contains": "3"}`, "which contains nothing"},
		{"length-exact", `{"path": "result.tools", "length": 2}`, ""},
		{"length-runes", `{"path": "result.text", "length": 11}`, ""},
		{"length-keys", `{"path": "result.obj", "length": {"min": 2, "max": 2}}`, ""},
		{"length-template", `{"path": "result.tools", "length": {"max": "{{three}}"}}`, ""},
		{"length-too-short", `{"path": "result.tools", "length": {"min": 3}}`, "length 2: want at least 3"},
		{"length-exact-fails", `{"path": "result.tools", "length": 1}`, "length 2: want exactly 1"},
		{"length-of-number", `{"path": "result.count", "length": 1}`, "which has no length"},
		{"range", `{"path": "result.count", "min": 1, "max": "{{three}}"}`, ""},
		{"range-below", `{"path": "result.count", "min": 4}`, "got 3, want at least 4"},
		{"range-above", `{"path": "result.tools.1.n", "max": 2}`, "got 2.5, want at most 2"},
		{"range-not-number", `{"path": "result.text", "min": 1}`, "want a number"},
		{"missing-path", `{"path": "result.nope", "equals": {"a": 1}}`, `no value at this path, want {"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a Assertion
			if err := json.Unmarshal([]byte(tt.assertion), &a); err != nil {
				t.Fatal(err)
			}
			mm := checkAssertion(&a, []byte(sampleBody), vars)
			switch {
			case tt.want == "" && len(mm) > 0:
				t.Errorf("checkAssertion = %v, want no mismatch", mm)
			case tt.want != "" && len(mm) == 0:
				t.Errorf("checkAssertion found no mismatch, want one containing %q", tt.want)
			case tt.want != "" && !hasText(mm[0].String(), tt.want):
				t.Errorf("checkAssertion = %q, want one containing %q", mm[0].String(), tt.want)
			}
		})
	}
}

func TestCheckAssertionOnNonJSONBody(t *testing.T) {
	mm := checkAssertion(&Assertion{Path: "id", Exists: true}, []byte("<html>oops</html>"), nil)
	if len(mm) != 1 || !strings.Contains(mm[0].String(), "the body is not JSON: <html>oops</html>") {
		t.Errorf("checkAssertion = %v, want one mismatch about a body that is not JSON", mm)
	}
}

func TestCheckHeader(t *testing.T) {
	h := http.Header{"Www-Authenticate": {"Bearer realm=\"joai\""}, "Retry-After": {"12"}, "Content-Type": {"application/json; charset=utf-8"}}
	str := func(s string) *string { return &s }
	tests := []struct {
		name   string
		header string
		expect HeaderExpect
		want   string
	}{
		{"equals", "Retry-After", HeaderExpect{Equals: str("12")}, ""},
		{"equals-template", "Retry-After", HeaderExpect{Equals: str("{{n}}")}, ""},
		{"equals-fails", "Retry-After", HeaderExpect{Equals: str("13")}, "header Retry-After: value differs"},
		{"prefix", "Content-Type", HeaderExpect{Prefix: "application/json"}, ""},
		{"prefix-fails", "Content-Type", HeaderExpect{Prefix: "text/"}, `want a value starting with "text/"`},
		{"matches", "www-authenticate", HeaderExpect{Matches: "^Bearer( |$)"}, ""},
		{"matches-fails", "Retry-After", HeaderExpect{Matches: "^[a-z]+$"}, `got "12", want a value matching ^[a-z]+$`},
		{"missing", "X-Missing", HeaderExpect{Matches: "^[0-9]+$"}, "header X-Missing: missing, want a value matching ^[0-9]+$"},
		{"absent", "X-Missing", HeaderExpect{Absent: true}, ""},
		{"absent-fails", "Retry-After", HeaderExpect{Absent: true}, `got "12", want no such header`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mm := checkHeader(tt.header, &tt.expect, h, variables{"n": "12"})
			switch {
			case tt.want == "" && len(mm) > 0:
				t.Errorf("checkHeader = %v, want no mismatch", mm)
			case tt.want != "" && (len(mm) == 0 || !strings.Contains(mm[0].String(), tt.want)):
				t.Errorf("checkHeader = %v, want a mismatch containing %q", mm, tt.want)
			}
		})
	}
}

func TestCheckExpectSkipsHTTPOnStdio(t *testing.T) {
	e := &Expect{Status: StatusSet{200}, Headers: map[string]HeaderExpect{"Retry-After": {Absent: true}}}
	rep := &reply{Status: 500, Header: http.Header{"Retry-After": {"1"}}, Body: []byte(`{}`)}
	if mm := checkExpect(e, rep, nil, TargetStdio); len(mm) != 0 {
		t.Errorf("checkExpect on stdio = %v, want status and headers unchecked", mm)
	}
	mm := checkExpect(e, rep, nil, TargetHTTP)
	if len(mm) != 2 || mm[0].String() != "status: got 500 Internal Server Error, want 200 OK" {
		t.Errorf("checkExpect on http = %v, want the status and the header", mm)
	}
	e.Status = StatusSet{200, 400}
	if mm := checkExpect(e, rep, nil, TargetHTTP); mm[0].String() != "status: got 500 Internal Server Error, want one of [200 400]" {
		t.Errorf("checkExpect with two statuses = %v", mm)
	}
}

func TestCapture(t *testing.T) {
	rep := &reply{Header: http.Header{"Retry-After": {"7"}}, Body: []byte(`{"result":{"content":[{"text":"Created memory \"mem-42\"."}]}}`)}
	tests := []struct {
		c    Capture
		want string
	}{
		{Capture{Header: "retry-after"}, "7"},
		{Capture{Path: "result.content.0.text"}, `Created memory "mem-42".`},
		{Capture{Path: "result.content.0.text", Pattern: `"(mem-[0-9]+)"`}, "mem-42"},
	}
	for _, tt := range tests {
		if got, err := capture(tt.c, rep); err != nil || got != tt.want {
			t.Errorf("capture(%+v) = %q, %v; want %q", tt.c, got, err, tt.want)
		}
	}
	for _, c := range []Capture{{Header: "X-None"}, {Path: "result.none"}, {Path: "result.content.0.text", Pattern: `(id-\d+)`}} {
		if _, err := capture(c, rep); err == nil {
			t.Errorf("capture(%+v) succeeded, want an error", c)
		}
	}
}
