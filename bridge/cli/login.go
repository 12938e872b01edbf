package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/joai-ai/joai-mcp/bridge/credentials"
	"github.com/joai-ai/joai-mcp/internal/redact"
)

const loginUsage = "login [--agent UUID] [--mock-url URL] [--no-verify] < token"

// runLogin reads a token, checks it against the agent endpoint with the
// reference's quick test (tools/list), and stores it in the keychain or the
// fallback file.
func runLogin(inv *invocation) int {
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	resolve := targetFlags(fs, inv)
	noVerify := fs.Bool("no-verify", false, "store the token without checking it against the service")
	if ok, code := parseFlags(fs, inv, loginUsage); !ok {
		return code
	}
	if fs.NArg() > 0 {
		inv.errorf("login takes no arguments, and never the token on the command line, where other users can see it: paste it when asked, or pipe it in")
		return exitUsage
	}
	t, err := resolve()
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}
	if t.tokenFile != "" || t.tokenCommand != "" {
		inv.errorf("login stores a token you paste; with --token-file or --token-command the bridge reads the token there and needs no login")
		return exitUsage
	}
	store, err := inv.store()
	if err != nil {
		inv.errorf("%v", err)
		return exitFailed
	}

	tok, err := readToken(inv)
	if err != nil {
		inv.errorf("%v", err)
		return exitFailed
	}
	ctx, cancel := context.WithTimeout(inv.ctx, defaultRequestTimeout)
	defer cancel()
	client, err := newHTTPClient(t.caFile)
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}

	if t.agentFromLastLogin {
		// The new token may belong to another team, whose agents only
		// the discovery endpoint lists.
		t.agent = ""
	}
	if t.agent == "" {
		agent, err := pickAgent(ctx, inv, client, t, tok)
		if err != nil {
			inv.errorf("%v", err)
			return exitFailed
		}
		t.agent = agent
	}
	if !*noVerify {
		rc := &rpcClient{http: client, url: t.endpoint(), token: tok}
		result, err := rc.request(ctx, "tools/list", nil)
		if err != nil {
			inv.errorf("the token was not stored, because the quick test (tools/list on %s) failed: %s", t.endpoint(), explain(err, t))
			return exitFailed
		}
		inv.printf("Token %s works: %s lists %s.\n", redact.Token(tok), t.endpoint(), describeTools(result))
	}

	saved, err := store.Save(t.endpoint(), tok)
	if err != nil {
		inv.errorf("storing the token: %v", err)
		return exitFailed
	}
	if saved.KeychainError != nil {
		inv.printf("No usable keychain (%v).\nThe token is stored in %s instead, readable only by you (mode 0600).\n", saved.KeychainError, saved.Location)
	} else {
		inv.printf("The token is stored in %s (service %s, account %s).\n", saved.Location, credentials.Service, t.endpoint())
	}

	s := inv.loadSettings()
	s.Agents[t.baseURL] = t.agent
	if err := inv.saveSettings(s); err != nil {
		inv.errorf("%v (the token is stored; pass --agent %s to other commands)", err, t.agent)
	}
	inv.printf("Agent %s is now the default for %s.\nNext: joai-bridge config claude --write\n", t.agent, t.baseURL)
	return exitOK
}

// maxTokenInput bounds what login reads from a pipe.
const maxTokenInput = 64 << 10

// readToken reads the token without echo from a terminal, or as the first
// line of standard input otherwise. Only the line ending is removed; any
// other stray character is rejected by credentials.Check.
func readToken(inv *invocation) (string, error) {
	if f, ok := inv.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(inv.stderr, "Paste the API token (Agent Settings > Apps or Integrations > API Tokens); it is not shown: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(inv.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the token from the terminal: %w", err)
		}
		return checkedToken(string(b))
	}

	r := bufio.NewReader(io.LimitReader(inv.stdin, maxTokenInput))
	line, err := r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the token from standard input: %w", err)
	}
	rest, _ := io.ReadAll(r)
	if len(bytes.TrimSpace(rest)) > 0 {
		return "", errors.New("standard input has more than one line: give the token alone, on one line")
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no token on standard input: paste it in a terminal, or pipe it in, for example joai-bridge login --agent UUID < token.txt")
	}
	return checkedToken(line)
}

func checkedToken(tok string) (string, error) {
	if err := credentials.Check(tok); err != nil {
		return "", fmt.Errorf("the token was not stored: %w", err)
	}
	return tok, nil
}

// pickAgent asks the discovery endpoint which agents the token's team has,
// and returns the only one. With several, the user must choose.
func pickAgent(ctx context.Context, inv *invocation, client *http.Client, t *target, tok string) (string, error) {
	agents, err := listAgents(ctx, client, t, tok)
	if err != nil {
		return "", fmt.Errorf("no --agent given, and listing the team's agents failed: %s", explain(err, t))
	}
	switch len(agents) {
	case 0:
		return "", errors.New("no --agent given, and the token's team has no agents: create one, then run login again")
	case 1:
		inv.printf("Using the team's only agent, %s (%s).\n", agents[0].Name, agents[0].UUID)
		return agents[0].UUID, nil
	}
	var b strings.Builder
	writeAgentTable(&b, agents)
	return "", fmt.Errorf("the token's team has %d agents; run login again with --agent UUID, one of:\n%s", len(agents), b.String())
}

// describeTools returns the tool names in a tools/list result, such as
// "3 tools (prompt_agent, create_memory, update_memory)".
func describeTools(result json.RawMessage) string {
	names := toolNames(result)
	if len(names) == 1 {
		return "1 tool (" + names[0] + ")"
	}
	return fmt.Sprintf("%d tools (%s)", len(names), strings.Join(names, ", "))
}

func toolNames(result json.RawMessage) []string {
	var r struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	json.Unmarshal(result, &r)
	names := make([]string, 0, len(r.Tools))
	for _, tool := range r.Tools {
		names = append(names, tool.Name)
	}
	return names
}

const logoutUsage = "logout [--agent UUID] [--mock-url URL]"

// runLogout removes the agent's token from the keychain and the fallback
// file.
func runLogout(inv *invocation) int {
	fs := flag.NewFlagSet("logout", flag.ContinueOnError)
	resolve := targetFlags(fs, inv)
	if ok, code := parseFlags(fs, inv, logoutUsage); !ok {
		return code
	}
	t, err := resolve()
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}
	if t.agent == "" {
		inv.errorf("no agent given and no earlier login: pass --agent UUID")
		return exitUsage
	}
	store, err := inv.store()
	if err != nil {
		inv.errorf("%v", err)
		return exitFailed
	}
	removed, err := store.Delete(t.endpoint())
	if err != nil {
		inv.errorf("%v", err)
		return exitFailed
	}
	if len(removed) == 0 {
		inv.printf("No token was stored for %s.\n", t.endpoint())
	}
	for _, loc := range removed {
		inv.printf("Removed the token for %s from %s.\n", t.endpoint(), loc)
	}

	s := inv.loadSettings()
	if s.Agents[t.baseURL] == t.agent {
		delete(s.Agents, t.baseURL)
		if err := inv.saveSettings(s); err != nil {
			inv.errorf("%v", err)
			return exitFailed
		}
	}
	if inv.getenv(envToken) != "" {
		inv.printf("%s is still set in this environment and is used before any stored token.\n", envToken)
	}
	return exitOK
}
