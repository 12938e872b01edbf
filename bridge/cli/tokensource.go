package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"strings"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/bridge/credentials"
)

// storedTokenDefault returns the last source the root's tokenSource tries,
// after --token-file and JOAI_API_TOKEN: the keychain, then the fallback
// file. This file also adds --token-command. The account of a stored token is the endpoint URL, which is only known once
// the root has built the options, so the default is a placeholder that the
// option hook below replaces. Every source ends up inside a
// credentials.Chain, so the bridge's tokens pass credentials.Check and its
// reload after a 401 reads the same source again.
func storedTokenDefault(env func(string) string) (bridge.TokenSource, error) {
	return &storedToken{env: env}, nil
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

// tokenCommandTimeout bounds one run of --token-command. Tests shorten it.
var tokenCommandTimeout = credentials.DefaultCommandTimeout

// tokenCommandHook defines --token-command and puts the token source into
// a chain once the flags are parsed.
func tokenCommandHook(fs *flag.FlagSet) optionApply {
	var command string
	fs.StringVar(&command, "token-command", "", "run `COMMAND` (by /bin/sh, or cmd.exe on Windows) and use the token it prints, for secrets managers; run again after a 401")
	return func(ctx context.Context, opts *bridge.Options, logger *slog.Logger) (func(), error) {
		return applyTokenChain(ctx, command, opts, logger)
	}
}

// applyTokenChain puts the token source the root chose into a chain, with
// --token-command first and the stored token resolved for the endpoint.
func applyTokenChain(ctx context.Context, command string, opts *bridge.Options, logger *slog.Logger) (func(), error) {
	src := opts.Token
	if command != "" {
		if _, ok := src.(bridge.FileToken); ok {
			return nil, errors.New("--token-file and --token-command both name a token source: keep one")
		}
		cs, err := credentials.NewCommandSource(&credentials.CommandOptions{Command: command, Timeout: tokenCommandTimeout, Stderr: &logWriter{logger: logger}})
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
			// The chain checks the value as it was read, without trimming,
			// so that spaces around it are rejected as login rejects them.
			value := s.Value
			opts.Token = credentials.NewChain(credentials.EnvSource(envToken, func(string) string { return value }))
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
