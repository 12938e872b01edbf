package conformance

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestVariablesExpand(t *testing.T) {
	vars := variables{"agent_uuid": "a-1", "limit_rpm": "20", "limit_burst": "30", "word": "x"}
	tests := []struct {
		in, want string
	}{
		{"plain", "plain"},
		{"mcp://agent/{{agent_uuid}}/info", "mcp://agent/a-1/info"},
		{"{{ agent_uuid }}", "a-1"},
		{"{{limit_rpm+limit_burst}}", "50"},
		{"{{limit_rpm + limit_burst - 5}}", "45"},
		{"{{limit_burst+1}}", "31"},
		{"{{3}}", "3"},
		{"{{filler 4}}", "xxxx"},
		{"{{agent_uuid}}{{agent_uuid}}", "a-1a-1"},
	}
	for _, tt := range tests {
		got, err := vars.expand(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if got, err := vars.expand("{{filler 1KiB}}"); err != nil || len(got) != 1024 {
		t.Errorf("expand(filler 1KiB) has length %d, %v; want 1024", len(got), err)
	}
}

func TestVariablesExpandErrors(t *testing.T) {
	vars := variables{"word": "x"}
	tests := []struct {
		in, want string
	}{
		{"{{missing}}", "undefined variable {{missing}}"},
		{"{{word+1}}", `variable word is "x", not an integer`},
		{"{{a*b}}", "invalid template expression {{a*b}}"},
		{"{{1+}}", "invalid template expression {{1+}}"},
		{"{{filler 65MiB}}", `invalid filler size "65MiB"`},
		{"{{filler lots}}", `invalid filler size "lots"`},
	}
	for _, tt := range tests {
		if _, err := vars.expand(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("expand(%q) error = %v, want one containing %q", tt.in, err, tt.want)
		}
	}
}

func TestVariablesExpandJSONKeepsStructure(t *testing.T) {
	vars := variables{"id": "mem-1", "url": "a<b>&c"}
	got, err := vars.expandJSON(json.RawMessage(`{"params": {"memoryId": "{{id}}", "n": 12345678901, "list": ["{{url}}", true, null]}}`))
	if err != nil {
		t.Fatalf("expandJSON: %v", err)
	}
	want := `{"params":{"list":["a<b>&c",true,null],"memoryId":"mem-1","n":12345678901}}`
	if string(got) != want {
		t.Errorf("expandJSON = %s, want %s", got, want)
	}
}

func TestReferences(t *testing.T) {
	got, err := references("{{a}} and {{b+c-1}} and {{filler 3MiB}}")
	if err != nil {
		t.Fatalf("references: %v", err)
	}
	if strings.Join(got, ",") != "a,b,c" {
		t.Errorf("references = %v, want [a b c]", got)
	}
}

func TestParseWait(t *testing.T) {
	vars := variables{"retry_after": "2", "date": time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), "junk": "soon"}
	tests := []struct {
		raw  string
		want time.Duration
	}{
		{`1.5`, 1500 * time.Millisecond},
		{`"{{retry_after}}"`, 2 * time.Second},
		{`"{{date}}"`, 0},
	}
	for _, tt := range tests {
		got, err := parseWait(json.RawMessage(tt.raw), vars)
		if err != nil || got != tt.want {
			t.Errorf("parseWait(%s) = %v, %v; want %v", tt.raw, got, err, tt.want)
		}
	}
	if _, err := parseWait(json.RawMessage(`"{{junk}}"`), vars); err == nil || !strings.Contains(err.Error(), "delta-seconds or an HTTP-date") {
		t.Errorf("parseWait(junk) error = %v, want one about delta-seconds", err)
	}
}
