package inspector

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestListenRejectsNonLoopback(t *testing.T) {
	for _, addr := range []string{":8222", "0.0.0.0:8222", "[::]:8222", "192.0.2.1:8222", "example.com:8222", "127.0.0.1", "8222"} {
		t.Run(addr, func(t *testing.T) {
			s, err := Listen(addr, nil)
			if err == nil {
				s.Close()
				t.Fatalf("Listen(%q) succeeded, want an error", addr)
			}
			if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "127.0.0.1:8222") {
				t.Errorf("Listen(%q) error = %q, want it to name the address and an example", addr, err)
			}
		})
	}
}

func TestListenServesPage(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "localhost:0"} {
		t.Run(addr, func(t *testing.T) {
			s, err := Listen(addr, &Options{Title: "joai-bridge"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || !strings.HasSuffix(s.URL, "/") {
				t.Errorf("URL = %q, want http://127.0.0.1:PORT/", s.URL)
			}

			resp, err := http.Get(s.URL)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "JoAi inspector") {
				t.Errorf("GET %s: status %d, want 200 and the page", s.URL, resp.StatusCode)
			}

			resp, err = http.Get(s.URL + "other")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %sother: status %d, want 404", s.URL, resp.StatusCode)
			}

			if err := s.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close = %v", err)
			}
		})
	}
}
