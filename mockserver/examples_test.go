package mockserver

import (
	"net"
	"strings"
	"testing"
)

// The requests in this file are the examples of the JoAi API token
// documentation, sent as its curl, Node and Python examples send them.

// referenceTools is the tools array as the documentation lists the three
// tools, typed out independently of the server's copy.
const referenceTools = `[
  {
    "name": "prompt_agent",
    "description": "Send a message to the agent and get a response",
    "inputSchema": {
      "type": "object",
      "properties": {
        "message": {"type": "string", "description": "The message to send to the agent"}
      },
      "required": ["message"]
    }
  },
  {
    "name": "create_memory",
    "description": "Create a new memory for the agent",
    "inputSchema": {
      "type": "object",
      "properties": {
        "content": {"type": "string", "description": "The memory content to store"}
      },
      "required": ["content"]
    }
  },
  {
    "name": "update_memory",
    "description": "Update an existing memory entry",
    "inputSchema": {
      "type": "object",
      "properties": {
        "memoryId": {"type": "string", "description": "The ID of the memory to update"},
        "content": {"type": "string", "description": "The new memory content"}
      },
      "required": ["memoryId", "content"]
    }
  }
]`

// compactTools is the exact byte form of the tools array on the wire.
const compactTools = `[{"name":"prompt_agent","description":"Send a message to the agent and get a response","inputSchema":{"type":"object","properties":{"message":{"type":"string","description":"The message to send to the agent"}},"required":["message"]}},` +
	`{"name":"create_memory","description":"Create a new memory for the agent","inputSchema":{"type":"object","properties":{"content":{"type":"string","description":"The memory content to store"}},"required":["content"]}},` +
	`{"name":"update_memory","description":"Update an existing memory entry","inputSchema":{"type":"object","properties":{"memoryId":{"type":"string","description":"The ID of the memory to update"},"content":{"type":"string","description":"The new memory content"}},"required":["memoryId","content"]}}]`

func TestExampleCurlListTools(t *testing.T) {
	s := startServer(t, nil)
	got := rpc(t, s, `{
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/list"
  }`)
	if got.status != 200 {
		t.Fatalf("status = %d, want 200: %s", got.status, got.body)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	wantJSON(t, "tools/list", got.body, `{"jsonrpc":"2.0","id":1,"result":{"tools":`+referenceTools+`}}`)
	if want := `{"jsonrpc":"2.0","id":1,"result":{"tools":` + compactTools + `}}`; got.body != want {
		t.Errorf("tools/list bytes differ from the reference's definitions:\n got %s\nwant %s", got.body, want)
	}
}

func TestExampleQuickTest(t *testing.T) {
	// The quick test sends the tools/list request above and expects
	// {"jsonrpc":"2.0","id":1,"result":{"tools":[...]}}.
	s := startServer(t, nil)
	got := rpc(t, s, `{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}`)
	v := decode(t, got.body).(map[string]any)
	if len(v) != 3 || v["jsonrpc"] != "2.0" || v["id"] == nil {
		t.Errorf("reply keys = %v, want exactly jsonrpc, id and result", v)
	}
	tools, ok := field(t, got.body, "result.tools").([]any)
	if !ok || len(tools) != 3 {
		t.Errorf("result.tools = %v, want an array of 3 tools", field(t, got.body, "result.tools"))
	}
}

func TestExampleNodeAndPythonListTools(t *testing.T) {
	// Node's fetch with JSON.stringify and Python's requests.post(json=...)
	// send the same body: tools/list without an id. Both read the reply
	// with .json(), so it must be a JSON body.
	s := startServer(t, nil)
	for _, body := range []string{
		`{"jsonrpc":"2.0","method":"tools/list"}`,
		`{"jsonrpc": "2.0", "method": "tools/list"}`,
	} {
		got := rpc(t, s, body)
		if got.status != 200 {
			t.Fatalf("status = %d, want 200: %s", got.status, got.body)
		}
		if ct := got.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", ct)
		}
		wantJSON(t, "id-less tools/list", got.body, `{"jsonrpc":"2.0","id":null,"result":{"tools":`+referenceTools+`}}`)
	}
}

func TestExampleCallPromptAgent(t *testing.T) {
	s := startServer(t, nil)
	got := rpc(t, s, `{
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {
      "name": "prompt_agent",
      "arguments": {
        "message": "Hello from API!"
      }
    }
  }`)
	wantJSON(t, "prompt_agent", got.body, `{"jsonrpc":"2.0","id":1,"result":{"content":[
		{"type":"text","text":"Hello! I am Ada, the Northwind research assistant. How can I help?"}]}}`)
}

