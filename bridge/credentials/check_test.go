package credentials

import (
	"errors"
	"strings"
	"testing"
)

const goodToken = "jo_test_3f9a1c2b7d4e8f60"

func TestCheckAcceptsBareTokens(t *testing.T) {
	for _, tok := range []string{goodToken, "abcdefgh", "A-b_c.d~e+f/g=h", strings.Repeat("x", 512)} {
		if err := Check(tok); err != nil {
			t.Errorf("Check(%q) = %v, want nil", tok, err)
		}
	}
}

func TestCheckRejectsPasteMistakes(t *testing.T) {
	tests := []struct {
		name, tok, problem string
	}{
		{"empty", "", "is empty"},
		{"leading-space", " " + goodToken, "starts with a space"},
		{"trailing-space", goodToken + " ", "ends with a space"},
		{"trailing-tab", goodToken + "\t", "ends with a space"},
		{"trailing-newline", goodToken + "\n", "contains a line break at character 25 of 25"},
		{"crlf", goodToken + "\r\n", "contains a line break"},
		{"inner-space", "jo_test 3f9a1c2b7d4e8f60", "contains a space at character 8"},
		{"double-quotes", `"` + goodToken + `"`, "contains a quote character at character 1"},
		{"single-quotes", "'" + goodToken + "'", "contains a quote character"},
		{"smart-quotes", "\u201c" + goodToken + "\u201d", "contains a quote character"},
		{"backtick", goodToken + "`", "contains a quote character"},
		{"bearer-prefix", "Bearer " + goodToken, `starts with "Bearer "`},
		{"bearer-lowercase", "bearer " + goodToken, `starts with "Bearer "`},
		{"authorization-header", "Authorization: Bearer " + goodToken, `starts with "Authorization:"`},
		{"placeholder", "<your-api-token>", "placeholder"},
		{"escaped-newline", goodToken + `\n`, "contains a backslash"},
		{"non-breaking-space", goodToken + "\u00a0", "invisible character U+00A0"},
		{"zero-width-space", "\u200b" + goodToken, "invisible character U+200B"},
		{"control-character", goodToken + "\x07", "U+0007"},
		{"non-ascii", "jo_tést_3f9a1c2b7d4e8f60", "U+00E9"},
		{"invalid-utf8", goodToken + "\xff", "not valid UTF-8"},
		{"too-short", "abc123", "is only 6 characters long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.tok)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Check(%q) = %v, want a *FormatError", tt.tok, err)
			}
			if !strings.Contains(fe.Problem, tt.problem) {
				t.Errorf("Check(%q).Problem = %q, want it to contain %q", tt.tok, fe.Problem, tt.problem)
			}
			if fe.Fix == "" {
				t.Errorf("Check(%q).Fix is empty", tt.tok)
			}
			if tt.name != "placeholder" && tt.tok != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.tok)) {
				t.Errorf("Check(%q) = %q, which contains the token", tt.tok, err)
			}
			if strings.Contains(err.Error(), "3f9a1c2b7d4e8f60") {
				t.Errorf("Check(%q) = %q, which contains part of the token", tt.tok, err)
			}
		})
	}
}
