package conformance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/joai-ai/joai-mcp/bridge"
)

// The stand-in bridge is a minimal stdio-to-HTTP relay that the tests run
// by re-executing the test binary, so that the stdio runner can be tested
// without the real bridge. It relays each message to the URL in its first
// argument with JOAI_API_TOKEN, writes the reply as one line, and turns an
// HTTP error into a JSON-RPC error with data.httpStatus and the real
// bridge's code for that status. Its flaw, when
// JOAI_STANDIN_FLAW names one, is a deliberate bug that a framing fixture
// must catch.
const standInEnv = "JOAI_CONFORMANCE_STANDIN_BRIDGE"

// Stand-in flaws.
const (
	flawNone        = ""
	flawBlankLines  = "answer-blank-lines" // replies -32700 to blank lines
	flawNoCRLF      = "reject-crlf"        // replies -32700 to a line ending in CRLF
	flawExitNonZero = "exit-1"             // exits with status 1 at EOF
)

// runStandInBridge is the stand-in's main function.
func runStandInBridge(args []string, stdin io.Reader, stdout io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "stand-in bridge: usage: AGENT_URL")
		return 2
	}
	url, token, flaw := args[0], os.Getenv("JOAI_API_TOKEN"), os.Getenv("JOAI_STANDIN_FLAW")
	var mu sync.Mutex
	write := func(msg []byte) {
		mu.Lock()
		defer mu.Unlock()
		stdout.Write(append(bytes.TrimSpace(msg), '\n'))
	}
	br := bufio.NewReaderSize(stdin, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			standInHandle(url, token, flaw, line, write)
		}
		if err != nil {
			break
		}
	}
	if flaw == flawExitNonZero {
		return 1
	}
	return 0
}

func standInHandle(url, token, flaw string, line []byte, write func([]byte)) {
	line = bytes.TrimSuffix(line, []byte("\n"))
	if flaw == flawNoCRLF && bytes.HasSuffix(line, []byte("\r")) {
		write([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"stray carriage return"}}`))
		return
	}
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(bytes.TrimSpace(line)) == 0 {
		if flaw == flawBlankLines {
			write([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"empty line"}}`))
		}
		return
	}
	if !json.Valid(line) {
		write([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`))
		return
	}
	if bytes.HasPrefix(bytes.TrimSpace(line), []byte("[")) {
		write([]byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batches are not supported"}}`))
		return
	}
	var hdr struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
	}
	json.Unmarshal(line, &hdr)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(line))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if hdr.ID != nil {
			write(standInError(hdr.ID, 0, nil, err.Error(), ""))
		}
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if hdr.ID == nil || hdr.Method == "" {
		return
	}
	if resp.StatusCode/100 == 2 || (resp.StatusCode == http.StatusBadRequest && bytes.Contains(body, []byte(`"jsonrpc"`))) {
		write(body)
		return
	}
	write(standInError(hdr.ID, resp.StatusCode, body, resp.Status, resp.Header.Get("Retry-After")))
}

func standInError(id json.RawMessage, status int, body []byte, message, retryAfter string) []byte {
	data := map[string]any{"httpStatus": status}
	var service struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &service) == nil && service.Error != "" {
		data["error"], data["error_description"] = service.Error, service.Description
	}
	if n, err := strconv.Atoi(strings.TrimSpace(retryAfter)); err == nil {
		data["retryAfterSeconds"] = n
	}
	msg, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": id,
		"error": map[string]any{"code": standInCode(status), "message": "upstream: " + message, "data": data},
	})
	return msg
}

// standInCode maps an HTTP status to the real bridge's error code.
func standInCode(status int) int {
	switch {
	case status == http.StatusBadRequest:
		return bridge.CodeBadRequest
	case status == http.StatusUnauthorized:
		return bridge.CodeUnauthorized
	case status == http.StatusForbidden:
		return bridge.CodeForbidden
	case status == http.StatusNotFound:
		return bridge.CodeNotFound
	case status == http.StatusTooManyRequests:
		return bridge.CodeRateLimited
	case status >= 500:
		return bridge.CodeServiceError
	case status == 0:
		return bridge.CodeUnreachable
	}
	return bridge.CodeRejected
}
