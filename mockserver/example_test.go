package mockserver_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/joai-ai/joai-mcp/mockserver"
)

// post sends one JSON-RPC request to the seed's agent and returns the
// status and body.
func post(srv *mockserver.Server, body string) (int, string) {
	info := srv.Info()
	req, _ := http.NewRequest("POST", srv.AgentURL(info.AgentUUID), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+info.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func ExampleNewServer() {
	srv := mockserver.NewServer(nil)
	defer srv.Close()

	_, body := post(srv, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	var reply struct {
		Result struct {
			Tools []struct{ Name string } `json:"tools"`
		} `json:"result"`
	}
	json.Unmarshal([]byte(body), &reply)
	for _, t := range reply.Result.Tools {
		fmt.Println(t.Name)
	}
	// Output:
	// prompt_agent
	// create_memory
	// update_memory
}

func ExampleServer_AddFault() {
	srv := mockserver.NewServer(nil)
	defer srv.Close()

	srv.AddFault(mockserver.Fault{Method: "tools/call", Status: http.StatusServiceUnavailable, Count: 1})
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"Hello from API!"}}}`
	fmt.Println(post(srv, call))
	fmt.Println(post(srv, call))
	// Output:
	// 503 {"error":"server_error","error_description":"Injected fault"}
	// 200 {"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"Hello! I am Ada, the Northwind research assistant. How can I help?"}]}}
}

func ExampleServer_Requests() {
	srv := mockserver.NewServer(nil)
	defer srv.Close()

	post(srv, `{"jsonrpc":"2.0","id":"a","method":"ping"}`)
	for _, r := range srv.Requests() {
		fmt.Println(r.HTTPMethod, r.Method, r.ID, r.Status, r.Header.Get("Authorization"))
	}
	// Output:
	// POST ping "a" 200 Bearer …c3e1
}
