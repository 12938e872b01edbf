package bridge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/joai-ai/joai-mcp/internal/redact"
)

// TransportOptions configure [NewHTTPTransport].
type TransportOptions struct {
	// CAFile is a PEM file of CA certificates trusted in addition to the
	// system's, for a corporate proxy or a private CA. Empty means none.
	CAFile string
	// Proxy chooses the proxy for a request. Nil means
	// http.ProxyFromEnvironment: HTTPS_PROXY, HTTP_PROXY and NO_PROXY from
	// the process environment, and never a proxy for loopback addresses.
	Proxy func(*http.Request) (*url.URL, error)
	// MaxConnsPerHost is the number of idle connections kept per host.
	// Zero means DefaultMaxConcurrent.
	MaxConnsPerHost int
}

// NewHTTPTransport returns the HTTP transport the bridge uses by default:
// HTTP/2 when the service offers it, bounded connection and TLS handshake
// times, the proxy from the environment, and the system's CA pool plus
// opts.CAFile. opts may be nil.
func NewHTTPTransport(opts *TransportOptions) (*http.Transport, error) {
	if opts == nil {
		opts = &TransportOptions{}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = opts.Proxy
	if t.Proxy == nil {
		t.Proxy = http.ProxyFromEnvironment
	}
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	conns := opts.MaxConnsPerHost
	if conns <= 0 {
		conns = DefaultMaxConcurrent
	}
	t.MaxIdleConns = conns
	t.MaxIdleConnsPerHost = conns
	if opts.CAFile != "" {
		pool, err := caPool(opts.CAFile)
		if err != nil {
			return nil, err
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return t, nil
}

// caPool returns the system's CA pool with the certificates of file added.
func caPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("CA file %s not found: fix --ca-file", file)
	}
	if err != nil {
		return nil, fmt.Errorf("reading CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s contains no PEM certificate: --ca-file needs a file with -----BEGIN CERTIFICATE----- blocks", file)
	}
	return pool, nil
}

// ParseEndpoint parses and checks the MCP endpoint URL. It must be https,
// or http on a loopback address (localhost, 127.0.0.0/8, ::1) unless
// allowInsecure is set, because the token would otherwise cross the network
// in clear text. User information in the URL is rejected, because it would
// end up in logs.
func ParseEndpoint(raw string, allowInsecure bool) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("no endpoint: pass --agent UUID or --url URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q: %v", raw, err)
	}
	if u.User != nil {
		return nil, fmt.Errorf("invalid URL %s: it must not contain a user name or password; the token goes in JOAI_API_TOKEN or --token-file", u.Redacted())
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("invalid URL %q: it has no host; use the form https://host/path", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopback(u.Hostname()) && !allowInsecure {
			return nil, fmt.Errorf("refusing plain http to %s: the token would cross the network unencrypted; use https, or pass --allow-insecure-http", u.Host)
		}
	default:
		return nil, fmt.Errorf("invalid URL %q: the scheme must be https (or http on a loopback address)", raw)
	}
	return u, nil
}

