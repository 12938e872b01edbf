package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/joai-ai/joai-mcp/internal/redact"
)

// maxShownBody is how much of a body a failure shows.
const maxShownBody = 2048

// describeRequest renders a request for a failure report, with the
// Authorization credentials redacted.
func describeRequest(req *request) string {
	if req.line != nil {
		return "stdin: " + showLine(req.line)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", req.method, req.url)
	writeHeader(&b, redactHeader(req.header))
	if len(req.body) > 0 {
		b.WriteString("\n")
		b.WriteString(snippet(req.body, maxShownBody))
	}
	return strings.TrimRight(b.String(), "\n")
}

// describeReply renders a reply for a failure report.
func describeReply(rep *reply, kind TargetKind) string {
	if kind == TargetStdio {
		return "stdout: " + snippet(rep.Body, maxShownBody)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d %s\n", rep.Status, http.StatusText(rep.Status))
	h := rep.Header.Clone()
	h.Del("Date")
	h.Del("Content-Length")
	writeHeader(&b, redactHeader(h))
	body := rep.Body
	if rep.Raw != nil {
		body = rep.Raw
	}
	if len(body) > 0 {
		b.WriteString("\n")
		b.WriteString(snippet(body, maxShownBody))
	}
	return strings.TrimRight(b.String(), "\n")
}

// redactHeader returns a copy of h with the credentials of Authorization
// and the Mcp-Session-Id, which also grants access to a session, in their
// redacted form.
func redactHeader(h http.Header) http.Header {
	out := redact.Header(h)
	if id := out.Get("Mcp-Session-Id"); id != "" {
		out.Set("Mcp-Session-Id", redact.Token(id))
	}
	return out
}

// writeHeader writes headers sorted by name, one value a line.
func writeHeader(b *strings.Builder, h http.Header) {
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range h[name] {
			fmt.Fprintf(b, "%s: %s\n", name, v)
		}
	}
}

// showLine renders text written to a bridge: as is when it is one plain
// line, quoted when it carries carriage returns, blank lines or other
// control characters, so that framing tests show their bytes.
func showLine(line []byte) string {
	s := strings.TrimSuffix(string(line), "\n")
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' }) {
		return snippet([]byte(strconv.Quote(string(line))), maxShownBody)
	}
	return snippet([]byte(s), maxShownBody)
}

// recordedHeaders are the reply headers a golden file keeps: those that
// describe the reply rather than the connection or the moment.
var recordedHeaders = []string{"Content-Type", "Retry-After", "Www-Authenticate", "Allow"}

// recordRequest returns the redacted form of a request for a golden file.
func (ss *session) recordRequest(req *request) RecordedRequest {
	if req.line != nil {
		return RecordedRequest{Body: ss.jsonOrString(req.line)}
	}
	rr := RecordedRequest{Method: req.method, Header: redactHeader(req.header)}
	if u, err := url.Parse(req.url); err == nil {
		rr.Path = u.RequestURI()
	}
	if len(req.body) > 0 {
		rr.Body = ss.jsonOrString(req.body)
	}
	return rr
}

// recordReply returns the redacted form of a reply for a golden file.
func (ss *session) recordReply(rep *reply) *RecordedReply {
	rr := &RecordedReply{Status: rep.Status}
	for _, name := range recordedHeaders {
		if values := rep.Header.Values(name); len(values) > 0 {
			if rr.Header == nil {
				rr.Header = http.Header{}
			}
			rr.Header[name] = values
		}
	}
	if len(rep.Body) > 0 {
		rr.Body = ss.jsonOrString(rep.Body)
	}
	return rr
}

// jsonOrString redacts b and returns it as JSON when it is valid JSON, or
// as a JSON string otherwise.
func (ss *session) jsonOrString(b []byte) json.RawMessage {
	b = redact.Bytes(append([]byte(nil), b...), ss.secrets...)
	trimmed := strings.TrimRight(string(b), "\r\n")
	if json.Valid([]byte(trimmed)) {
		if compact, err := compactJSON([]byte(trimmed)); err == nil {
			return compact
		}
	}
	s, _ := json.Marshal(string(b))
	return s
}

// compactJSON removes insignificant space from JSON, keeping key order.
func compactJSON(b []byte) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
