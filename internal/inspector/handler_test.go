package inspector

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

func TestFeedOrigin(t *testing.T) {
	_, srv := startHub(t, nil)
	host := strings.TrimPrefix(srv.URL, "http://")
	port := host[strings.LastIndex(host, ":")+1:]
	tests := []struct {
		name   string
		origin string
		want   int
	}{
		{"same-origin", srv.URL, http.StatusSwitchingProtocols},
		{"same-origin-https", "https://" + host, http.StatusSwitchingProtocols},
		{"no-origin", "", http.StatusSwitchingProtocols},
		{"other-site", "http://evil.example", http.StatusForbidden},
		{"other-site-same-port", "http://evil.example:" + port, http.StatusForbidden},
		{"same-host-other-port", "http://127.0.0.1:1", http.StatusForbidden},
		{"localhost-for-ip", "http://localhost:" + port, http.StatusForbidden},
		{"null", "null", http.StatusForbidden},
		{"file-scheme", "file://" + host, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{}
			if tt.origin != "" {
				hdr.Set("Origin", tt.origin)
			}
			conn, resp, err := websocket.DefaultDialer.DialContext(t.Context(), feedURL(srv), hdr)
			if conn != nil {
				conn.Close()
			}
			if resp == nil {
				t.Fatalf("Dial with Origin %q: no response (%v)", tt.origin, err)
			}
			if resp.StatusCode != tt.want {
				t.Errorf("Dial with Origin %q: status %d, want %d", tt.origin, resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusForbidden {
				body, _ := io.ReadAll(resp.Body)
				if !strings.Contains(string(body), "may not read the feed") {
					t.Errorf("403 body = %q, want it to say why", body)
				}
			}
		})
	}
}

func TestHandlerRejectsNonLoopbackHost(t *testing.T) {
	_, srv := startHub(t, nil)
	for _, host := range []string{"evil.example", "evil.example:80", "192.0.2.1", "127.0.0.1.evil.example"} {
		t.Run(host, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = host
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("GET with Host %q: status %d, want 403", host, resp.StatusCode)
			}
		})
	}
}

func TestIsLoopbackHost(t *testing.T) {
	tests := map[string]bool{
		"127.0.0.1:8080": true, "127.0.0.1": true, "[::1]:80": true, "localhost:1": true,
		"LOCALHOST": true, "127.9.9.9:1": true, "[::1]": true, "::1": true,
		"": false, "0.0.0.0:80": false, "example.com": false, "10.0.0.1:80": false, "[::]:80": false,
	}
	for host, want := range tests {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestHandlerServesPage(t *testing.T) {
	_, srv := startHub(t, nil)
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET page: status %d, want 200", resp.StatusCode)
	}
	if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q, want text/html; charset=utf-8", got)
	}
	if !strings.Contains(string(body), `<table`) || !strings.Contains(string(body), "new WebSocket(") {
		t.Errorf("page body does not look like the inspector page:\n%.300s", body)
	}

	// The page is self-contained: nothing is loaded from another address.
	for _, m := range regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*"([^"]*)"`).FindAllStringSubmatch(string(body), -1) {
		if !strings.HasPrefix(m[1], "data:") {
			t.Errorf("page loads %q, want only inline or data: resources", m[1])
		}
	}
	if strings.Contains(string(body), "@import") || strings.Contains(string(body), "url(") {
		t.Error("page style loads a resource, want none")
	}

	// The policy allows the page's own script by hash, and nothing else.
	csp := resp.Header.Get("Content-Security-Policy")
	script := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindSubmatch(body)
	if script == nil {
		t.Fatal("page has no inline script")
	}
	sum := sha256.Sum256(script[1])
	if want := "script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
		t.Errorf("Content-Security-Policy = %q, want it to contain %q", csp, want)
	}
	for _, want := range []string{"default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy = %q, want it to contain %q", csp, want)
		}
	}
}

func TestHandlerRejectsPost(t *testing.T) {
	_, srv := startHub(t, nil)
	resp, err := srv.Client().Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q, want 405 and GET, HEAD", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
