package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const callUsage = "call [flags] TOOL [key=value | key:=json ...]"

// runCall calls one tool of the agent and prints its result. A key=value
// argument is a string, unless the tool's input schema gives the property
// another type. A key:=json argument is a JSON value as written.
func runCall(inv *invocation) int {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	resolve := targetFlags(fs, inv)
	asJSON := fs.Bool("json", false, "print the tools/call result as JSON")
	if ok, code := parseFlags(fs, inv, callUsage); !ok {
		return code
	}
	positional, err := reparse(fs)
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}
	if len(positional) == 0 {
		inv.errorf("no tool named: joai-bridge %s (for example: call prompt_agent message=hello)", callUsage)
		return exitUsage
	}
	tool, pairs := positional[0], positional[1:]
	t, err := resolve()
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}

	ctx, cancel := context.WithTimeout(inv.ctx, defaultCallTimeout)
	defer cancel()
	rc, code := inv.session(ctx, t)
	if code != exitOK {
		return code
	}
	list, err := rc.request(ctx, "tools/list", nil)
	if err != nil {
		inv.errorf("tools/list on %s failed: %s", t.endpoint(), explain(err, t))
		return exitFailed
	}
	schema, ok := toolSchema(list, tool)
	if !ok {
		inv.errorf("the agent has no tool %q: it has %s", tool, strings.Join(toolNames(list), ", "))
		return exitUsage
	}
	args, err := toolArguments(pairs, schema)
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}

	result, err := rc.request(ctx, "tools/call", map[string]any{"name": tool, "arguments": args})
	if err != nil {
		inv.errorf("tools/call %s failed: %s", tool, explain(err, t))
		return exitFailed
	}
	var r struct {
		Content []contentItem `json:"content"`
		IsError bool          `json:"isError"`
	}
	if err := json.Unmarshal(result, &r); err != nil {
		inv.errorf("the tools/call result is not a tool result: %v", err)
		return exitFailed
	}
	if *asJSON {
		writeJSON(inv, result)
	} else {
		for _, c := range r.Content {
			inv.printf("%s\n", c.text())
		}
	}
	if r.IsError {
		inv.errorf("the tool %s reported an error (isError is true)", tool)
		return exitFailed
	}
	return exitOK
}

// defaultCallTimeout bounds a one-shot call, because prompt_agent waits for
// the agent's reply, which can take minutes.
const defaultCallTimeout = 5 * time.Minute

// reparse collects positional arguments, parsing any flags that follow
// them, so that "call prompt_agent message=hi --json" works.
func reparse(fs *flag.FlagSet) ([]string, error) {
	var positional []string
	rest := fs.Args()
	for len(rest) > 0 {
		if strings.HasPrefix(rest[0], "-") && rest[0] != "-" {
			if err := fs.Parse(rest); err != nil {
				return nil, err
			}
			rest = fs.Args()
			continue
		}
		positional = append(positional, rest[0])
		rest = rest[1:]
	}
	return positional, nil
}

