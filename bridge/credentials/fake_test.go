package credentials

import (
	"context"
	"fmt"
	"sync"
)

// fakeKeyring is an in-memory keychain for tests, which must never touch
// the real one.
type fakeKeyring struct {
	mu      sync.Mutex
	secrets map[string]string
	sets    int
}

func newFakeKeyring() *fakeKeyring {
	return &fakeKeyring{secrets: map[string]string{}}
}

func (k *fakeKeyring) Get(service, account string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.secrets[service+"\x00"+account]
	if !ok {
		return "", ErrNotFound
	}
	return s, nil
}

func (k *fakeKeyring) Set(service, account, secret string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sets++
	k.secrets[service+"\x00"+account] = secret
	return nil
}

func (k *fakeKeyring) Delete(service, account string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	key := service + "\x00" + account
	if _, ok := k.secrets[key]; !ok {
		return ErrNotFound
	}
	delete(k.secrets, key)
	return nil
}

// staticSource is a Source with a fixed answer that counts its reloads.
type staticSource struct {
	name    string
	mu      sync.Mutex
	tok     string
	err     error
	reloads int
}

func (s *staticSource) Token(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok, s.err
}

func (s *staticSource) Reload(ctx context.Context) (string, error) {
	s.mu.Lock()
	s.reloads++
	s.mu.Unlock()
	return s.Token(ctx)
}

func (s *staticSource) Describe() string { return s.name }

func (s *staticSource) set(tok string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tok, s.err = tok, err
}

func notFound(what string) error { return fmt.Errorf("%w: %s", ErrNotFound, what) }
