// Command joai-bridge is the stdio MCP server that desktop MCP clients
// launch: it relays every message to a JoAi agent over HTTPS. Run
// joai-bridge --help for its flags; the work is done in package
// github.com/joai-ai/joai-mcp/bridge/cli.
package main

import (
	"context"
	"os"

	"github.com/joai-ai/joai-mcp/bridge/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}
