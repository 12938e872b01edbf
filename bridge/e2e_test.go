package bridge_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/joai-ai/joai-mcp/mockserver"
)

// e2eDir holds the TypeScript SDK client and its pinned dependencies.
var e2eDir = filepath.Join("..", "scripts", "e2e")

// requireE2E skips the test when Node or the SDK is missing, unless
// JOAI_REQUIRE_E2E=1, as in CI, where a missing tool is a failure.
func requireE2E(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("JOAI_REQUIRE_E2E") == "1" {
			t.Fatalf("%s, and JOAI_REQUIRE_E2E=1", what)
		}
		t.Skipf("%s; set JOAI_REQUIRE_E2E=1 to make this a failure", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	if _, err := os.Stat(filepath.Join(e2eDir, "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		missing("the TypeScript SDK is not installed: run npm ci --prefix scripts/e2e")
	}
	return node
}

func TestTypeScriptSDKEndToEnd(t *testing.T) {
	t.Parallel()
	node := requireE2E(t)
	for _, tt := range []struct {
		name string
		opts *mockserver.Options
	}{
		{name: "json-with-sessions", opts: &mockserver.Options{Sessions: true}},
		{name: "sse", opts: &mockserver.Options{SSE: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newMock(t, tt.opts)
			info := srv.Info()
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()

			// The bridge is this test binary running cli.Main, the code
			// cmd/joai-bridge runs; scripts/e2e.sh runs the built binaries.
			cmd := exec.CommandContext(ctx, node, "client.mjs", os.Args[0], "--url", srv.AgentURL(info.AgentUUID), "--log-level", "warn")
			cmd.Dir = e2eDir
			cmd.Env = append(os.Environ(), roleEnv+"=bridge", "JOAI_API_TOKEN="+info.Token)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the TypeScript client failed: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "all checks passed") {
				t.Errorf("the TypeScript client did not pass every check:\n%s", out)
			}
			if strings.Contains(string(out), info.Token) {
				t.Errorf("the token appears in the output")
			}
		})
	}
}