// IsLoopback reports whether host is "localhost", a name under
// ".localhost", or a loopback IP address.
func IsLoopback(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tokenCache keeps the token read from its source, so that a slow source is
// asked once, and remembers every token it saw, for redaction. A read from
// the source runs on a goroutine of its own and never under mu, because a
// token command may run for its whole timeout, and every message written to
// the host takes mu to redact the tokens seen.
type tokenCache struct {
	source TokenSource
	// mu guards the fields below.
	mu    sync.Mutex
	token string
	// header is the Authorization header of token for mcp-go.
	header map[string]string
	// all is every token seen that is long enough to redact, and allBytes
	// the same tokens as byte slices.
	all      []string
	allBytes [][]byte
	// fetch is the read from the source in progress, or nil.
	fetch *tokenFetch
}

// tokenFetch is one read from the token source, shared by every request
// that needs the token meanwhile.
type tokenFetch struct {
	// reload reports a read after a 401, through the source's Reload, of
	// the rejected token used. It logs its outcome to log.
	reload bool
	used   string
	log    *slog.Logger
	done   chan struct{}
	cancel context.CancelFunc
	// waiters counts the requests waiting for the result. It is guarded by
	// tokenCache.mu. When the last one gives up, the read is cancelled,
	// which stops a token command and its process group.
	waiters int
	// token and err are the result, set before done is closed.
	token string
	err   error
}

// get returns the cached token, reading it from the source the first time.
// It returns when ctx ends even if the source is still running.
func (t *tokenCache) get(ctx context.Context) (string, error) {
	t.mu.Lock()
	if t.token != "" {
		tok := t.token
		t.mu.Unlock()
		return tok, nil
	}
	f := t.joinLocked(ctx, nil)
	t.mu.Unlock()
	return t.wait(ctx, f)
}

// joinLocked returns the read in progress, or starts one, and counts the
// caller as one of its waiters. A new read is a reload of the current
// token when reload is not nil, and logs there.
func (t *tokenCache) joinLocked(ctx context.Context, reload *slog.Logger) *tokenFetch {
	f := t.fetch
	if f == nil {
		// The read must not end with the request that started it, because
		// other requests may be waiting for it too.
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &tokenFetch{reload: reload != nil, used: t.token, log: reload, done: make(chan struct{}), cancel: cancel}
		t.fetch = f
		go t.read(fctx, f)
	}
	f.waiters++
	return f
}

// read calls the source's Token, or Reload for a reload, and caches the
// token it returns.
func (t *tokenCache) read(ctx context.Context, f *tokenFetch) {
	var tok string
	var err error
	if f.reload {
		tok, err = t.source.Reload(ctx)
	} else {
		tok, err = t.source.Token(ctx)
	}
	f.cancel()
	if f.reload {
		switch {
		case err != nil:
			f.log.Warn("reloading the API token failed", "source", t.source.Describe(), "err", err)
		case tok != f.used:
			f.log.Info("the API token changed at its source", "source", t.source.Describe(), "token", redact.Token(tok))
		}
	}
	t.mu.Lock()
	if t.fetch == f {
		t.fetch = nil
		if err == nil {
			t.setLocked(tok)
		}
	}
	f.token, f.err = tok, err
	t.mu.Unlock()
	close(f.done)
}

// wait returns the result of f, or an error once ctx ends. The last waiter
// to give up cancels f and waits for the source to stop, so that no token
// command outlives the requests that needed it.
func (t *tokenCache) wait(ctx context.Context, f *tokenFetch) (string, error) {
	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
	}
	t.mu.Lock()
	f.waiters--
	last := f.waiters == 0
	if last && t.fetch == f {
		t.fetch = nil // the next request starts a new read
	}
	t.mu.Unlock()
	if last {
		f.cancel()
		<-f.done
	}
	cause := context.Cause(ctx)
	if errors.Is(cause, context.DeadlineExceeded) && last {
		return "", fmt.Errorf("%s was still running when the request timed out, so it was stopped: %w", t.source.Describe(), cause)
	}
	if errors.Is(cause, context.DeadlineExceeded) {
		return "", fmt.Errorf("%s was still running when the request timed out: %w", t.source.Describe(), cause)
	}
	return "", fmt.Errorf("%s did not supply the token before the request ended: %w", t.source.Describe(), cause)
}

// authHeader returns the Authorization header of the cached token, or nil
// when no token has been read yet. It never reads the source, because
// mcp-go's header function drops errors. The round tripper reads the token
// instead and reports a failure. Every call returns the same map until the
// token changes, so callers must not modify it.
func (t *tokenCache) authHeader(context.Context) (map[string]string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.header, nil
}

// reload reads the token from the source again after used was rejected, and reports whether
// a different token is now in use, so that a retry is worthwhile.
func (t *tokenCache) reload(ctx context.Context, used string, log *slog.Logger) bool {
	t.mu.Lock()
	if t.token != used {
		changed := t.token != ""
		t.mu.Unlock()
		return changed // another request already reloaded it
	}
	f := t.joinLocked(ctx, log)
	t.mu.Unlock()
	// The read logs its own failure, and an error here otherwise only
	// means that the request ended first.
	tok, err := t.wait(ctx, f)
	return err == nil && tok != used
}

func (t *tokenCache) setLocked(tok string) {
	t.token = tok
	t.header = map[string]string{"Authorization": "Bearer " + tok}
	if len(tok) < minRedactedLength {
		return
	}
	for _, s := range t.all {
		if s == tok {
			return
		}
	}
	t.all = append(t.all, tok)
	t.allBytes = append(t.allBytes, []byte(tok))
}

// minRedactedLength is the shortest token that is redacted from messages.
// A shorter one is left alone, because replacing every occurrence of, say,
// "t" would corrupt every message.
//
// NOTE: a token of fewer than 8 characters echoed by the service reaches
// the host unredacted; real JoAi tokens are much longer.
const minRedactedLength = 8

// seen returns every token used so far that is long enough to redact.
func (t *tokenCache) seen() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.all
}

// seenBytes returns the tokens of seen as byte slices, which callers must
// not modify.
func (t *tokenCache) seenBytes() [][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.allBytes
}

// redacted returns the current token in its redacted form, or "".
func (t *tokenCache) redacted() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == "" {
		return ""
	}
	return redact.Token(t.token)
}

// secrets returns the tokens to hide from messages.
func (b *Bridge) secrets() []string {
	return b.token.seen()
}
