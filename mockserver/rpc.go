package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/tidwall/gjson"
)

// Protocol revisions. initialize negotiates the first two; the
// MCP-Protocol-Version header may also name 2025-03-26, the revision a
// server assumes when the header is absent.
const (
	protocol20250618 = "2025-06-18"
	protocol20251125 = "2025-11-25"
	protocol20250326 = "2025-03-26"
	latestProtocol   = protocol20251125
)

var negotiable = []string{protocol20250618, protocol20251125}

// rpcMessage is a decoded JSON-RPC message, or the reason it is not one.
type rpcMessage struct {
	id       json.RawMessage // nil when absent
	method   string
	params   json.RawMessage // nil when absent or null
	response bool            // a result or error from the client
	result   json.RawMessage // of a response
	rpcErr   json.RawMessage // of a response

	// errCode and errMessage are set when the body is not a valid
	// message; id is kept if it was valid, for the error reply.
	errCode    int
	errMessage string
}

// parseMessage decodes one JSON-RPC message. It never fails: an invalid
// body gives a message whose errCode is -32700 or -32600. Member names are
// matched exactly, as JSON-RPC 2.0 requires; a repeated member counts by
// its last occurrence, as with encoding/json.
func parseMessage(body []byte) *rpcMessage {
	m := &rpcMessage{}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return m.invalid(mcp.PARSE_ERROR, "Parse error: the body is empty")
	}
	if !gjson.ValidBytes(trimmed) {
		return m.invalid(mcp.PARSE_ERROR, "Parse error: the body is not valid JSON")
	}
	doc := gjson.ParseBytes(trimmed)
	switch {
	case doc.IsArray():
		// MCP 2025-06-18 removed JSON-RPC batching, and 2025-11-25 keeps it
		// out.
		return m.invalid(mcp.INVALID_REQUEST, "Invalid Request: batch arrays are not supported; send one message per request")
	case !doc.IsObject():
		return m.invalid(mcp.INVALID_REQUEST, "Invalid Request: the body must be a JSON object")
	}
	var version, id, method, params, result, rpcErr gjson.Result
	doc.ForEach(func(key, value gjson.Result) bool {
		switch key.String() {
		case "jsonrpc":
			version = value
		case "id":
			id = value
		case "method":
			method = value
		case "params":
			params = value
		case "result":
			result = value
		case "error":
			rpcErr = value
		}
		return true
	})
	// raw returns a member's bytes without copying them.
	raw := func(r gjson.Result) json.RawMessage {
		return json.RawMessage(trimmed[r.Index : r.Index+len(r.Raw)])
	}

	if id.Exists() {
		if id.Type != gjson.String && id.Type != gjson.Number {
			return m.invalid(mcp.INVALID_REQUEST, "Invalid Request: id must be a string or a number")
		}
		m.id = raw(id)
	}
	if version.Type != gjson.String || version.Raw != `"2.0"` {
		return m.invalid(mcp.INVALID_REQUEST, `Invalid Request: "jsonrpc" must be "2.0"`)
	}
	switch {
	case method.Exists() && (result.Exists() || rpcErr.Exists()):
		return m.invalid(mcp.INVALID_REQUEST, "Invalid Request: a message cannot have both method and result or error")
	case method.Exists():
		if method.Type != gjson.String || method.Str == "" {
			return m.invalid(mcp.INVALID_REQUEST, "Invalid Request: method must be a non-empty string")
		}
		m.method = method.String()
	case result.Exists() && rpcErr.Exists():
		return m.invalid(mcp.INVALID_REQUEST, "Invalid Request: a response cannot have both result and error")
	case result.Exists() || rpcErr.Exists():
		if m.id == nil {
			return m.invalid(mcp.INVALID_REQUEST, "Invalid Request: a response needs the id of the request it answers")
		}
		m.response = true
		if result.Exists() {
			m.result = raw(result)
		} else {
			m.rpcErr = raw(rpcErr)
		}
		return m
	default:
		return m.invalid(mcp.INVALID_REQUEST, "Invalid Request: method is missing")
	}
	if params.Exists() && params.Type != gjson.Null {
		if !params.IsObject() && !params.IsArray() {
			return m.invalid(mcp.INVALID_REQUEST, "Invalid Request: params must be an object")
		}
		m.params = raw(params)
	}
	return m
}

