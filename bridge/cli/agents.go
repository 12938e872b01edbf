package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"
)

const agentsUsage = "agents [--json] [--agent UUID] [--mock-url URL] [--token-file FILE | --token-command CMD]"

// agentInfo is one agent from the discovery endpoint.
type agentInfo struct {
	UUID        string `json:"uuid"`
	Name        string `json:"name"`
	Team        string `json:"team"`
	Description string `json:"description"`
}

// runAgents lists the agents of the token's team through the discovery
// endpoint, GET {JOAI_API_URL}/api/agents.
func runAgents(inv *invocation) int {
	fs := flag.NewFlagSet("agents", flag.ContinueOnError)
	resolve := targetFlags(fs, inv)
	asJSON := fs.Bool("json", false, "print the service's reply as JSON instead of a table")
	if ok, code := parseFlags(fs, inv, agentsUsage); !ok {
		return code
	}
	t, err := resolve()
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}
	tok, code := inv.token(t)
	if code != exitOK {
		return code
	}
	client, err := newHTTPClient(t.caFile)
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(inv.ctx, defaultRequestTimeout)
	defer cancel()

	rc := &rpcClient{http: client, token: tok}
	body, err := rc.get(ctx, t.apiURL+"/api/agents")
	if err != nil {
		inv.errorf("listing agents at %s/api/agents failed: %s", t.apiURL, explain(err, t))
		return exitFailed
	}
	agents, err := parseAgents(body)
	if err != nil {
		inv.errorf("the reply of %s/api/agents is not an agent list: %v", t.apiURL, err)
		return exitFailed
	}
	if *asJSON {
		var out bytes.Buffer
		if json.Indent(&out, bytes.TrimSpace(body), "", "  ") != nil {
			out.Reset()
			out.Write(body)
		}
		out.WriteByte('\n')
		inv.stdout.Write(out.Bytes())
		return exitOK
	}
	if len(agents) == 0 {
		inv.printf("The token's team has no agents.\n")
		return exitOK
	}
	writeAgentTable(inv.stdout, agents)
	if t.agent == "" {
		inv.printf("\nNext: joai-bridge login --agent UUID\n")
	}
	return exitOK
}

// listAgents returns the agents the token's team has.
func listAgents(ctx context.Context, client *http.Client, t *target, tok string) ([]agentInfo, error) {
	rc := &rpcClient{http: client, token: tok}
	body, err := rc.get(ctx, t.apiURL+"/api/agents")
	if err != nil {
		return nil, err
	}
	return parseAgents(body)
}

// parseAgents reads a discovery reply. The JoAi API documentation does not
// give its shape. The mock sends {"agents": [...]}, and a bare array or a
// "data" array are accepted as well. "id" replaces a missing "uuid".
func parseAgents(body []byte) ([]agentInfo, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var wrapped struct {
			Agents []json.RawMessage `json:"agents"`
			Data   []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &wrapped); err != nil {
			return nil, err
		}
		raw = append(wrapped.Agents, wrapped.Data...)
	}
	agents := make([]agentInfo, 0, len(raw))
	for _, r := range raw {
		var a struct {
			agentInfo
			ID          string `json:"id"`
			Description any    `json:"description"`
		}
		if err := json.Unmarshal(r, &a); err != nil {
			return nil, err
		}
		a.agentInfo.UUID = cmpOr(a.agentInfo.UUID, a.ID)
		if s, ok := a.Description.(string); ok {
			a.agentInfo.Description = s
		}
		agents = append(agents, a.agentInfo)
	}
	return agents, nil
}

// writeAgentTable prints agents as aligned columns.
func writeAgentTable(w io.Writer, agents []agentInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UUID\tNAME\tTEAM\tDESCRIPTION")
	for _, a := range agents {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cell(a.UUID, 36), cell(a.Name, 40), cell(a.Team, 24), cell(a.Description, 60))
	}
	tw.Flush()
}

// cell returns s on one line, cut to n characters, for a table. Control
// characters are dropped, so a name cannot send escape sequences to the
// terminal.
func cell(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n-1]) + "…"
	}
	return s
}
