package conformance

import (
	"strings"
	"testing"
)

func TestCheckPathAcceptsGJSONSyntax(t *testing.T) {
	for _, path := range []string{
		"@this", "id", "error.data.httpStatus", "result.content.0.text",
		"result.tools.#(name==create_memory).description", "resources.#.uri",
		"result.contents.0.text|@fromstr|memories.0.id", `result.tools.#(name=="a.b(").x`,
		`key\.with\.dots`, "..#", "[id,jsonrpc]", `{"a":id}`, `@pretty:{"sortKeys":true}`,
	} {
		if err := checkPath(path); err != nil {
			t.Errorf("checkPath(%q) = %v, want nil", path, err)
		}
	}
}

func TestCheckPathRejectsBadSyntax(t *testing.T) {
	tests := []struct {
		path, want string
	}{
		{"", "empty"},
		{"jsonrpc[[[", `missing "]"`},
		{"result.tools.#(name==x", `missing ")"`},
		{"result)", `unbalanced ')'`},
		{"[a}", `unbalanced '}'`},
		{"a..b", "empty component"},
		{"a.", `ends in "."`},
		{".a", "empty component"},
		{"a|", `ends in "|"`},
		{`a\`, "backslash"},
		{`#(name=="x)`, "not closed"},
		{"text|@nosuchmodifier", "unknown modifier @nosuchmodifier"},
	}
	for _, tt := range tests {
		err := checkPath(tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("checkPath(%q) = %v, want an error containing %q", tt.path, err, tt.want)
		}
	}
}