func (m *rpcMessage) invalid(code int, msg string) *rpcMessage {
	m.errCode, m.errMessage = code, msg
	return m
}

// validID reports whether a raw id is a string or a number. MCP forbids
// null ids in requests.
func validID(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	switch c := raw[0]; {
	case c == '"':
		return true
	case c == '-' || (c >= '0' && c <= '9'):
		return true
	}
	return false
}

// notification reports whether m expects no reply. A method without an id
// outside notifications/ is still answered: the documentation's Node and
// Python examples send tools/list without an id and read a JSON reply.
func (m *rpcMessage) notification() bool {
	return m.id == nil && strings.HasPrefix(m.method, "notifications/")
}

// rpcError is a JSON-RPC error to send as the reply.
type rpcError struct {
	code    int
	message string
	data    any
}

func (e *rpcError) Error() string { return e.message }

func errInvalidParams(format string, args ...any) *rpcError {
	return &rpcError{code: mcp.INVALID_PARAMS, message: "Invalid params: " + fmt.Sprintf(format, args...)}
}

// encodeResult returns a complete JSON-RPC response with a result.
func encodeResult(id json.RawMessage, result []byte) []byte {
	if id == nil {
		id = json.RawMessage("null")
	}
	b := make([]byte, 0, len(result)+len(id)+40)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"result":`...)
	b = append(b, result...)
	return append(b, '}')
}

// encodeError returns a complete JSON-RPC response with an error.
func encodeError(id json.RawMessage, e *rpcError) []byte {
	if id == nil {
		id = json.RawMessage("null")
	}
	obj := struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{e.code, e.message, e.data}
	errJSON, err := json.Marshal(obj)
	if err != nil {
		errJSON = []byte(`{"code":-32603,"message":"Internal error: encoding an error"}`)
	}
	b := make([]byte, 0, len(errJSON)+len(id)+40)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id...)
	b = append(b, `,"error":`...)
	b = append(b, errJSON...)
	return append(b, '}')
}

// call is the context of one JSON-RPC request for the method handlers.
type call struct {
	s     *Server
	agent *agent
	fault *Fault // may be nil
	msg   *rpcMessage
	now   time.Time
}

// dispatch runs one JSON-RPC request and returns its result, or the error
// to send.
func (c *call) dispatch() (json.RawMessage, *rpcError) {
	switch c.msg.method {
	case string(mcp.MethodInitialize):
		return c.initialize()
	case string(mcp.MethodPing):
		return json.RawMessage("{}"), nil
	case string(mcp.MethodToolsList):
		return c.toolsList(), nil
	case string(mcp.MethodToolsCall):
		return c.toolsCall()
	case string(mcp.MethodResourcesList):
		return c.resourcesList(), nil
	case string(mcp.MethodResourcesRead):
		return c.resourcesRead()
	}
	return nil, &rpcError{code: mcp.METHOD_NOT_FOUND, message: "Method not found: " + c.msg.method}
}

// decodeParams decodes the params object into v, which must be a pointer
// to a struct.
func (c *call) decodeParams(v any) *rpcError {
	if c.msg.params == nil {
		return nil
	}
	if c.msg.params[0] != '{' {
		return errInvalidParams("params must be an object")
	}
	if err := json.Unmarshal(c.msg.params, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return errInvalidParams("%q must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return errInvalidParams("%v", err)
	}
	return nil
}

// jsonKind names the JSON form of a Go kind, as reflect.Kind.String
// spells it, in the user's words.
func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int64":
		return "an integer"
	case "bool":
		return "true or false"
	case "map", "struct":
		return "an object"
	case "slice":
		return "an array"
	}
	return goKind
}

func (c *call) initialize() (json.RawMessage, *rpcError) {
	if c.s.opts.Plain {
		return nil, &rpcError{code: mcp.METHOD_NOT_FOUND, message: "Method not found: initialize"}
	}
	var p struct {
		ProtocolVersion *string `json:"protocolVersion"`
	}
	if err := c.decodeParams(&p); err != nil {
		return nil, err
	}
	if p.ProtocolVersion == nil {
		return nil, errInvalidParams("protocolVersion is required")
	}
	version := latestProtocol
	if contains(negotiable, *p.ProtocolVersion) {
		version = *p.ProtocolVersion
	}
	b := fmt.Appendf(nil,
		`{"protocolVersion":%q,"capabilities":{"resources":{},"tools":{}},"serverInfo":{"name":"joai-mock","version":%q}}`,
		version, Version)
	return b, nil
}

// Version is the server version reported in initialize's serverInfo.
const Version = "1.0.0"

func (c *call) toolsList() json.RawMessage {
	f := c.fault
	if f == nil || (f.Break != BreakMissingTool && f.Break != BreakChangedSchema) {
		return c.s.tools.listResult
	}
	return c.s.tools.encodeList(func(t *tool) json.RawMessage {
		switch {
		case f.Break == BreakMissingTool && t.name == cmpOr(f.Tool, "update_memory"):
			return nil
		case f.Break == BreakChangedSchema && t.name == "prompt_agent":
			return bytes.Replace(t.def, []byte(`"message":{"type":"string"`), []byte(`"message":{"type":"integer"`), 1)
		}
		return t.def
	})
}

func (c *call) toolsCall() (json.RawMessage, *rpcError) {
	var p struct {
		Name      *string         `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := c.decodeParams(&p); err != nil {
		return nil, err
	}
	if p.Name == nil {
		return nil, errInvalidParams("name is required: one of %s", c.s.tools.names())
	}
	t := c.s.tools.lookup(*p.Name)
	if t == nil {
		return nil, &rpcError{
			code:    mcp.INVALID_PARAMS,
			message: fmt.Sprintf("Unknown tool: %q; tools are %s", *p.Name, c.s.tools.names()),
			data:    map[string]any{"tool": *p.Name},
		}
	}
	args, err := t.validate(p.Arguments)
	if err != nil {
		ae := err.(*argumentError)
		return nil, &rpcError{
			code:    mcp.INVALID_PARAMS,
			message: "Invalid params: " + ae.Error(),
			data:    map[string]any{"tool": ae.tool, "field": ae.field},
		}
	}
	switch t.name {
	case "prompt_agent":
		return toolText(c.reply(args["message"].(string)), false, nil), nil
	case "create_memory":
		m, err := c.s.state.createMemory(c.agent, args["content"].(string), c.now)
		if err != nil {
			return nil, internalError(err)
		}
		return memoryResult(m), nil
	case "update_memory":
		id := args["memoryId"].(string)
		m, err := c.s.state.updateMemory(c.agent, id, args["content"].(string), c.now)
		if errors.Is(err, errNoMemory) {
			msg := fmt.Sprintf("memory %q not found for agent %s; read %s for the ids", id, c.agent.UUID, resourceURI(c.agent.UUID, "memories"))
			return toolText(msg, true, nil), nil
		}
		if err != nil {
			return nil, internalError(err)
		}
		return memoryResult(m), nil
	}
	return nil, &rpcError{code: mcp.INTERNAL_ERROR, message: "Internal error: tool " + t.name + " has no implementation"}
}

func internalError(err error) *rpcError {
	return &rpcError{code: mcp.INTERNAL_ERROR, message: "Internal error: " + err.Error() + "; the change was not saved"}
}

// reply is prompt_agent's answer: the first scripted reply whose Contains
// occurs in the message, else one built from the character.
func (c *call) reply(message string) string {
	for _, r := range c.agent.Replies {
		if strings.Contains(message, r.Contains) {
			return r.Reply
		}
	}
	persona := c.agent.Character
	if i := strings.IndexAny(persona, ".!?"); i >= 0 {
		persona = persona[:i+1]
	}
	return fmt.Sprintf("[%s] %s You said: %s", c.agent.Name, persona, message)
}

// textContent is an MCP text content block.
type textContent struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// toolResult is an MCP CallToolResult.
type toolResult struct {
	Content           []textContent `json:"content"`
	StructuredContent any           `json:"structuredContent,omitempty"`
	IsError           bool          `json:"isError,omitempty"`
}

// toolText builds a CallToolResult with one text block.
func toolText(text string, isError bool, structured any) json.RawMessage {
	b, _ := json.Marshal(toolResult{
		Content:           []textContent{{Type: "text", Text: text}},
		StructuredContent: structured,
		IsError:           isError,
	})
	return b
}

// memoryResult returns a memory as structured content, with its JSON text
// in a text block too, as MCP 2025-06-18 recommends for tools that return
// structured content.
func memoryResult(m SeedMemory) json.RawMessage {
	s := struct {
		MemoryID  string    `json:"memoryId"`
		Content   string    `json:"content"`
		UpdatedAt time.Time `json:"updated_at"`
	}{m.ID, m.Content, m.UpdatedAt}
	text, _ := json.Marshal(s)
	return toolText(string(text), false, s)
}

// resourceURI returns mcp://agent/<uuid>/<name>.
func resourceURI(uuid, name string) string { return "mcp://agent/" + uuid + "/" + name }

// resourceDefs are the agent resources, in listing order.
var resourceDefs = []struct {
	name, title, description, mimeType string
}{
	{"info", "Agent Info", "General information about the agent.", "application/json"},
	{"character", "Agent Character", "Character system prompt and personality.", "text/plain"},
	{"memories", "Agent Memories", "All memories stored by the agent.", "application/json"},
}

func (c *call) resourcesList() json.RawMessage { return resourcesListResult(c.agent.UUID) }

// resourceJSON is an MCP Resource.
type resourceJSON struct {
	URI         string `json:"uri"`
	Name        string `json:"name"`
	Description string `json:"description"`
	MimeType    string `json:"mimeType"`
}

// resourceContents is an MCP TextResourceContents.
type resourceContents struct {
	URI      string `json:"uri"`
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
}

func resourcesListResult(uuid string) json.RawMessage {
	list := make([]resourceJSON, 0, len(resourceDefs))
	for _, d := range resourceDefs {
		list = append(list, resourceJSON{resourceURI(uuid, d.name), d.title, d.description, d.mimeType})
	}
	b, _ := json.Marshal(map[string]any{"resources": list})
	return b
}

func (c *call) resourcesRead() (json.RawMessage, *rpcError) {
	var p struct {
		URI *string `json:"uri"`
	}
	if err := c.decodeParams(&p); err != nil {
		return nil, err
	}
	if p.URI == nil {
		return nil, errInvalidParams("uri is required, for example %s", resourceURI(c.agent.UUID, "info"))
	}
	uri := *p.URI
	var text, mimeType string
	switch uri {
	case resourceURI(c.agent.UUID, "info"):
		text, mimeType = c.infoText(), "application/json"
	case resourceURI(c.agent.UUID, "character"):
		text, mimeType = c.agent.Character, "text/plain"
	case resourceURI(c.agent.UUID, "memories"):
		text, mimeType = c.memoriesText(), "application/json"
	default:
		return nil, &rpcError{
			code:    mcp.RESOURCE_NOT_FOUND,
			message: "Resource not found: " + uri,
			data:    map[string]any{"uri": uri},
		}
	}
	b, _ := json.Marshal(map[string]any{"contents": []resourceContents{{uri, mimeType, text}}})
	return b, nil
}

func (c *call) infoText() string {
	info := map[string]any{}
	for k, v := range c.agent.Info {
		info[k] = v
	}
	info["uuid"], info["name"], info["team"] = c.agent.UUID, c.agent.Name, c.agent.Team
	b, _ := json.Marshal(info)
	return string(b)
}

func (c *call) memoriesText() string {
	type mem struct {
		ID        string    `json:"id"`
		Content   string    `json:"content"`
		CreatedAt time.Time `json:"created_at"`
		UpdatedAt time.Time `json:"updated_at"`
	}
	list := []mem{}
	for _, m := range c.s.state.memoriesOf(c.agent) {
		list = append(list, mem{m.ID, m.Content, m.CreatedAt, m.UpdatedAt})
	}
	b, _ := json.Marshal(map[string]any{"memories": list})
	return string(b)
}
