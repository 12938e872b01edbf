package redact

import (
	"net/http"
	"strings"
	"testing"
)

func TestToken(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"joai_live_0123456789abcdef", "…cdef"},
		{"  joai_live_0123456789abcdef\n", "…cdef"},
		{"short", "…"},
		{"", "…"},
	}
	for _, tt := range tests {
		if got := Token(tt.in); got != tt.want {
			t.Errorf("Token(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestBytesReplacesEveryOccurrence(t *testing.T) {
	secret := "joai_live_0123456789abcdef"
	in := []byte(`{"a":"` + secret + `","b":"Bearer ` + secret + `"}`)
	got := string(Bytes(in, secret, ""))
	if strings.Contains(got, secret) {
		t.Fatalf("Bytes left the secret in %s", got)
	}
	if n := strings.Count(got, "…cdef"); n != 2 {
		t.Errorf("Bytes(...) has %d redacted forms, want 2: %s", n, got)
	}
}

func TestHeaderKeepsScheme(t *testing.T) {
	h := http.Header{}
	h.Set("Authorization", "Bearer joai_live_0123456789abcdef")
	h.Set("Accept", "application/json")
	got := Header(h)
	if v := got.Get("Authorization"); v != "Bearer …cdef" {
		t.Errorf("Authorization = %q, want %q", v, "Bearer …cdef")
	}
	if v := h.Get("Authorization"); v != "Bearer joai_live_0123456789abcdef" {
		t.Errorf("Header changed its argument: %q", v)
	}
	if v := got.Get("Accept"); v != "application/json" {
		t.Errorf("Accept = %q, want it unchanged", v)
	}
}
