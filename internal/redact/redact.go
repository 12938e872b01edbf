// Package redact hides API tokens before they reach a log, an error, a report
// or a page. Only the last four characters of a token are ever shown.
//
//	slog.Info("token loaded", "token", redact.Token(tok)) // token=…f00d
package redact

import (
	"bytes"
	"net/http"
	"strings"
)

// Token returns the form of tok that may be shown: an ellipsis followed by its
// last four characters, or "…" alone when tok is too short to hide anything.
func Token(tok string) string {
	tok = strings.TrimSpace(tok)
	if len(tok) <= 8 {
		return "…"
	}
	return "…" + tok[len(tok)-4:]
}

// Bytes returns b with every occurrence of each non-empty secret replaced by
// its [Token] form. It returns b itself when no secret occurs in it.
func Bytes(b []byte, secrets ...string) []byte {
	for _, s := range secrets {
		if s == "" || !bytes.Contains(b, []byte(s)) {
			continue
		}
		b = bytes.ReplaceAll(b, []byte(s), []byte(Token(s)))
	}
	return b
}

// String is [Bytes] for strings.
func String(s string, secrets ...string) string {
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, Token(secret))
		}
	}
	return s
}

// Header returns a copy of h in which the credentials of Authorization and
// Proxy-Authorization are replaced by their [Token] form, keeping the scheme.
func Header(h http.Header) http.Header {
	out := h.Clone()
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		values := out.Values(name)
		for i, v := range values {
			scheme, cred, ok := strings.Cut(v, " ")
			if !ok {
				values[i] = Token(v)
				continue
			}
			values[i] = scheme + " " + Token(cred)
		}
	}
	return out
}
