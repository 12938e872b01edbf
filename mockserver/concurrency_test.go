package mockserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

func TestConcurrentClients(t *testing.T) {
	s := startServer(t, &Options{StateFile: t.TempDir() + "/state.json", Limits: Limits{RequestsPerMinute: -1, Concurrent: -1}})
	in := s.Info()
	const clients, perClient = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, clients*perClient)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				var body string
				switch i % 4 {
				case 0:
					body = `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
				case 1:
					body = fmt.Sprintf(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_memory","arguments":{"content":"c%d-%d"}}}`, c, i)
				case 2:
					body = `{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"mcp://agent/` + in.AgentUUID + `/memories"}}`
				case 3:
					body = `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"update_memory","arguments":{"memoryId":"mem-0001","content":"c` + fmt.Sprint(c) + `"}}}`
				}
				got := rpc(t, s, body)
				if got.status != 200 || strings.Contains(got.body, `"error"`) {
					errs <- fmt.Errorf("client %d request %d: %d %s", c, i, got.status, got.body)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mems := readMemories(t, s, in.AgentUUID, in.Token)
	if want := 2 + clients*((perClient+2)/4); len(mems) != want {
		t.Errorf("memories = %d, want %d", len(mems), want)
	}
	seen := map[string]bool{}
	for _, m := range mems {
		id := m.(map[string]any)["id"].(string)
		if seen[id] {
			t.Errorf("memory id %s was given twice", id)
		}
		seen[id] = true
	}
	if n := len(s.Requests()); n != clients*perClient+1 {
		t.Errorf("request log has %d entries, want %d", n, clients*perClient+1)
	}
}

// bearerClient returns an http.Client that adds the token to every request.
func bearerClient(token string) *http.Client {
	return &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+token)
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestMCPGoClient(t *testing.T) {
	// mcp-go's Streamable HTTP client, which the bridge uses upstream,
	// works against each response mode.
	modes := []struct {
		name string
		opts Options
	}{
		{"json", Options{}},
		{"sse", Options{SSE: true}},
		{"sessions", Options{Sessions: true}},
		{"sse-sessions", Options{SSE: true, Sessions: true}},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			s := startServer(t, &mode.opts)
			in := s.Info()
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			c, err := client.NewStreamableHttpClient(s.AgentURL(in.AgentUUID), transport.WithHTTPBasicClient(bearerClient(in.Token)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			initReq := mcp.InitializeRequest{}
			initReq.Params.ProtocolVersion = "2025-06-18"
			initReq.Params.ClientInfo = mcp.Implementation{Name: "test", Version: "1"}
			res, err := c.Initialize(ctx, initReq)
			if err != nil {
				t.Fatalf("Initialize: %v", err)
			}
			if res.ProtocolVersion != "2025-06-18" || res.ServerInfo.Name != "joai-mock" {
				t.Errorf("Initialize = %+v", res)
			}
			tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil {
				t.Fatalf("ListTools: %v", err)
			}
			var names []string
			for _, tool := range tools.Tools {
				names = append(names, tool.Name)
			}
			if strings.Join(names, ",") != "prompt_agent,create_memory,update_memory" {
				t.Errorf("tools = %v", names)
			}
			call := mcp.CallToolRequest{}
			call.Params.Name = "prompt_agent"
			call.Params.Arguments = map[string]any{"message": "Hello from API!"}
			out, err := c.CallTool(ctx, call)
			if err != nil {
				t.Fatalf("CallTool: %v", err)
			}
			if text, ok := out.Content[0].(mcp.TextContent); !ok || !strings.HasPrefix(text.Text, "Hello! I am Ada") {
				t.Errorf("CallTool content = %+v", out.Content)
			}
			read := mcp.ReadResourceRequest{}
			read.Params.URI = "mcp://agent/" + in.AgentUUID + "/character"
			rr, err := c.ReadResource(ctx, read)
			if err != nil {
				t.Fatalf("ReadResource: %v", err)
			}
			if text, ok := rr.Contents[0].(mcp.TextResourceContents); !ok || !strings.HasPrefix(text.Text, "You are Ada") {
				t.Errorf("ReadResource contents = %+v", rr.Contents)
			}
		})
	}
}
