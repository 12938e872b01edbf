package credentials

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/joai-ai/joai-mcp/internal/redact"
)

func redactTok(tok string) string { return redact.Token(tok) }

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestChainUsesFirstSourceWithToken(t *testing.T) {
	first := &staticSource{name: "first", err: notFound("first")}
	second := &staticSource{name: "second", tok: goodToken}
	third := &staticSource{name: "third", tok: goodToken + "3"}
	c := NewChain(first, second, third)

	tok, err := c.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tok != goodToken {
		t.Errorf("Token() = %s, want the second source's", redactTok(tok))
	}
	if c.Current() != second || c.Describe() != "second" {
		t.Errorf("Current() = %v, Describe() = %q, want the second source", c.Current(), c.Describe())
	}
}

func TestChainNoToken(t *testing.T) {
	c := NewChain(&staticSource{name: "JOAI_API_TOKEN", err: notFound("unset")}, &staticSource{name: "the keychain", err: notFound("none")})
	_, err := c.Token(t.Context())
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Token() = %v, want ErrNotFound", err)
	}
	for _, want := range []string{"JOAI_API_TOKEN, then the keychain", "joai-bridge login"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Token() error %q does not contain %q", err, want)
		}
	}
}

func TestChainStopsAtBrokenSource(t *testing.T) {
	broken := &staticSource{name: "--token-file /x", err: errors.New("permission denied")}
	c := NewChain(broken, &staticSource{name: "keychain", tok: goodToken})
	if _, err := c.Token(t.Context()); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("Token() = %v, want the broken source's error instead of a fallback", err)
	}
}

func TestChainRejectsMalformedToken(t *testing.T) {
	c := NewChain(&staticSource{name: "JOAI_API_TOKEN", tok: goodToken + " "})
	_, err := c.Token(t.Context())
	if err == nil {
		t.Fatal("Token() accepted a token with a trailing space")
	}
	if want := "token from JOAI_API_TOKEN is malformed: the token ends with a space"; !strings.Contains(err.Error(), want) {
		t.Errorf("Token() = %q, want it to contain %q", err, want)
	}
	if strings.Contains(err.Error(), goodToken) {
		t.Errorf("Token() error contains the token")
	}
}

func TestChainReloadRereadsSameSource(t *testing.T) {
	s := newTestStore(t, NoKeyring(""))
	if _, err := s.Save(testAccount, goodToken); err != nil {
		t.Fatal(err)
	}
	env := &staticSource{name: "JOAI_API_TOKEN", err: notFound("unset")}
	c := NewChain(env, s.KeychainSource(testAccount), s.FileSource(testAccount))

	tok, err := c.Token(t.Context())
	if err != nil || tok != goodToken {
		t.Fatalf("Token() = %s, %v", redactTok(tok), err)
	}
	if _, err := s.Save(testAccount, goodToken+"new"); err != nil {
		t.Fatal(err)
	}
	if tok, _ := c.Token(t.Context()); tok != goodToken {
		t.Errorf("Token() before Reload = %s, want the remembered token", redactTok(tok))
	}
	tok, err = c.Reload(t.Context())
	if err != nil || tok != goodToken+"new" {
		t.Fatalf("Reload() = %s, %v, want the rotated token", redactTok(tok), err)
	}
	if env.reloads != 0 {
		t.Errorf("Reload read JOAI_API_TOKEN %d times, want only the file", env.reloads)
	}
	if tok, _ := c.Token(t.Context()); tok != goodToken+"new" {
		t.Errorf("Token() after Reload = %s, want the rotated token", redactTok(tok))
	}
}

func TestChainReloadWalksAgainWhenSourceEmptied(t *testing.T) {
	first := &staticSource{name: "first", tok: goodToken}
	second := &staticSource{name: "second", tok: goodToken + "2"}
	c := NewChain(first, second)
	if _, err := c.Token(t.Context()); err != nil {
		t.Fatal(err)
	}
	first.set("", notFound("removed"))
	tok, err := c.Reload(t.Context())
	if err != nil || tok != goodToken+"2" {
		t.Fatalf("Reload() = %s, %v, want the second source's token", redactTok(tok), err)
	}
	if c.Current() != second {
		t.Errorf("Current() = %v, want the second source", c.Current())
	}
}

func TestChainConcurrentUse(t *testing.T) {
	c := NewChain(&staticSource{name: "s", tok: goodToken})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.Token(t.Context()); err != nil {
				t.Error(err)
			}
			if _, err := c.Reload(t.Context()); err != nil {
				t.Error(err)
			}
			_ = c.Describe()
		})
	}
	wg.Wait()
}

func TestKeychainSourceUnavailableMovesOn(t *testing.T) {
	s := newTestStore(t, NoKeyring("no Secret Service"))
	if _, err := s.Save(testAccount, goodToken); err != nil {
		t.Fatal(err)
	}
	c := NewChain(s.KeychainSource(testAccount), s.FileSource(testAccount))
	tok, err := c.Token(t.Context())
	if err != nil || tok != goodToken {
		t.Fatalf("Token() = %s, %v, want the file's token", redactTok(tok), err)
	}
	if got := c.Describe(); got != "the file "+s.FallbackPath() {
		t.Errorf("Describe() = %q, want the fallback file", got)
	}
}

// blockingSource is a Source whose Token waits until release is closed or
// its context ends, like a token command that waits for an unlock.
type blockingSource struct {
	started chan struct{}
	release chan struct{}
}

func (s *blockingSource) Token(ctx context.Context) (string, error) {
	close(s.started)
	select {
	case <-s.release:
		return goodToken, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (s *blockingSource) Reload(ctx context.Context) (string, error) { return s.Token(ctx) }

func (s *blockingSource) Describe() string { return "--token-command (unlock)" }

func TestChainDoesNotWaitForRunningSource(t *testing.T) {
	src := &blockingSource{started: make(chan struct{}), release: make(chan struct{})}
	c := NewChain(src)
	first := make(chan error, 1)
	go func() {
		_, err := c.Token(t.Context())
		first <- err
	}()
	<-src.started

	// Describe and Current return at once while the first Token runs.
	if got := c.Describe(); got != "--token-command (unlock)" {
		t.Errorf("Describe() = %q while the source runs, want the source's name", got)
	}
	if got := c.Current(); got != nil {
		t.Errorf("Current() = %v while the source runs, want nil", got)
	}

	// A second Token gives up when its context ends.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Token(cancelled context) = %v while another call reads, want context.Canceled", err)
	}

	close(src.release)
	if err := <-first; err != nil {
		t.Fatalf("first Token() = %v", err)
	}
	tok, err := c.Token(t.Context())
	if err != nil || tok != goodToken {
		t.Errorf("Token() after the read = %s, %v; want the source's token", redactTok(tok), err)
	}
}

func TestEnvSourceKeepsValueAsIs(t *testing.T) {
	env := map[string]string{"JOAI_API_TOKEN": goodToken + "\n"}
	c := NewChain(EnvSource("JOAI_API_TOKEN", func(k string) string { return env[k] }))
	_, err := c.Token(t.Context())
	if want := "token from JOAI_API_TOKEN is malformed: the token contains a line break"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Token() with a trailing newline = %v, want an error containing %q", err, want)
	}

	delete(env, "JOAI_API_TOKEN")
	if _, err := EnvSource("JOAI_API_TOKEN", func(k string) string { return env[k] }).Token(t.Context()); !errors.Is(err, ErrNotFound) {
		t.Errorf("Token() with the variable unset = %v, want ErrNotFound", err)
	}
}
