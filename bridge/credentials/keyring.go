package credentials

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/zalando/go-keyring"
)

// Service is the keychain service name under which tokens are stored.
const Service = "joai-bridge"

// defaultKeyringTimeout bounds one keychain call. macOS can show an access
// dialog and a Secret Service can wait for an unlock prompt; past this the
// keychain counts as unavailable and the fallback file is used.
const defaultKeyringTimeout = 15 * time.Second

var (
	// ErrNotFound means a source or store has no token for the account. A
	// [Chain] moves on to its next source when it sees it.
	ErrNotFound = errors.New("no token stored")

	// ErrKeyringUnavailable means there is no usable OS keychain, for example
	// a Linux machine without a Secret Service, or the call timed out.
	ErrKeyringUnavailable = errors.New("keychain unavailable")
)

// Keyring is the part of an OS keychain the [Store] uses. Get returns an
// error wrapping [ErrNotFound] when the account has no secret, and one
// wrapping [ErrKeyringUnavailable] when the keychain cannot be used at all.
type Keyring interface {
	Get(service, account string) (string, error)
	Set(service, account, secret string) error
	Delete(service, account string) error
}

// SystemKeyring returns the OS keychain: the macOS Keychain, the Windows
// Credential Manager, or the Secret Service over D-Bus elsewhere. Each call is
// bounded by a timeout. On Linux and the BSDs, a missing D-Bus session bus
// makes every call fail with [ErrKeyringUnavailable] without trying to start
// one.
//
// NOTE: a call that times out keeps running in its goroutine until the OS
// keychain answers, because go-keyring takes no context. Short-lived commands
// exit soon after; a long-running bridge keeps that goroutine.
func SystemKeyring() Keyring {
	return systemKeyring{timeout: defaultKeyringTimeout}
}

type systemKeyring struct {
	timeout time.Duration
}

func (k systemKeyring) Get(service, account string) (string, error) {
	var secret string
	err := k.call(func() error {
		s, err := keyring.Get(service, account)
		secret = s
		return err
	})
	return secret, err
}

func (k systemKeyring) Set(service, account, secret string) error {
	return k.call(func() error { return keyring.Set(service, account, secret) })
}

func (k systemKeyring) Delete(service, account string) error {
	return k.call(func() error { return keyring.Delete(service, account) })
}

// call runs f with the timeout and maps go-keyring's errors onto
// [ErrNotFound] and [ErrKeyringUnavailable].
func (k systemKeyring) call(f func() error) error {
	if reason := keyringMissing(); reason != "" {
		return fmt.Errorf("%w: %s", ErrKeyringUnavailable, reason)
	}
	done := make(chan error, 1)
	go func() { done <- f() }()

	var err error
	select {
	case err = <-done:
	case <-time.After(k.timeout):
		return fmt.Errorf("%w: %s did not answer within %v", ErrKeyringUnavailable, KeyringName(runtime.GOOS), k.timeout)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return fmt.Errorf("%w: the token is too large for %s", ErrKeyringUnavailable, KeyringName(runtime.GOOS))
	default:
		return fmt.Errorf("%w: %v", ErrKeyringUnavailable, err)
	}
}

// KeyringName returns what the OS keychain is called on goos, for messages.
func KeyringName(goos string) string {
	switch goos {
	case "darwin":
		return "the macOS Keychain"
	case "windows":
		return "the Windows Credential Manager"
	default:
		return "the Secret Service keyring"
	}
}

// NoKeyring is a [Keyring] that is always unavailable, so a [Store] keeps
// tokens in its fallback file only. Its value is the reason given in
// messages, for example "disabled by JOAI_KEYCHAIN=off".
type NoKeyring string

// Get returns [ErrKeyringUnavailable].
func (n NoKeyring) Get(service, account string) (string, error) { return "", n.err() }

// Set returns [ErrKeyringUnavailable].
func (n NoKeyring) Set(service, account, secret string) error { return n.err() }

// Delete returns [ErrKeyringUnavailable].
func (n NoKeyring) Delete(service, account string) error { return n.err() }

func (n NoKeyring) err() error {
	if n == "" {
		return ErrKeyringUnavailable
	}
	return fmt.Errorf("%w: %s", ErrKeyringUnavailable, string(n))
}
