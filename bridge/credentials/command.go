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
	// token it printed redacted, unless the run failed and the error
	// returned contains the whole standard error. Nil discards it.
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
	secrets := stderrSecrets(tok)

	// The error of a failed run contains the standard error, because the
	// bridge sends the host only the error, and logs it too.
	var exit *exec.ExitError
	failed := ctx.Err() != nil || (runErr != nil && !errors.Is(runErr, exec.ErrWaitDelay) && errors.As(runErr, &exit))
	output := ""
	if failed {
		output = s.stderrSummary(stderr, secrets)
	} else {
		s.copyStderr(stderr.Bytes(), secrets)
	}

	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return "", fmt.Errorf("%s timed out after %v: it may be waiting for input, which it cannot get because its standard input is the null device%s", s.Describe(), s.opts.Timeout, output)
	case ctx.Err() != nil:
		return "", fmt.Errorf("running %s: %w%s", s.Describe(), ctx.Err(), output)
	case runErr != nil && errors.Is(runErr, exec.ErrWaitDelay):
		// The command exited, but a child it started kept the output open.
	case exit != nil:
		return "", fmt.Errorf("%s exited with status %d%s", s.Describe(), exit.ExitCode(), output)
	case runErr != nil:
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

// maxStderrSummary bounds the standard error quoted in the error of a
// failed run, in bytes.
const maxStderrSummary = 400

// stderrSecrets returns what to redact from the standard error: the
// command's output, and each of its lines.
func stderrSecrets(tok string) []string {
	secrets := []string{tok}
	for line := range strings.SplitSeq(tok, "\n") {
		// A short line is more likely ordinary text than a secret.
		if line = strings.TrimSpace(line); len(line) >= minTokenLength {
			secrets = append(secrets, line)
		}
	}
	return secrets
}

// stderrSummary returns the redacted standard error of a failed run, as
// the end of its error message. When the standard error is too long to
// quote whole, it quotes the end and copies the whole to the configured
// writer.
func (s *CommandSource) stderrSummary(stderr *cappedBuffer, secrets []string) string {
	text := strings.TrimSpace(string(redact.Bytes(stderr.Bytes(), secrets...)))
	if text == "" {
		return "; its standard error is empty"
	}
	text = strings.Join(strings.Fields(strings.ReplaceAll(text, "\n", " | ")), " ")
	if len(text) <= maxStderrSummary && !stderr.truncated {
		return "; its standard error: " + text
	}
	s.copyStderr(stderr.Bytes(), secrets)
	end := text[max(len(text)-maxStderrSummary, 0):]
	return "; its standard error ends (the whole of it is in the log): …" + strings.ToValidUTF8(end, "")
}

// copyStderr writes the command's standard error to the configured writer
// with the secrets redacted.
func (s *CommandSource) copyStderr(b []byte, secrets []string) {
	if len(b) == 0 {
		return
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
