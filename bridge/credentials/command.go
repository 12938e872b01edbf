package credentials

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/joai-ai/joai-mcp/internal/redact"
)

// DefaultCommandTimeout is how long a token command may run when
// [CommandOptions.Timeout] is zero. Secrets managers may wait for a
// fingerprint or an unlock in their own window, which takes seconds.
const DefaultCommandTimeout = 30 * time.Second

// maxCommandOutput bounds what is kept of a token command's standard output
// and standard error each.
const maxCommandOutput = 64 << 10

// CommandOptions configures a [CommandSource].
type CommandOptions struct {
	// Command is the command line, run by /bin/sh -c on Unix and by
	// cmd.exe /C on Windows, for example "op read op://dev/joai/token".
	Command string
	// Timeout bounds one run. Zero means [DefaultCommandTimeout].
	Timeout time.Duration
	// Stderr receives the command's standard error after it exits, with the
	// token it printed redacted. Nil discards it.
	Stderr io.Writer
	// Env is the command's environment. Nil means the bridge's own.
	Env []string
}

// CommandSource is a token source that runs a helper command, such as a
// secrets manager's CLI, and takes the token from its standard output. Its
// standard input is the null device, so the command can never read the MCP
// messages that the bridge reads from its own standard input.
type CommandSource struct {
	opts CommandOptions
}

// NewCommandSource returns a CommandSource. It fails when the command is
// empty.
func NewCommandSource(opts *CommandOptions) (*CommandSource, error) {
	if opts == nil || strings.TrimSpace(opts.Command) == "" {
		return nil, errors.New("--token-command is empty: give the command that prints the token, for example --token-command 'op read op://vault/joai/token'")
	}
	s := &CommandSource{opts: *opts}
	if s.opts.Timeout <= 0 {
		s.opts.Timeout = DefaultCommandTimeout
	}
	if s.opts.Stderr == nil {
		s.opts.Stderr = io.Discard
	}
	return s, nil
}

// Describe returns "--token-command" and the name of the program it runs.
// The rest of the command line is left out, in case it carries a secret.
func (s *CommandSource) Describe() string {
	program, _, _ := strings.Cut(strings.TrimSpace(s.opts.Command), " ")
	return "--token-command (" + program + ")"
}

// Token runs the command and returns the token it printed, with the
// surrounding whitespace trimmed. The output must be one line that passes
// [Check].
func (s *CommandSource) Token(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()

	cmd := shellCommand(ctx, s.opts.Command)
	// A nil Stdin makes os/exec connect the null device.
	cmd.Stdin = nil
	cmd.Env = s.opts.Env
	stdout := &cappedBuffer{max: maxCommandOutput}
	stderr := &cappedBuffer{max: maxCommandOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// A grandchild that keeps the pipes open must not hold the bridge past
	// the timeout.
	cmd.WaitDelay = 2 * time.Second

	runErr := cmd.Run()
	tok := strings.TrimSpace(stdout.String())
	s.copyStderr(stderr.Bytes(), tok)

	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return "", fmt.Errorf("%s timed out after %v: it may be waiting for input, which it cannot get because its standard input is the null device", s.Describe(), s.opts.Timeout)
	case ctx.Err() != nil:
		return "", fmt.Errorf("running %s: %w", s.Describe(), ctx.Err())
	case runErr != nil && errors.Is(runErr, exec.ErrWaitDelay):
		// The command exited, but a child it started kept the output open.
	case runErr != nil:
		var exit *exec.ExitError
		if errors.As(runErr, &exit) {
			return "", fmt.Errorf("%s exited with status %d: its standard error, if any, is shown above", s.Describe(), exit.ExitCode())
		}
		return "", fmt.Errorf("running %s: %w", s.Describe(), runErr)
	}
	if stdout.truncated {
		return "", fmt.Errorf("%s printed more than %d bytes: make it print the token alone", s.Describe(), maxCommandOutput)
	}
	if tok == "" {
		return "", fmt.Errorf("%s printed nothing: make it print the token on its standard output", s.Describe())
	}
	if n := strings.Count(tok, "\n") + 1; n > 1 {
		return "", fmt.Errorf("%s printed %d lines: make it print the token alone, on one line", s.Describe(), n)
	}
	if err := Check(tok); err != nil {
		return "", fmt.Errorf("%s printed a malformed token: %w", s.Describe(), err)
	}
	return tok, nil
}

// Reload runs the command again.
func (s *CommandSource) Reload(ctx context.Context) (string, error) {
	return s.Token(ctx)
}

// copyStderr writes the command's standard error to the configured writer
// with tok, and each of its lines, redacted.
func (s *CommandSource) copyStderr(b []byte, tok string) {
	if len(b) == 0 {
		return
	}
	secrets := []string{tok}
	for line := range strings.SplitSeq(tok, "\n") {
		// A short line is more likely ordinary text than a secret.
		if line = strings.TrimSpace(line); len(line) >= minTokenLength {
			secrets = append(secrets, line)
		}
	}
	b = redact.Bytes(b, secrets...)
	if !bytes.HasSuffix(b, []byte("\n")) {
		b = append(b, '\n')
	}
	s.opts.Stderr.Write(b)
}

// cappedBuffer keeps the first max bytes written to it and drops the rest,
// so that a runaway command cannot exhaust memory. It does not embed
// [bytes.Buffer], whose ReadFrom method io.Copy would call instead of Write.
type cappedBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); len(p) > room {
		b.truncated = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *cappedBuffer) Bytes() []byte { return b.buf.Bytes() }

func (b *cappedBuffer) String() string { return b.buf.String() }
