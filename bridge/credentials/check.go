package credentials

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// minTokenLength is the shortest value [Check] accepts. The service does not
// publish its token format, so this only catches a paste cut off after a few
// characters.
const minTokenLength = 8

// FormatError is a token that cannot be sent as it is, because something was
// pasted with it. It names the problem and the fix, never the token.
type FormatError struct {
	// Problem says what is wrong, for example "ends with a line break".
	Problem string
	// Fix says what the user should do about it.
	Fix string
}

// Error returns the problem and the fix in one line.
func (e *FormatError) Error() string {
	return "the token " + e.Problem + ": " + e.Fix
}

// Check returns a [*FormatError] when tok is not a bare API token: empty,
// too short, wrapped in quotes, prefixed with "Bearer " or "Authorization:",
// the documentation's "<your-api-token>" placeholder, or containing spaces,
// line breaks, backslashes, control characters or characters outside
// printable ASCII (such as a non-breaking or zero-width space). It returns
// nil for a token that can be sent in an Authorization header as it is.
func Check(tok string) error {
	if tok == "" {
		return &FormatError{"is empty", "paste the token that Agent Settings > Apps or Integrations > API Tokens showed when it was created"}
	}
	if err := checkPrefix(tok); err != nil {
		return err
	}
	if strings.HasPrefix(tok, "<") && strings.HasSuffix(tok, ">") {
		return &FormatError{"is a placeholder in angle brackets, like <your-api-token> in the documentation", "replace the whole placeholder, brackets included, with your token"}
	}
	for i, r := range []rune(tok) {
		if err := checkRune(r, i+1, utf8.RuneCountInString(tok)); err != nil {
			return err
		}
	}
	if n := len(tok); n < minTokenLength {
		return &FormatError{fmt.Sprintf("is only %d characters long", n), "it was probably cut off; copy the whole token again"}
	}
	return nil
}

// checkPrefix rejects an Authorization header or its scheme pasted in front
// of the token.
func checkPrefix(tok string) error {
	lower := strings.ToLower(tok)
	switch {
	case strings.HasPrefix(lower, "authorization:"):
		return &FormatError{`starts with "Authorization:"`, "store the token alone; the bridge sends the Authorization header itself"}
	case strings.HasPrefix(lower, "bearer ") || strings.HasPrefix(lower, "bearer\t") || lower == "bearer":
		return &FormatError{`starts with "Bearer "`, "store the token alone, without the scheme; the bridge adds \"Bearer \" itself"}
	}
	return nil
}

// checkRune rejects one character of a token at 1-based position pos of n.
func checkRune(r rune, pos, n int) error {
	where := fmt.Sprintf("at character %d of %d", pos, n)
	switch {
	case pos == 1 && (r == ' ' || r == '\t'):
		return &FormatError{"starts with a space", "remove the space before it"}
	case pos == n && (r == ' ' || r == '\t'):
		return &FormatError{"ends with a space", "remove the space after it"}
	case r == '\n' || r == '\r':
		return &FormatError{"contains a line break " + where, "store the token on one line, without a newline before or after it"}
	case r == ' ' || r == '\t':
		return &FormatError{"contains a space " + where, "the token has no spaces; copy it again, alone, from where it was created"}
	case strings.ContainsRune("\"'`\u2018\u2019\u201c\u201d", r):
		return &FormatError{"contains a quote character " + where, "remove the quotes that were copied with it"}
	case r == '\\':
		return &FormatError{"contains a backslash " + where, "this usually comes from an escaped string in a JSON or shell file; copy the token itself again"}
	case r == utf8.RuneError:
		return &FormatError{"is not valid UTF-8 " + where, "copy the token again from where it was created"}
	case unicode.IsSpace(r) || unicode.Is(unicode.Cf, r):
		return &FormatError{fmt.Sprintf("contains the invisible character U+%04X %s", r, where), "delete it; it was probably copied from a web page or a chat message"}
	case r < 0x21 || r > 0x7e:
		return &FormatError{fmt.Sprintf("contains the character U+%04X %s, which cannot be sent in an HTTP header", r, where), "copy the token again from where it was created"}
	}
	return nil
}
