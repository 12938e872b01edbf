package conformance

import (
	"io/fs"
	"testing"

	"github.com/joai-ai/joai-mcp/fixtures"
)

// FuzzParseFixture checks that no input makes the loader panic, and that
// a fixture it accepts can be checked against a reply.
func FuzzParseFixture(f *testing.F) {
	names, err := fs.Glob(fixtures.Conformance, "*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range names {
		data, err := fs.ReadFile(fixtures.Conformance, name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"name": "x", "description": "d", "tags": ["t"], "steps": [{"name": "s", "rpc": {"method": "{{a+}}"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fx, err := ParseFixture("fuzz.json", data)
		if err != nil {
			return
		}
		rep := &reply{Status: 200, Body: []byte(`{"jsonrpc":"2.0","id":1,"result":{}}`)}
		vars := variables{"agent_uuid": "a", "token": "t"}
		for i := range fx.Steps {
			checkExpect(&fx.Steps[i].Expect, rep, vars, TargetHTTP)
		}
	})
}
