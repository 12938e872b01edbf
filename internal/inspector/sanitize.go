package inspector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/joai-ai/joai-mcp/internal/redact"
)

// bearerPattern matches "Bearer <credential>" in any letter case, with the
// credential in the b64token syntax of RFC 6750 section 2.1. A credential
// already in its redacted form starts with "…" and does not match.
var bearerPattern = regexp.MustCompile(`(?i)\bbearer(?:\s+|%20|\+)([A-Za-z0-9\-._~+/]+=*)`)

// bearerAtEnd matches text that ends where a Bearer credential would start.
var bearerAtEnd = regexp.MustCompile(`(?i)\bbearer(?:\s+|%20|\+)$`)

// isTokenRune reports whether r may occur in a Bearer credential.
func isTokenRune(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	}
	return strings.ContainsRune("-._~+/=", r)
}

// sanitize prepares ev for a page, as a second line of defence behind the
// producers, which redact before publishing. It replaces every Bearer
// credential in the text fields and messages by its [redact.Token] form,
// and then every other occurrence of the same credential. It also redacts
// a Token that is not in redacted form.
func sanitize(ev *Event) {
	var secrets []string
	ev.Request, secrets = redactBearer(ev.Request, secrets)
	ev.Response, secrets = redactBearer(ev.Response, secrets)
	for _, s := range []*string{&ev.Path, &ev.Method, &ev.ID, &ev.Note} {
		var b []byte
		b, secrets = redactBearer([]byte(*s), secrets)
		*s = string(b)
	}

	if len(secrets) > 0 {
		ev.Request = redact.Bytes(ev.Request, secrets...)
		ev.Response = redact.Bytes(ev.Response, secrets...)
		for _, s := range []*string{&ev.Path, &ev.Method, &ev.ID, &ev.Note, &ev.Token} {
			*s = redact.String(*s, secrets...)
		}
	}
	if !isRedacted(ev.Token) {
		ev.Token = redact.Token(ev.Token)
	}
}

// redactBearer replaces the credential of each Bearer match in b by its
// redacted form and appends to secrets the credentials long enough to
// search for elsewhere. Shorter ones would match ordinary words, and
// [redact.Token] hides them entirely anyway.
func redactBearer(b []byte, secrets []string) ([]byte, []string) {
	if !containsBearer(b) {
		return b, secrets
	}
	matches := bearerPattern.FindAllSubmatchIndex(b, -1)
	if matches == nil {
		return b, secrets
	}
	var out []byte
	last := 0
	for _, m := range matches {
		cred := string(b[m[2]:m[3]])
		out = append(out, b[last:m[2]]...)
		out = append(out, redact.Token(cred)...)
		last = m[3]
		if len(cred) > 8 {
			secrets = append(secrets, cred)
		}
	}
	return append(out, b[last:]...), secrets
}

// containsBearer reports whether b contains "bearer" in any letter case.
// It is much cheaper than bearerPattern, which most messages never need.
func containsBearer(b []byte) bool {
	for i := 0; i+len("bearer") <= len(b); i++ {
		j := bytes.IndexAny(b[i:], "bB")
		if j < 0 {
			return false
		}
		i += j
		if i+len("bearer") <= len(b) && bytes.EqualFold(b[i:i+len("bearer")], []byte("bearer")) {
			return true
		}
	}
	return false
}

// isRedacted reports whether tok is empty or in the form [redact.Token]
// returns: "…" followed by at most four characters.
func isRedacted(tok string) bool {
	if tok == "" {
		return true
	}
	rest, ok := strings.CutPrefix(tok, "…")
	return ok && utf8.RuneCountInString(rest) <= 4
}

// validJSON returns msg if it is valid JSON, and otherwise msg as a JSON
// string (with invalid UTF-8 replaced), so the page shows it as text.
func validJSON(msg json.RawMessage) json.RawMessage {
	if msg == nil || json.Valid(msg) {
		return msg
	}
	quoted, _ := json.Marshal(string(msg)) // a string never fails to encode
	return quoted
}

// formatBytes returns n as a short human-readable size, such as "1.5 KiB".
func formatBytes(n int) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
