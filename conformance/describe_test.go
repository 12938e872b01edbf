package conformance

import (
	"net/http"
	"strings"
	"testing"
)

func TestRedactHeaderHidesCredentials(t *testing.T) {
	h := http.Header{
		"Authorization":  {"Bearer joai_secret_token_0123456789"},
		"Mcp-Session-Id": {"session-abcdef-123456"},
		"Accept":         {"application/json"},
	}
	got := redactHeader(h)
	if v := got.Get("Authorization"); v != "Bearer …6789" {
		t.Errorf("Authorization = %q, want Bearer …6789", v)
	}
	if v := got.Get("Mcp-Session-Id"); v != "…3456" {
		t.Errorf("Mcp-Session-Id = %q, want …3456", v)
	}
	if v := got.Get("Accept"); v != "application/json" {
		t.Errorf("Accept = %q, want it unchanged", v)
	}
	if h.Get("Authorization") != "Bearer joai_secret_token_0123456789" {
		t.Errorf("redactHeader changed its argument")
	}
}

func TestDescribeRequestShowsFramingBytes(t *testing.T) {
	got := describeRequest(&request{line: []byte("\n\n{\"id\":1}\r\n")})
	if want := `stdin: "\n\n{\"id\":1}\r\n"`; got != want {
		t.Errorf("describeRequest = %s, want %s", got, want)
	}
	got = describeRequest(&request{line: []byte(`{"id":1}` + "\n")})
	if want := `stdin: {"id":1}`; got != want {
		t.Errorf("describeRequest = %s, want %s", got, want)
	}
}

func TestDescribeReplyShortensLargeBodies(t *testing.T) {
	rep := &reply{Status: 200, Header: http.Header{"Content-Type": {"application/json"}, "Date": {"x"}}, Body: []byte(strings.Repeat("a", 5000))}
	got := describeReply(rep, TargetHTTP)
	if !strings.HasPrefix(got, "HTTP 200 OK\nContent-Type: application/json\n\naaaa") || strings.Contains(got, "Date") {
		t.Errorf("describeReply = %.100q..., want the status, headers without Date, and the body", got)
	}
	if !strings.HasSuffix(got, "… (5000 bytes)") {
		t.Errorf("describeReply does not shorten a 5000-byte body: ...%q", got[len(got)-40:])
	}
}
