package cli

import (
	"context"
	"io"
)

// subcommands are the commands joai-bridge runs instead of the bridge when
// the first argument names one, such as "joai-bridge login".
var subcommands = map[string]subcommand{
	"login":  setupCommand("store an API token in the keychain, after checking it with tools/list", runLogin),
	"logout": setupCommand("remove the stored token of an agent", runLogout),
	"status": setupCommand("show where the token comes from and its last 4 characters", runStatus),
	"agents": setupCommand("list the agents of the token's team (GET /api/agents)", runAgents),
	"doctor": setupCommand("run the quick test and the troubleshooting checks, with a fix for each failure", runDoctor),
	"call":   setupCommand("call one tool: call TOOL key=value ...", runCall),
	"read":   setupCommand("read one resource: read URI, or info, character or memories", runRead),
	"config": setupCommand("print or --write the entry for claude, cursor, vscode or claude-code", runConfig),
}

// setupCommand adapts a setup subcommand to the root's dispatch.
func setupCommand(summary string, run func(*invocation) int) subcommand {
	return subcommand{
		summary: summary,
		run: func(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
			return run(&invocation{ctx: ctx, args: args, getenv: env, stdin: stdin, stdout: stdout, stderr: stderr})
		},
	}
}
