package credentials

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

func newTestCommand(t testing.TB, command string, timeout time.Duration) (*CommandSource, *bytes.Buffer) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the test commands are POSIX shell")
	}
	var stderr bytes.Buffer
	s, err := NewCommandSource(&CommandOptions{Command: command, Timeout: timeout, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	return s, &stderr
}

func TestCommandSourcePrintsToken(t *testing.T) {
	s, stderr := newTestCommand(t, "printf '  %s\\n' "+goodToken+"; echo 'unlocked vault for "+goodToken+"' >&2", 0)
	tok, err := s.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tok != goodToken {
		t.Errorf("Token() = %s, want the trimmed output %s", redactTok(tok), redactTok(goodToken))
	}
	if got := stderr.String(); got != "unlocked vault for "+redactTok(goodToken)+"\n" {
		t.Errorf("stderr copy = %q, want the command's stderr with the token redacted", got)
	}
	if got, want := s.Describe(), "--token-command (printf)"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
}

func TestCommandSourceStdinIsNullDevice(t *testing.T) {
	// cat copies its standard input; from the null device that is nothing.
	s, _ := newTestCommand(t, "cat", 0)
	_, err := s.Token(t.Context())
	if err == nil || !strings.Contains(err.Error(), "printed nothing") {
		t.Errorf("Token() = %v, want the printed-nothing error", err)
	}
}

func TestCommandSourceFailures(t *testing.T) {
	tests := []struct {
		name, command, want string
	}{
		{"exit-status", "echo vault locked >&2; exit 3", "exited with status 3"},
		{"two-lines", "echo " + goodToken + "; echo " + goodToken, "printed 2 lines"},
		{"malformed", "echo Bearer " + goodToken, `printed a malformed token: the token starts with "Bearer "`},
		{"too-much-output", "head -c 70000 /dev/zero | tr '\\0' a", "printed more than"},
		{"not-found", "/nonexistent/secrets-tool read", "exited with status 127"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, stderr := newTestCommand(t, tt.command, 0)
			_, err := s.Token(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Token() = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), goodToken) || strings.Contains(stderr.String(), goodToken) {
				t.Errorf("the token appears in the error or the stderr copy")
			}
		})
	}
}

func TestCommandSourceTimeout(t *testing.T) {
	// The shell's child keeps stdout open; the process group is killed.
	s, _ := newTestCommand(t, "sleep 60 & sleep 60", 300*time.Millisecond)
	start := time.Now()
	_, err := s.Token(t.Context())
	if err == nil || !strings.Contains(err.Error(), "timed out after 300ms") {
		t.Fatalf("Token() = %v, want a timeout error", err)
	}
	if elapsed := time.Since(start); elapsed > 20*time.Second {
		t.Errorf("Token() returned after %v, want soon after the timeout", elapsed)
	}
}

func TestCommandSourceReloadRunsAgain(t *testing.T) {
	dir := t.TempDir()
	s, _ := newTestCommand(t, "cat "+dir+"/tok", 0)
	writeFile(t, dir+"/tok", goodToken+"\n")
	if tok, err := s.Token(t.Context()); err != nil || tok != goodToken {
		t.Fatalf("Token() = %s, %v", redactTok(tok), err)
	}
	writeFile(t, dir+"/tok", goodToken+"new\n")
	if tok, err := s.Reload(t.Context()); err != nil || tok != goodToken+"new" {
		t.Fatalf("Reload() = %s, %v, want the new token", redactTok(tok), err)
	}
}

func TestNewCommandSourceRejectsEmpty(t *testing.T) {
	_, err := NewCommandSource(&CommandOptions{Command: "  "})
	if err == nil || !strings.Contains(err.Error(), "--token-command is empty") {
		t.Errorf("NewCommandSource(blank) = %v, want an error naming the flag", err)
	}
	if errors.Is(err, ErrNotFound) {
		t.Errorf("an empty command must not read as a missing token")
	}
}

func TestCommandSourceFailureQuotesStderr(t *testing.T) {
	long := strings.Repeat("x", 500)
	tests := []struct {
		name, command string
		// want is the end of the error, and copied whether the standard
		// error also went to the Stderr writer.
		want   string
		copied bool
	}{
		{"one-line", "echo vault locked >&2; exit 3", "exited with status 3; its standard error: vault locked", false},
		{"two-lines", "echo vault locked >&2; echo run op signin >&2; exit 1", "its standard error: vault locked | run op signin", false},
		{"empty", "exit 2", "exited with status 2; its standard error is empty", false},
		{"token-redacted", "echo " + goodToken + "; echo 'rejected " + goodToken + "' >&2; exit 1", "its standard error: rejected " + redactTok(goodToken), false},
		{"too-long", "echo start >&2; echo " + long + " >&2; exit 1", "its standard error ends (the whole of it is in the log): …" + long[:maxStderrSummary], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, stderr := newTestCommand(t, tt.command, 0)
			_, err := s.Token(t.Context())
			if err == nil || !strings.HasSuffix(err.Error(), tt.want) {
				t.Fatalf("Token() = %v, want an error ending in %q", err, tt.want)
			}
			if got := stderr.Len() > 0; got != tt.copied {
				t.Errorf("standard error copied to the writer = %v, want %v: %q", got, tt.copied, stderr.String())
			}
		})
	}
}