// toolSchema returns the "properties" of a tool's input schema from a
// tools/list result, and whether the tool is listed.
func toolSchema(list json.RawMessage, name string) (map[string]json.RawMessage, bool) {
	var r struct {
		Tools []struct {
			Name        string `json:"name"`
			InputSchema struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"inputSchema"`
		} `json:"tools"`
	}
	json.Unmarshal(list, &r)
	for _, tool := range r.Tools {
		if tool.Name == name {
			return tool.InputSchema.Properties, true
		}
	}
	return nil, false
}

// toolArguments builds a tools/call arguments object from key=value and
// key:=json arguments.
func toolArguments(pairs []string, properties map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	args := map[string]json.RawMessage{}
	for _, p := range pairs {
		key, value, ok := strings.Cut(p, "=")
		if !ok || key == "" || key == ":" {
			return nil, fmt.Errorf("argument %q is not key=value or key:=json", p)
		}
		var raw json.RawMessage
		if k, isJSON := strings.CutSuffix(key, ":"); isJSON {
			key = k
			if !json.Valid([]byte(value)) {
				return nil, fmt.Errorf("the value of %s:= is not valid JSON: quote strings, as in %s:='\"text\"', or use %s=text", key, key, key)
			}
			raw = json.RawMessage(value)
		} else {
			raw = typedValue(value, properties[key])
		}
		if _, dup := args[key]; dup {
			return nil, fmt.Errorf("argument %s is given twice", key)
		}
		args[key] = raw
	}
	return args, nil
}

// typedValue returns value as JSON of the type the property's schema gives,
// or as a string when the schema says string, says nothing, or value does
// not parse as that type.
func typedValue(value string, schema json.RawMessage) json.RawMessage {
	var s struct {
		Type string `json:"type"`
	}
	json.Unmarshal(schema, &s)
	switch s.Type {
	case "integer":
		if _, err := strconv.ParseInt(value, 10, 64); err == nil {
			return json.RawMessage(value)
		}
	case "number":
		if f, err := strconv.ParseFloat(value, 64); err == nil {
			b, _ := json.Marshal(f)
			return b
		}
	case "boolean":
		if b, err := strconv.ParseBool(value); err == nil {
			return json.RawMessage(strconv.FormatBool(b))
		}
	case "object", "array":
		if json.Valid([]byte(value)) {
			return json.RawMessage(value)
		}
	}
	b, _ := json.Marshal(value)
	return b
}

// contentItem is one item of a tool result's content or of a resource's
// contents.
type contentItem struct {
	Type     string       `json:"type"`
	Text     *string      `json:"text"`
	MIMEType string       `json:"mimeType"`
	Data     string       `json:"data"`
	Blob     string       `json:"blob"`
	URI      string       `json:"uri"`
	Resource *contentItem `json:"resource"`
}

// text returns what a terminal can show of the item.
func (c contentItem) text() string {
	switch {
	case c.Text != nil:
		return *c.Text
	case c.Resource != nil:
		return c.Resource.text()
	case c.Blob != "" || c.Data != "":
		return fmt.Sprintf("[%s %s, %d base64 characters; use --json to see it]", cmpOr(c.Type, "binary"), cmpOr(c.MIMEType, "data"), len(c.Blob)+len(c.Data))
	case c.URI != "":
		return "[" + cmpOr(c.Type, "resource") + " " + c.URI + "]"
	}
	return "[" + cmpOr(c.Type, "unknown") + " content]"
}

const readUsage = "read [flags] URI | info | character | memories"

// runRead reads one resource of the agent and prints its contents. The
// names info, character and memories stand for the agent's documented
// resources, mcp://agent/<uuid>/<name>.
func runRead(inv *invocation) int {
	fs := flag.NewFlagSet("read", flag.ContinueOnError)
	resolve := targetFlags(fs, inv)
	asJSON := fs.Bool("json", false, "print the resources/read result as JSON")
	if ok, code := parseFlags(fs, inv, readUsage); !ok {
		return code
	}
	positional, err := reparse(fs)
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}
	if len(positional) != 1 {
		inv.errorf("give one resource: joai-bridge %s", readUsage)
		return exitUsage
	}
	t, err := resolve()
	if err != nil {
		inv.errorf("%v", err)
		return exitUsage
	}
	uri := positional[0]
	switch uri {
	case "info", "character", "memories":
		if t.agent == "" {
			inv.errorf("%s stands for mcp://agent/<uuid>/%s, but no agent is given: pass --agent UUID", uri, uri)
			return exitUsage
		}
		uri = "mcp://agent/" + t.agent + "/" + uri
	}

	ctx, cancel := context.WithTimeout(inv.ctx, defaultRequestTimeout)
	defer cancel()
	rc, code := inv.session(ctx, t)
	if code != exitOK {
		return code
	}
	result, err := rc.request(ctx, "resources/read", map[string]any{"uri": uri})
	if err != nil {
		inv.errorf("resources/read %s failed: %s", uri, explain(err, t))
		return exitFailed
	}
	if *asJSON {
		writeJSON(inv, result)
		return exitOK
	}
	var r struct {
		Contents []contentItem `json:"contents"`
	}
	if err := json.Unmarshal(result, &r); err != nil {
		inv.errorf("the resources/read result has no contents: %v", err)
		return exitFailed
	}
	for _, c := range r.Contents {
		inv.printf("%s\n", c.text())
	}
	return exitOK
}

// session returns a client for t's agent after the MCP initialize
// exchange, with the token from t's sources, which it reads again once
// after a 401.
func (inv *invocation) session(ctx context.Context, t *target) (*rpcClient, int) {
	if t.agent == "" {
		inv.errorf("no agent given and no earlier login: pass --agent UUID (joai-bridge agents lists them)")
		return nil, exitUsage
	}
	store, err := inv.store()
	if err != nil {
		inv.errorf("%v", err)
		return nil, exitFailed
	}
	chain, err := inv.tokenChain(t, store)
	if err != nil {
		inv.errorf("%v", err)
		return nil, exitUsage
	}
	tok, err := chain.Token(ctx)
	if err != nil {
		inv.errorf("%v", err)
		return nil, exitFailed
	}
	client, err := newHTTPClient(t.caFile)
	if err != nil {
		inv.errorf("%v", err)
		return nil, exitUsage
	}
	rc := &rpcClient{http: client, url: t.endpoint(), token: tok, source: chain}
	if err := rc.initialize(ctx); err != nil {
		inv.errorf("initialize on %s failed: %s", t.endpoint(), explain(err, t))
		return nil, exitFailed
	}
	return rc, exitOK
}

// writeJSON prints raw indented, followed by a newline.
func writeJSON(inv *invocation, raw json.RawMessage) {
	var out bytes.Buffer
	if json.Indent(&out, raw, "", "  ") != nil {
		out.Reset()
		out.Write(raw)
	}
	out.WriteByte('\n')
	inv.stdout.Write(out.Bytes())
}
