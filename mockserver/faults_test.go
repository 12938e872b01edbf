package mockserver

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStatusFault(t *testing.T) {
	tests := []struct {
		name   string
		fault  Fault
		status int
		body   string
		header string // name: value
	}{
		{"server-error", Fault{Status: 503}, 503, bodyInjected, ""},
		{"custom-body", Fault{Status: 500, Body: `{"oops":1}`, Header: map[string]string{"X-Fault": "yes"}}, 500, `{"oops":1}`, "X-Fault: yes"},
		{"rate-limited", Fault{Status: 429}, 429, bodyRateLimited, "Retry-After: 1"},
		{"rate-limited-custom-retry", Fault{Status: 429, Header: map[string]string{"Retry-After": "7"}}, 429, bodyRateLimited, "Retry-After: 7"},
		{"unauthorized", Fault{Status: 401}, 401, bodyUnauthorized, "WWW-Authenticate: Bearer"},
		{"forbidden", Fault{Status: 403}, 403, bodyInjected, ""},
		{"not-found", Fault{Status: 404}, 404, bodyAgentNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, nil)
			f := tt.fault
			f.Count = 1
			s.AddFault(f)
			got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
			if got.status != tt.status || got.body != tt.body {
				t.Errorf("faulted reply = %d %s, want %d %s", got.status, got.body, tt.status, tt.body)
			}
			if name, value, ok := strings.Cut(tt.header, ": "); ok && got.header.Get(name) != value {
				t.Errorf("%s = %q, want %q", name, got.header.Get(name), value)
			}
			if got := rpc(t, s, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`); got.status != 200 {
				t.Errorf("request after the fault's count = %d, want 200", got.status)
			}
		})
	}
}

func TestFaultMatching(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	s.AddFault(Fault{Method: "tools/call", Status: 503, Count: 2})
	s.AddFault(Fault{HTTPMethod: "GET", Path: "/api/*", Status: 500})
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"x"}}}`
	statuses := []int{
		rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`).status,
		rpc(t, s, call).status,
		rpc(t, s, call).status,
		rpc(t, s, call).status,
		do(t, "GET", s.URL+"/api/agents", in.Token, "").status,
		do(t, "GET", s.URL+"/api/tokens", in.Token, "").status,
		do(t, "GET", s.AgentURL(in.AgentUUID), in.Token, "").status,
	}
	want := []int{200, 503, 503, 200, 500, 500, 200}
	if diff := cmp.Diff(want, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	faults := s.Faults()
	if len(faults) != 1 || faults[0].Path != "/api/*" || faults[0].Count != 0 {
		t.Errorf("faults left = %+v, want only the unlimited /api/* fault", faults)
	}
	s.ClearFaults()
	if got := do(t, "GET", s.URL+"/api/agents", in.Token, ""); got.status != 200 {
		t.Errorf("after ClearFaults = %d, want 200", got.status)
	}
}

func TestLatencyFault(t *testing.T) {
	s := startServer(t, nil)
	s.AddFault(Fault{Method: "ping", Latency: 300 * time.Millisecond, Count: 1})
	start := time.Now()
	got := rpc(t, s, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	if elapsed := time.Since(start); elapsed < 300*time.Millisecond {
		t.Errorf("reply after %v, want at least the 300ms latency", elapsed)
	}
	if got.status != 200 {
		t.Errorf("status = %d, want 200", got.status)
	}
}

// post sends a request and returns the reply and the error reading it.
func post(tb testing.TB, s *Server, body string, accept string) (*http.Response, []byte, error) {
	tb.Helper()
	in := s.Info()
	req, _ := http.NewRequestWithContext(tb.Context(), "POST", s.AgentURL(in.AgentUUID), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+in.Token)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestDropFaults(t *testing.T) {
	s := startServer(t, nil)
	list := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`

	s.AddFault(Fault{Drop: DropBeforeReply, Count: 1})
	if _, _, err := post(t, s, list, ""); err == nil {
		t.Error("drop before reply: the request succeeded, want a connection error")
	}

	s.AddFault(Fault{Drop: DropAfterHeaders, Count: 1})
	resp, body, err := post(t, s, list, "")
	if err != nil && resp == nil {
		t.Fatalf("drop after headers: no status line: %v", err)
	}
	if resp.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("drop after headers = %d, %q, %v; want 200 then an unexpected EOF", resp.StatusCode, body, err)
	}
	if json.Valid(body) {
		t.Errorf("drop after headers delivered a whole body: %s", body)
	}

	if resp, _, err := post(t, s, list, ""); err != nil || resp.StatusCode != 200 {
		t.Errorf("request after the drops = %v, %v; want 200", resp, err)
	}
	// A dropped connection reaches the client before the server has
	// logged the request.
	dropped := func() int {
		n := 0
		for _, r := range s.Requests() {
			if strings.Contains(r.Fault, "drop") {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for dropped() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := dropped(); n != 2 {
		t.Errorf("request log has %d dropped requests, want 2", n)
	}
}

func TestCutAfterEvents(t *testing.T) {
	s := startServer(t, nil)
	in := s.Info()
	s.AddFault(Fault{Method: "tools/call", Progress: 3, CutAfterEvents: 2, Count: 1})
	st := openSSE(t, t.Context(), "POST", s.AgentURL(in.AgentUUID), in.Token,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":1},"name":"prompt_agent","arguments":{"message":"x"}}}`)
	defer st.close()
	events, err := st.all(t)
	if len(events) != 2 || err == nil {
		t.Errorf("events = %d, end = %v; want 2 events, then the connection cut", len(events), err)
	}
	for _, ev := range events {
		if field(t, ev.data, "method") != "notifications/progress" {
			t.Errorf("event %s, want only progress before the cut", ev.data)
		}
	}
}

func TestSlowBody(t *testing.T) {
	s := startServer(t, nil)
	s.AddFault(Fault{Method: "tools/list", SlowBytes: 200, SlowInterval: 20 * time.Millisecond, Count: 1})
	start := time.Now()
	resp, body, err := post(t, s, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, "")
	elapsed := time.Since(start)
	if err != nil || resp.StatusCode != 200 || field(t, string(body), "result.tools") == nil {
		t.Fatalf("slow body = %v %s, %v", resp, body, err)
	}
	chunks := (len(body) + 199) / 200
	if min := time.Duration(chunks-1) * 20 * time.Millisecond; elapsed < min {
		t.Errorf("%d chunks arrived in %v, want at least %v", chunks, elapsed, min)
	}
}

func TestSSEFault(t *testing.T) {
	s := startServer(t, nil)
	s.AddFault(Fault{Method: "ping", SSE: true, Count: 1})
	resp, body, err := post(t, s, `{"jsonrpc":"2.0","id":1,"method":"ping"}`, "application/json, text/event-stream")
	if err != nil || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("SSE fault: %v %v", resp, err)
	}
	if want := "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"; string(body) != want {
		t.Errorf("SSE body = %q, want %q", body, want)
	}
}

func TestBreakFaults(t *testing.T) {
	list := `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`
	t.Run("wrong-401-body", func(t *testing.T) {
		s := startServer(t, nil)
		s.AddFault(Fault{Break: BreakWrong401Body, Count: 1})
		got := do(t, "POST", s.AgentURL(s.Info().AgentUUID), "", list)
		if got.status != 401 || got.body == bodyUnauthorized {
			t.Errorf("401 under the break = %d %s, want 401 with another body", got.status, got.body)
		}
	})
	limited := func(t *testing.T, f Fault) reply {
		s := startServer(t, &Options{Limits: Limits{RequestsPerMinute: 1, Burst: -1, Window: time.Minute}})
		rpc(t, s, list)
		s.AddFault(f)
		return rpc(t, s, list)
	}
	t.Run("no-retry-after", func(t *testing.T) {
		got := limited(t, Fault{Break: BreakNoRetryAfter})
		if _, ok := got.header["Retry-After"]; got.status != 429 || ok {
			t.Errorf("429 under the break = %d, Retry-After %q; want none", got.status, got.header.Get("Retry-After"))
		}
	})
	t.Run("dishonest-retry-after", func(t *testing.T) {
		got := limited(t, Fault{Break: BreakDishonestRetryAfter})
		if ra, _ := strconv.Atoi(got.header.Get("Retry-After")); got.status != 429 || ra != 59 {
			t.Errorf("429 under the break = %d, Retry-After %q; want 59, one less than the real 60", got.status, got.header.Get("Retry-After"))
		}
	})
	t.Run("missing-tool", func(t *testing.T) {
		s := startServer(t, nil)
		s.AddFault(Fault{Method: "tools/list", Break: BreakMissingTool, Tool: "create_memory"})
		got := rpc(t, s, list)
		if strings.Contains(got.body, `"create_memory"`) || !strings.Contains(got.body, `"update_memory"`) {
			t.Errorf("tools/list under the break = %s, want create_memory gone", got.body)
		}
		listing := do(t, "GET", s.AgentURL(s.Info().AgentUUID), s.Info().Token, "")
		if !strings.Contains(listing.body, `"create_memory"`) {
			t.Errorf("the GET listing did not match the tools/list fault, so it keeps all tools: %s", listing.body)
		}
	})
	t.Run("changed-schema", func(t *testing.T) {
		s := startServer(t, nil)
		s.AddFault(Fault{Break: BreakChangedSchema, Count: 1})
		got := rpc(t, s, list)
		if !strings.Contains(got.body, `"message":{"type":"integer"`) {
			t.Errorf("tools/list under the break = %s, want message of type integer", got.body)
		}
	})
}

func TestFaultJSON(t *testing.T) {
	f := Fault{Method: "tools/call", Count: 2, Latency: 250 * time.Millisecond, Status: 503, SlowBytes: 4, SlowInterval: time.Second}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"method":"tools/call","count":2,"status":503,"slow_bytes":4,"latency":"250ms","slow_interval":"1s"}`
	if string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	var back Fault
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Latency != f.Latency || back.SlowInterval != f.SlowInterval || back.Method != f.Method || back.Status != f.Status {
		t.Errorf("round trip = %+v, want %+v", back, f)
	}
	if err := json.Unmarshal([]byte(`{"latency":"fast"}`), &back); err == nil || !strings.Contains(err.Error(), "latency") {
		t.Errorf("Unmarshal bad latency: %v, want an error naming latency", err)
	}
}

func TestAddFaultPanicsOnInvalid(t *testing.T) {
	s := startServer(t, nil)
	for _, f := range []Fault{{Status: 99}, {Break: "everything"}, {SlowBytes: 1}, {ServerRequest: "tools/list"}, {Count: -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("AddFault(%+v) did not panic", f)
				}
			}()
			s.AddFault(f)
		}()
	}
}

func TestFaultJSONErrorsInUserWords(t *testing.T) {
	s := startServer(t, nil)
	tests := []struct {
		name, body, want string
	}{
		{"empty-object", `{}`, "the fault has no effect"},
		{"match-only", `{"method":"tools/call","count":1}`, "the fault has no effect"},
		{"header-without-status", `{"header":{"X-A":"b"}}`, "the fault has no effect"},
		{"array", `[{"status":503}]`, "a fault is a JSON object such as"},
		{"string", `"503"`, "not a string"},
		{"wrong-field-type", `{"status":"503"}`, "fault field status must be an integer, not a JSON string"},
		{"wrong-header-type", `{"status":503,"header":"X-A: b"}`, "fault field header must be an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := do(t, "POST", s.URL+"/_mock/faults", "", tt.body)
			if got.status != 400 {
				t.Errorf("status = %d, want 400", got.status)
			}
			desc, _ := field(t, got.body, "error_description").(string)
			if !strings.Contains(desc, tt.want) {
				t.Errorf("error_description = %q, want it to contain %q", desc, tt.want)
			}
			if strings.Contains(desc, "mockserver.") || strings.Contains(desc, "faultJSON") {
				t.Errorf("error_description = %q names a Go type", desc)
			}
		})
	}
	if faults := s.Faults(); len(faults) != 0 {
		t.Errorf("installed faults = %+v, want none", faults)
	}
}
