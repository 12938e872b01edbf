package conformance_test

import (
	"context"
	"fmt"
	"regexp"

	"github.com/joai-ai/joai-mcp/conformance"
)

// ExampleRun runs two fixtures against an embedded mock and prints the
// summary line that CI reads.
func ExampleRun() {
	srv := conformance.NewMock(nil)
	defer srv.Close()

	res, err := conformance.Run(context.Background(), &conformance.Options{
		HTTP: conformance.MockHTTPTarget(srv),
		Run:  regexp.MustCompile(`^(tools-list|errors-401-no-authorization)$`),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(conformance.SummaryLine(res))
	// Output: 2 passed, 0 failed
}

// ExampleParseFixture shows the error for a fixture with a mistake: the
// file, the field as a JSON pointer, and the problem.
func ExampleParseFixture() {
	_, err := conformance.ParseFixture("fixtures/ping.json", []byte(`{
	  "name": "ping", "description": "ping returns an empty result", "tags": ["lifecycle"],
	  "steps": [{"name": "ping", "rpc": {"jsonrpc": "2.0", "id": 1, "method": "ping"},
	             "expect": {"body": [{"path": "result", "equal": {}}]}}]}`))
	fmt.Println(err)
	// Output: fixtures/ping.json: /steps/0/expect/body/0: additional properties 'equal' not allowed
}