func TestPromptAgentDefaultReply(t *testing.T) {
	s := startServer(t, nil)
	body := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"What is 2+2?"}}}`
	first, second := rpc(t, s, body), rpc(t, s, body)
	wantJSON(t, "prompt_agent", first.body, `{"jsonrpc":"2.0","id":2,"result":{"content":[
		{"type":"text","text":"[Ada] You are Ada, a patient research assistant. You said: What is 2+2?"}]}}`)
	if first.body != second.body {
		t.Errorf("prompt_agent is not deterministic:\n%s\n%s", first.body, second.body)
	}
}

func TestExampleListResources(t *testing.T) {
	s := startServer(t, nil)
	uuid := s.Info().AgentUUID
	got := rpc(t, s, `{"jsonrpc": "2.0", "id": 1, "method": "resources/list"}`)
	wantJSON(t, "resources/list", got.body, `{"jsonrpc":"2.0","id":1,"result":{"resources":[
		{"uri":"mcp://agent/`+uuid+`/info","name":"Agent Info","description":"General information about the agent.","mimeType":"application/json"},
		{"uri":"mcp://agent/`+uuid+`/character","name":"Agent Character","description":"Character system prompt and personality.","mimeType":"text/plain"},
		{"uri":"mcp://agent/`+uuid+`/memories","name":"Agent Memories","description":"All memories stored by the agent.","mimeType":"application/json"}]}}`)
}

func TestExampleReadInfo(t *testing.T) {
	s := startServer(t, nil)
	uuid := s.Info().AgentUUID
	got := rpc(t, s, `{
    "jsonrpc": "2.0",
    "id": 1,
    "method": "resources/read",
    "params": {
      "uri": "mcp://agent/`+uuid+`/info"
    }
  }`)
	contents := field(t, got.body, "result.contents").([]any)
	if len(contents) != 1 {
		t.Fatalf("contents = %v, want one entry", contents)
	}
	c := contents[0].(map[string]any)
	if c["uri"] != "mcp://agent/"+uuid+"/info" || c["mimeType"] != "application/json" {
		t.Errorf("contents[0] = %v, want the info URI with mimeType application/json", c)
	}
	wantJSON(t, "info text", c["text"].(string), `{
		"uuid":"`+uuid+`","name":"Ada","team":"team-northwind",
		"description":"Research assistant for the Northwind team","model":"joai-mock-1",
		"status":"active","created_at":"2025-01-15T09:30:00Z"}`)
}

func TestReadCharacterAndMemories(t *testing.T) {
	s := startServer(t, nil)
	uuid := s.Info().AgentUUID
	got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"mcp://agent/`+uuid+`/character"}}`)
	wantJSON(t, "character", got.body, `{"jsonrpc":"2.0","id":1,"result":{"contents":[{"uri":"mcp://agent/`+uuid+`/character","mimeType":"text/plain",
		"text":"You are Ada, a patient research assistant. You explain one step at a time and say when you are unsure."}]}}`)

	got = rpc(t, s, `{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"mcp://agent/`+uuid+`/memories"}}`)
	text := field(t, got.body, "result.contents").([]any)[0].(map[string]any)["text"].(string)
	wantJSON(t, "memories", text, `{"memories":[
		{"id":"mem-0001","content":"The user prefers answers in British English.","created_at":"2025-01-20T09:00:00Z","updated_at":"2025-01-20T09:00:00Z"},
		{"id":"mem-0002","content":"The user's project is called Lighthouse.","created_at":"2025-02-11T16:20:00Z","updated_at":"2025-02-11T16:20:00Z"}]}`)
}

