package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// TokenSource supplies the API token the bridge sends as a Bearer token.
// Implementations must be safe for concurrent use and must never put the
// token in an error message.
type TokenSource interface {
	// Token returns the current token.
	Token(ctx context.Context) (string, error)
	// Reload reads the token again after the service rejected it with 401,
	// because the user may have rotated it. It may return the same token.
	Reload(ctx context.Context) (string, error)
	// Describe names where the token comes from, for messages, such as
	// "JOAI_API_TOKEN" or "--token-file /home/me/.joai-token".
	Describe() string
}

// StaticToken is a TokenSource with a fixed token, such as one read from an
// environment variable when the process started.
type StaticToken struct {
	// Value is the token.
	Value string
	// Source names where Value came from, for Describe.
	Source string
}

// Token returns t.Value, or an error when it is empty.
func (t StaticToken) Token(context.Context) (string, error) {
	v := strings.TrimSpace(t.Value)
	if v == "" {
		return "", fmt.Errorf("%s is empty: set it to your JoAi API token", t.Source)
	}
	return v, nil
}

// Reload returns the same token as Token: a fixed value cannot change.
func (t StaticToken) Reload(ctx context.Context) (string, error) {
	return t.Token(ctx)
}

// Describe returns t.Source.
func (t StaticToken) Describe() string { return t.Source }

// EnvToken returns the TokenSource for the environment variable name,
// reading its value once through getenv.
func EnvToken(name string, getenv func(string) string) StaticToken {
	return StaticToken{Value: getenv(name), Source: name}
}

// FileToken is a TokenSource that reads the token from a file on every call,
// so a token rotated in the file is picked up after a 401. Surrounding
// whitespace, such as the trailing newline an editor adds, is ignored.
type FileToken struct {
	// Path is the file's path.
	Path string
}

// Token reads the token from the file.
func (t FileToken) Token(context.Context) (string, error) {
	b, err := os.ReadFile(t.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("token file %s not found: create it with your JoAi API token or fix --token-file", t.Path)
	}
	if err != nil {
		return "", fmt.Errorf("reading token file: %w", err)
	}
	tok := string(bytes.TrimSpace(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty: write your JoAi API token into it", t.Path)
	}
	if strings.ContainsAny(tok, "\r\n") {
		return "", fmt.Errorf("token file %s has more than one line: it must contain only the token", t.Path)
	}
	return tok, nil
}

// Reload reads the file again.
func (t FileToken) Reload(ctx context.Context) (string, error) {
	return t.Token(ctx)
}

// Describe returns "--token-file PATH".
func (t FileToken) Describe() string { return "--token-file " + t.Path }
