package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/bridge/credentials"
)

// In bridge mode, the root's tokenSource picks --token-file, then
// JOAI_API_TOKEN, then defaultTokenSource. This file supplies that default
// (the keychain, then the fallback file) and adds --token-command. The
// account of a stored token is the endpoint URL, which is only known once
// the root has built the options, so the default is a placeholder that the
// option hook below replaces. Every source ends up inside a
// credentials.Chain, so the bridge's tokens pass credentials.Check and its
// reload after a 401 reads the same source again.
func init() {
	defaultTokenSource = func(env func(string) string) (bridge.TokenSource, error) {
		return &storedToken{env: env}, nil
	}
	optionHooks = append(optionHooks, optionHook{register: registerTokenCommand, apply: applyTokenChain})
}

// storedToken stands for the keychain and fallback file until the option
// hook knows the endpoint.
type storedToken struct {
	env func(string) string
}

var errStoredTokenUnset = errors.New("the stored-token source was used before the endpoint was known")

func (s *storedToken) Token(context.Context) (string, error)  { return "", errStoredTokenUnset }
func (s *storedToken) Reload(context.Context) (string, error) { return "", errStoredTokenUnset }
func (s *storedToken) Describe() string                       { return "the keychain, then the fallback token file" }

// tokenCommand is the value of the bridge's --token-command flag, handed
// from the flag set to the option hook.
//
// NOTE: the root gives option hooks no per-run state, so two Main calls
// running at once in one process share this value; the last parse wins.
var tokenCommand struct {
	mu    sync.Mutex
	value string
}

func registerTokenCommand(fs *flag.FlagSet) {
	tokenCommand.mu.Lock()
	tokenCommand.value = ""
	tokenCommand.mu.Unlock()
	fs.Func("token-command", "run `COMMAND` (by /bin/sh, or cmd.exe on Windows) and use the token it prints, for secrets managers; run again after a 401", func(v string) error {
		tokenCommand.mu.Lock()
		defer tokenCommand.mu.Unlock()
		tokenCommand.value = v
		return nil
	})
}

// applyTokenChain puts the token source the root chose into a chain, with
// --token-command first and the stored token resolved for the endpoint.
func applyTokenChain(ctx context.Context, opts *bridge.Options, logger *slog.Logger) (func(), error) {
	tokenCommand.mu.Lock()
	command := tokenCommand.value
	tokenCommand.mu.Unlock()

	src := opts.Token
	if command != "" {
		if _, ok := src.(bridge.FileToken); ok {
			return nil, errors.New("--token-file and --token-command both name a token source: keep one")
		}
		cs, err := credentials.NewCommandSource(&credentials.CommandOptions{Command: command, Stderr: &logWriter{logger: logger}})
		if err != nil {
			return nil, err
		}
		opts.Token = credentials.NewChain(cs)
		return nil, nil
	}

	switch s := src.(type) {
	case *storedToken:
		inv := &invocation{getenv: s.env}
		store, err := inv.store()
		if err != nil {
			return nil, err
		}
		opts.Token = credentials.NewChain(store.KeychainSource(opts.URL), store.FileSource(opts.URL))
	case bridge.FileToken:
		opts.Token = credentials.NewChain(s)
	case bridge.StaticToken:
		// The embedded mock's token is the mock's own, not the user's.
		if s.Source == envToken {
			opts.Token = credentials.NewChain(s)
		}
	}
	return nil, nil
}

// logWriter logs each line written to it, for a token command's standard
// error, which reaches the bridge's log (stderr by default).
type logWriter struct {
	logger *slog.Logger
}

func (w *logWriter) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(strings.NewReader(string(p)))
	for sc.Scan() {
		w.logger.Warn("token command stderr", "line", sc.Text())
	}
	return len(p), nil
}

var _ io.Writer = (*logWriter)(nil)
