package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/internal/redact"
)

// maxReplyBytes bounds a reply read by the setup subcommands.
const maxReplyBytes = 16 << 20

// clientProtocolVersion is the MCP revision the one-shot client asks for.
const clientProtocolVersion = "2025-11-25"

// newHTTPClient returns a client with the bridge's own transport: the
// proxy from HTTPS_PROXY, HTTP_PROXY and NO_PROXY, and the system's
// certificates plus those in caFile.
func newHTTPClient(caFile string) (*http.Client, error) {
	tr, err := bridge.NewHTTPTransport(&bridge.TransportOptions{CAFile: caFile})
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: tr}, nil
}

// httpStatusError is a reply with a status other than 2xx.
type httpStatusError struct {
	Status int
	// Code and Description are the service's "error" and
	// "error_description", when the body has them.
	Code, Description string
	// RetryAfter is the Retry-After header, or empty.
	RetryAfter string
}

func (e *httpStatusError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		msg += ": " + e.Code
		if e.Description != "" {
			msg += " (" + e.Description + ")"
		}
	}
	if e.RetryAfter != "" {
		msg += ", Retry-After " + e.RetryAfter
	}
	return msg
}

// rpcError is a JSON-RPC error response.
type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *rpcError) Error() string {
	return fmt.Sprintf("JSON-RPC error %d: %s", e.Code, e.Message)
}

// rpcClient sends JSON-RPC requests to one agent endpoint over Streamable
// HTTP, for the one-shot subcommands. Replies may be JSON or an SSE stream.
// It is not safe for concurrent use.
type rpcClient struct {
	http  *http.Client
	url   string
	token string
	// source, when set, is read again once after a 401, and the request is
	// retried with the new token if it changed.
	source interface {
		Reload(ctx context.Context) (string, error)
	}

	session  string // Mcp-Session-Id from initialize, if any
	protocol string // negotiated protocol version, after initialize
	nextID   int
}

// message is the part of a JSON-RPC message the client reads.
type message struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *rpcError       `json:"error,omitempty"`
}

// initialize runs the MCP lifecycle's first step and sends
// notifications/initialized, as MCP 2025-11-25 §Lifecycle requires before
// other requests.
func (c *rpcClient) initialize(ctx context.Context) error {
	params := map[string]any{
		"protocolVersion": clientProtocolVersion,
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "joai-bridge", "version": "setup"},
	}
	result, err := c.request(ctx, "initialize", params)
	if err != nil {
		return err
	}
	var r struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if err := json.Unmarshal(result, &r); err != nil || r.ProtocolVersion == "" {
		return fmt.Errorf("the initialize result has no protocolVersion")
	}
	c.protocol = r.ProtocolVersion
	return c.notify(ctx, "notifications/initialized")
}

// request sends a request and returns its result, or an error that is an
// *httpStatusError, an *rpcError or a transport error.
func (c *rpcClient) request(ctx context.Context, method string, params any) (json.RawMessage, error) {
	c.nextID++
	id := json.RawMessage(strconv.Itoa(c.nextID))
	body := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if params != nil {
		body["params"] = params
	}
	resp, err := c.post(ctx, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if method == "initialize" {
		c.session = resp.Header.Get("Mcp-Session-Id")
	}

	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mediaType == "text/event-stream" {
		return c.readStream(ctx, resp.Body, id)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		return nil, fmt.Errorf("reading the reply to %s: %w", method, err)
	}
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("the reply to %s is not a JSON-RPC message (%v)", method, err)
	}
	return resultOf(m, method)
}

func resultOf(m message, method string) (json.RawMessage, error) {
	if m.Error != nil {
		return nil, m.Error
	}
	if m.Result == nil {
		return nil, fmt.Errorf("the reply to %s has neither result nor error", method)
	}
	return m.Result, nil
}

// notify sends a notification, which the server acknowledges with 202.
func (c *rpcClient) notify(ctx context.Context, method string) error {
	resp, err := c.post(ctx, map[string]any{"jsonrpc": "2.0", "method": method})
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxReplyBytes))
	return resp.Body.Close()
}

// post sends one message and returns the reply when its status is 2xx.
func (c *rpcClient) post(ctx context.Context, msg any) (*http.Response, error) {
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if c.session != "" {
		req.Header.Set("Mcp-Session-Id", c.session)
	}
	if c.protocol != "" {
		req.Header.Set("MCP-Protocol-Version", c.protocol)
	}
	return c.do(req)
}

// get fetches url with the token and returns the body of a 2xx reply.
func (c *rpcClient) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
}

func (c *rpcClient) do(req *http.Request) (*http.Response, error) {
	resp, err := c.send(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized && c.source != nil {
		// The user may have rotated the token since it was read: read the
		// same source again and retry once if it changed.
		if tok, rerr := c.source.Reload(req.Context()); rerr == nil && tok != c.token {
			retry := req.Clone(req.Context())
			if req.GetBody != nil {
				if retry.Body, err = req.GetBody(); err != nil {
					resp.Body.Close()
					return nil, err
				}
			}
			resp.Body.Close()
			c.token = tok
			if resp, err = c.send(retry); err != nil {
				return nil, err
			}
		}
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	se := &httpStatusError{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After")}
	var body struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(b, &body) == nil {
		se.Code = redact.String(body.Error, c.token)
		se.Description = redact.String(body.ErrorDescription, c.token)
	}
	return nil, se
}

// send sends req with the current token. The error keeps its type for
// diagnose; it names the method and URL, never the headers, so the token is
// not in it.
func (c *rpcClient) send(req *http.Request) (*http.Response, error) {
	req.Header.Set("Authorization", "Bearer "+c.token)
	return c.http.Do(req)
}

// readStream reads SSE events until the response to id arrives. Requests
// from the server on the stream are answered: ping with an empty result,
// anything else with "method not found", because the one-shot client
// declares no capabilities.
func (c *rpcClient) readStream(ctx context.Context, body io.Reader, id json.RawMessage) (json.RawMessage, error) {
	sc := bufio.NewScanner(io.LimitReader(body, maxReplyBytes))
	sc.Buffer(make([]byte, 0, 64<<10), maxReplyBytes)
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			if v, ok := strings.CutPrefix(line, "data:"); ok {
				data = append(data, strings.TrimPrefix(v, " "))
			}
			continue
		}
		if len(data) == 0 {
			continue
		}
		payload := strings.Join(data, "\n")
		data = nil
		var m message
		if json.Unmarshal([]byte(payload), &m) != nil {
			continue
		}
		switch {
		case m.Method != "" && m.ID != nil:
			c.answer(ctx, m)
		case m.Method == "" && bytes.Equal(m.ID, id):
			return resultOf(m, "the request")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the event stream: %w", err)
	}
	return nil, errors.New("the event stream ended before the response arrived")
}

// answer replies to a request the server sent on an event stream.
func (c *rpcClient) answer(ctx context.Context, m message) {
	reply := map[string]any{"jsonrpc": "2.0", "id": m.ID}
	if m.Method == "ping" {
		reply["result"] = map[string]any{}
	} else {
		reply["error"] = rpcError{Code: -32601, Message: "joai-bridge's one-shot client does not support " + m.Method}
	}
	if resp, err := c.post(ctx, reply); err == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxReplyBytes))
		resp.Body.Close()
	}
}
