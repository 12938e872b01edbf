package credentials

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Source is one place a token may come from. It has the method set of the
// bridge's TokenSource. Token and Reload return an error wrapping
// [ErrNotFound] when the source has no token, so that a [Chain] moves on to
// the next one; any other error stops the chain.
type Source interface {
	// Token returns the current token.
	Token(ctx context.Context) (string, error)
	// Reload reads the token again, after the service rejected it.
	Reload(ctx context.Context) (string, error)
	// Describe names the source in messages, never with the token.
	Describe() string
}

// Chain is a [Source] that tries its sources in order and uses the first that
// has a token. Every token it returns has passed [Check]. It remembers the
// token and the source it came from: Token returns the remembered token
// until Reload reads that same source again. A Chain is safe for concurrent
// use: one call at a time reads the sources, and Describe and Current
// never wait for a source that is still running, such as a token command.
type Chain struct {
	sources []Source

	// reading holds one token while a call reads the sources, so that a
	// waiting call can give up when its context ends.
	reading chan struct{}

	// mu guards current and token.
	mu      sync.Mutex
	current Source
	token   string
}

// NewChain returns a Chain over sources, tried in the order given. It panics
// when sources is empty, which is a programming error.
func NewChain(sources ...Source) *Chain {
	if len(sources) == 0 {
		panic("credentials: NewChain needs at least one source")
	}
	return &Chain{sources: sources, reading: make(chan struct{}, 1)}
}

// Token returns the remembered token, or finds one through the sources. When
// none has a token, the error wraps [ErrNotFound] and lists what was tried.
func (c *Chain) Token(ctx context.Context) (string, error) {
	if tok, ok := c.remembered(); ok {
		return tok, nil
	}
	if err := c.startReading(ctx); err != nil {
		return "", err
	}
	defer c.stopReading()
	if tok, ok := c.remembered(); ok {
		return tok, nil // found by the call that read before this one
	}
	return c.find(ctx)
}

// remembered returns the remembered token, if there is one.
func (c *Chain) remembered() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token, c.current != nil
}

// startReading waits until no other call reads the sources, or ctx ends.
func (c *Chain) startReading(ctx context.Context) error {
	select {
	case c.reading <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Chain) stopReading() { <-c.reading }

// remember records tok and its source s; a nil s forgets the token.
func (c *Chain) remember(s Source, tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.current, c.token = s, tok
}

// Reload reads the source of the remembered token again, because the
// service rejected it and the user may have rotated it there. When that
// source no longer has a token, the chain is walked again from the start.
// The token returned may be the same as before; the caller decides whether
// a retry with it is worthwhile.
func (c *Chain) Reload(ctx context.Context) (string, error) {
	if err := c.startReading(ctx); err != nil {
		return "", err
	}
	defer c.stopReading()
	current := c.Current()
	if current == nil {
		return c.find(ctx)
	}
	tok, err := current.Reload(ctx)
	if errors.Is(err, ErrNotFound) {
		c.remember(nil, "")
		return c.find(ctx)
	}
	if err != nil {
		return "", err
	}
	if err := checkFrom(current, tok); err != nil {
		return "", err
	}
	c.remember(current, tok)
	return tok, nil
}

// Describe names the source of the remembered token, or lists the sources
// when none has been used yet.
func (c *Chain) Describe() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.current != nil {
		return c.current.Describe()
	}
	return c.list()
}

// Current returns the source of the remembered token, or nil when no token
// has been found yet.
func (c *Chain) Current() Source {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// Sources returns the sources in the order they are tried.
func (c *Chain) Sources() []Source {
	return append([]Source(nil), c.sources...)
}

// find walks the sources in order; the caller holds c.reading.
func (c *Chain) find(ctx context.Context) (string, error) {
	for _, s := range c.sources {
		tok, err := s.Token(ctx)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if err := checkFrom(s, tok); err != nil {
			return "", err
		}
		c.remember(s, tok)
		return tok, nil
	}
	return "", fmt.Errorf("%w: looked in %s; run joai-bridge login --agent UUID, or set JOAI_API_TOKEN", ErrNotFound, c.list())
}

// list names the sources in the order they are tried.
func (c *Chain) list() string {
	names := make([]string, len(c.sources))
	for i, s := range c.sources {
		names[i] = s.Describe()
	}
	return strings.Join(names, ", then ")
}

// checkFrom applies [Check] to a token from s, naming s in the error.
func checkFrom(s Source, tok string) error {
	if err := Check(tok); err != nil {
		return fmt.Errorf("token from %s is malformed: %w", s.Describe(), err)
	}
	return nil
}

// KeychainSource returns the source of account's token in the store's
// keychain. An unavailable keychain counts as having no token, so the chain
// moves on to the fallback file.
func (s *Store) KeychainSource(account string) Source {
	return storeSource{store: s, account: account, keychain: true}
}

// FileSource returns the source of account's token in the store's fallback
// file.
func (s *Store) FileSource(account string) Source {
	return storeSource{store: s, account: account}
}

type storeSource struct {
	store    *Store
	account  string
	keychain bool
}

func (s storeSource) Token(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if !s.keychain {
		tok, _, err := s.store.LoadFile(s.account)
		return tok, err
	}
	tok, _, err := s.store.LoadKeychain(s.account)
	if errors.Is(err, ErrKeyringUnavailable) {
		return "", fmt.Errorf("%w (%v)", ErrNotFound, err)
	}
	return tok, err
}

func (s storeSource) Reload(ctx context.Context) (string, error) {
	return s.Token(ctx)
}

func (s storeSource) Describe() string {
	if s.keychain {
		return fmt.Sprintf("%s (service %s, account %s)", s.store.keychainLocation(), Service, s.account)
	}
	return s.store.fileLocation().String()
}

// EnvSource returns the source of the token in the environment variable
// name, read through getenv on every call. The value is used as it is, so
// that [Check] rejects spaces or line breaks around the token, exactly as
// login does for a pasted token.
func EnvSource(name string, getenv func(string) string) Source {
	return envSource{name: name, getenv: getenv}
}

type envSource struct {
	name   string
	getenv func(string) string
}

func (s envSource) Token(context.Context) (string, error) {
	if v := s.getenv(s.name); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("%w: %s is not set", ErrNotFound, s.name)
}

func (s envSource) Reload(ctx context.Context) (string, error) {
	return s.Token(ctx)
}

func (s envSource) Describe() string { return s.name }
