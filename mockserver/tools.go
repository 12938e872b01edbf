package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// The tool definitions, exactly as the JoAi API token documentation lists
// them. They are served with insignificant whitespace removed and nothing
// else changed: same keys, same order, same text.
const (
	toolPromptAgent = `{
  "name": "prompt_agent",
  "description": "Send a message to the agent and get a response",
  "inputSchema": {
    "type": "object",
    "properties": {
      "message": {
        "type": "string",
        "description": "The message to send to the agent"
      }
    },
    "required": ["message"]
  }
}`
	toolCreateMemory = `{
  "name": "create_memory",
  "description": "Create a new memory for the agent",
  "inputSchema": {
    "type": "object",
    "properties": {
      "content": {
        "type": "string",
        "description": "The memory content to store"
      }
    },
    "required": ["content"]
  }
}`
	toolUpdateMemory = `{
  "name": "update_memory",
  "description": "Update an existing memory entry",
  "inputSchema": {
    "type": "object",
    "properties": {
      "memoryId": {
        "type": "string",
        "description": "The ID of the memory to update"
      },
      "content": {
        "type": "string",
        "description": "The new memory content"
      }
    },
    "required": ["memoryId", "content"]
  }
}`
)

// tool is one tool definition with its compiled input schema.
type tool struct {
	name   string
	def    json.RawMessage // compact reference JSON
	schema *jsonschema.Schema
}

// toolSet is the three tools in the reference's order.
type toolSet struct {
	tools []*tool
	// listResult is the tools/list result, encoded once.
	listResult json.RawMessage
}

func compileTools() *toolSet {
	ts := &toolSet{}
	for _, text := range []string{toolPromptAgent, toolCreateMemory, toolUpdateMemory} {
		ts.tools = append(ts.tools, compileTool(text))
	}
	ts.listResult = ts.encodeList(func(t *tool) json.RawMessage { return t.def })
	return ts
}

// compileTool panics on a bad definition: the definitions are constants,
// and a test compiles them.
func compileTool(text string) *tool {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(text)); err != nil {
		panic("mockserver: tool definition: " + err.Error())
	}
	var def struct {
		Name        string          `json:"name"`
		InputSchema json.RawMessage `json:"inputSchema"`
	}
	if err := json.Unmarshal(buf.Bytes(), &def); err != nil {
		panic("mockserver: tool definition: " + err.Error())
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(def.InputSchema))
	if err != nil {
		panic("mockserver: tool schema: " + err.Error())
	}
	c := jsonschema.NewCompiler()
	url := "mem://tools/" + def.Name + ".json"
	if err := c.AddResource(url, doc); err != nil {
		panic("mockserver: tool schema: " + err.Error())
	}
	sch, err := c.Compile(url)
	if err != nil {
		panic("mockserver: tool schema: " + err.Error())
	}
	return &tool{name: def.Name, def: buf.Bytes(), schema: sch}
}

func (ts *toolSet) encodeList(def func(*tool) json.RawMessage) json.RawMessage {
	var defs []json.RawMessage
	for _, t := range ts.tools {
		if d := def(t); d != nil {
			defs = append(defs, d)
		}
	}
	out, err := json.Marshal(map[string]any{"tools": defs})
	if err != nil {
		panic("mockserver: encoding tools: " + err.Error())
	}
	return out
}

func (ts *toolSet) lookup(name string) *tool {
	for _, t := range ts.tools {
		if t.name == name {
			return t
		}
	}
	return nil
}

// names lists the tool names for error messages.
func (ts *toolSet) names() string {
	var n []string
	for _, t := range ts.tools {
		n = append(n, t.name)
	}
	return strings.Join(n, ", ")
}

// argumentError is a tool-argument schema violation, reported as -32602.
type argumentError struct {
	tool   string
	field  string // the first offending argument, "" for the arguments object itself
	detail string
}

func (e *argumentError) Error() string {
	if e.field == "" {
		return fmt.Sprintf("invalid arguments for tool %q: %s", e.tool, e.detail)
	}
	return fmt.Sprintf("invalid arguments for tool %q: argument %q %s", e.tool, e.field, e.detail)
}

// validate checks raw arguments against the tool's schema and decodes them.
// A missing arguments member counts as an empty object.
func (t *tool) validate(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage("{}")
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, &argumentError{tool: t.name, detail: "are not valid JSON"}
	}
	if err := t.schema.Validate(v); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return nil, &argumentError{tool: t.name, detail: err.Error()}
		}
		return nil, describeViolation(t.name, ve)
	}
	args, _ := v.(map[string]any)
	return args, nil
}

// describeViolation turns the first leaf of a validation error tree into a
// message that names the argument.
func describeViolation(toolName string, ve *jsonschema.ValidationError) *argumentError {
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	e := &argumentError{tool: toolName}
	if len(ve.InstanceLocation) > 0 {
		e.field = strings.Join(ve.InstanceLocation, "/")
	}
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		missing := slices.Clone(k.Missing)
		e.field = strings.Join(append(slices.Clone(ve.InstanceLocation), missing[0]), "/")
		e.detail = "is required"
	case *kind.Type:
		if e.field == "" {
			e.detail = fmt.Sprintf("must be an object, not %s", k.Got)
		} else {
			e.detail = fmt.Sprintf("must be of type %s, not %s", strings.Join(k.Want, " or "), k.Got)
		}
	default:
		e.detail = ve.Error()
	}
	return e
}