func TestMemoriesReflectWrites(t *testing.T) {
	s := startServer(t, nil)
	uuid := s.Info().AgentUUID
	created := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_memory","arguments":{"content":"Likes tea."}}}`)
	id, _ := field(t, created.body, "result.structuredContent.memoryId").(string)
	if id != "mem-0004" {
		t.Errorf("create_memory id = %q, want mem-0004: %s", id, created.body)
	}
	text := field(t, created.body, "result.content").([]any)[0].(map[string]any)["text"].(string)
	if !strings.Contains(text, `"memoryId":"mem-0004"`) {
		t.Errorf("create_memory text = %s, want it to carry the memoryId", text)
	}
	updated := rpc(t, s, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"update_memory","arguments":{"memoryId":"mem-0001","content":"Prefers American English."}}}`)
	if field(t, updated.body, "result.isError") != nil {
		t.Errorf("update_memory failed: %s", updated.body)
	}
	got := rpc(t, s, `{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"mcp://agent/`+uuid+`/memories"}}`)
	text = field(t, got.body, "result.contents").([]any)[0].(map[string]any)["text"].(string)
	mems := field(t, text, "memories").([]any)
	if len(mems) != 3 {
		t.Fatalf("memories = %v, want 3", mems)
	}
	first, last := mems[0].(map[string]any), mems[2].(map[string]any)
	if first["content"] != "Prefers American English." || first["updated_at"] == first["created_at"] {
		t.Errorf("mem-0001 = %v, want the new content and a new updated_at", first)
	}
	if last["id"] != "mem-0004" || last["content"] != "Likes tea." {
		t.Errorf("last memory = %v, want mem-0004 Likes tea.", last)
	}
}

func TestUpdateUnknownMemoryIsToolError(t *testing.T) {
	s := startServer(t, nil)
	tests := []struct{ name, id string }{
		{"unknown-id", "mem-9999"},
		{"other-agents-memory", "mem-0003"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"update_memory","arguments":{"memoryId":"`+tt.id+`","content":"x"}}}`)
			if field(t, got.body, "result.isError") != true {
				t.Fatalf("update_memory(%s) = %s, want isError true", tt.id, got.body)
			}
			text := field(t, got.body, "result.content").([]any)[0].(map[string]any)["text"].(string)
			if !strings.Contains(text, `"`+tt.id+`"`) {
				t.Errorf("error text %q does not name %s", text, tt.id)
			}
		})
	}
}

func TestExampleGETListing(t *testing.T) {
	// curl -X GET .../mcp/agents/agent-uuid with Authorization and
	// Content-Type: application/json, and no Accept.
	s := startServer(t, nil)
	in := s.Info()
	got := do(t, "GET", s.AgentURL(in.AgentUUID), in.Token, "")
	if got.status != 200 || got.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET = %d %q, want 200 application/json: %s", got.status, got.header.Get("Content-Type"), got.body)
	}
	uuid := in.AgentUUID
	wantJSON(t, "GET listing", got.body, `{"tools":`+referenceTools+`,"resources":[
		{"uri":"mcp://agent/`+uuid+`/info","name":"Agent Info","description":"General information about the agent.","mimeType":"application/json"},
		{"uri":"mcp://agent/`+uuid+`/character","name":"Agent Character","description":"Character system prompt and personality.","mimeType":"text/plain"},
		{"uri":"mcp://agent/`+uuid+`/memories","name":"Agent Memories","description":"All memories stored by the agent.","mimeType":"application/json"}]}`)
}

func TestAgentDiscovery(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	got := do(t, "GET", s.URL+"/api/agents", in.Token, "")
	wantJSON(t, "northwind agents", got.body, `{"agents":[
		{"uuid":"9b2f6c1e-4d7a-4e3b-8c15-2a6f0d9e7b41","name":"Ada","team":"team-northwind","description":"Research assistant for the Northwind team"},
		{"uuid":"4e8d2a17-93c6-4b05-a1f8-6c3e9d0b2a54","name":"Babbage","team":"team-northwind","description":"Arithmetic helper for the Northwind team"}]}`)
	got = do(t, "GET", s.URL+"/api/agents", in.OtherTeamToken, "")
	wantJSON(t, "globex agents", got.body, `{"agents":[
		{"uuid":"c7a41e92-5f3b-4d86-b0e7-1d9a6c2f8e35","name":"Grace","team":"team-globex","description":"Customer support for the Globex team"}]}`)
}

func TestInitializeNegotiation(t *testing.T) {
	s := startServer(t, nil)
	tests := []struct{ asked, want string }{
		{"2025-06-18", "2025-06-18"},
		{"2025-11-25", "2025-11-25"},
		{"2024-11-05", "2025-11-25"},
		{"2099-01-01", "2025-11-25"},
	}
	for _, tt := range tests {
		t.Run(tt.asked, func(t *testing.T) {
			got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"`+tt.asked+
				`","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}`)
			wantJSON(t, "initialize", got.body, `{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"`+tt.want+
				`","capabilities":{"resources":{},"tools":{}},"serverInfo":{"name":"joai-mock","version":"`+Version+`"}}}`)
		})
	}
}

func TestNotificationsAndPing(t *testing.T) {
	s := startServer(t, nil)
	for _, body := range []string{
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"user"}}`,
		`{"jsonrpc":"2.0","method":"notifications/unknown"}`,
		`{"jsonrpc":"2.0","id":"srv-1","result":{}}`,
	} {
		got := rpc(t, s, body)
		if got.status != 202 || got.body != "" {
			t.Errorf("POST %s = %d %q, want 202 with no body", body, got.status, got.body)
		}
	}
	got := rpc(t, s, `{"jsonrpc":"2.0","id":"p","method":"ping"}`)
	if got.body != `{"jsonrpc":"2.0","id":"p","result":{}}` {
		t.Errorf("ping = %s", got.body)
	}
}

func listenLoopback(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}
