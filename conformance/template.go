package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// templatePattern finds {{ ... }} in a string. The expression inside is a
// variable, an integer sum such as limit_rpm+limit_burst+1, or a filler.
var templatePattern = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// identPattern is the syntax of a variable name.
var identPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// maxFiller caps {{filler N}} so that a typo cannot exhaust memory.
const maxFiller = 64 << 20

// builtinVariables are defined on every target.
var builtinVariables = []string{"agent_uuid", "agent_url", "base_url", "token", "run_id", "target"}

// capabilityVariables maps each capability to the variables it defines.
var capabilityVariables = map[Capability][]string{
	CapRevokedToken:   {"revoked_token"},
	CapOtherTeamAgent: {"other_agent_uuid"},
	CapLimits:         {"limit_rpm", "limit_burst", "limit_concurrent", "limit_window_seconds"},
}

// variables holds the values templates expand to: the target's built-in
// and capability variables, then the captures of earlier steps.
type variables map[string]string

// clone returns a copy of v that captures can be added to.
func (v variables) clone() variables {
	out := make(variables, len(v))
	for k, val := range v {
		out[k] = val
	}
	return out
}

// expand replaces every {{expression}} in s by its value.
func (v variables) expand(s string) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	var firstErr error
	out := templatePattern.ReplaceAllStringFunc(s, func(m string) string {
		expr := templatePattern.FindStringSubmatch(m)[1]
		val, err := v.eval(expr)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return val
	})
	return out, firstErr
}

// eval computes one template expression.
func (v variables) eval(expr string) (string, error) {
	if size, ok := strings.CutPrefix(expr, "filler "); ok {
		n, err := parseSize(strings.TrimSpace(size))
		if err != nil {
			return "", err
		}
		return strings.Repeat("x", n), nil
	}
	terms, err := splitSum(expr)
	if err != nil {
		return "", err
	}
	if len(terms) == 1 && identPattern.MatchString(terms[0].text) {
		val, ok := v[terms[0].text]
		if !ok {
			return "", fmt.Errorf("undefined variable {{%s}}", terms[0].text)
		}
		return val, nil
	}
	total := 0
	for _, t := range terms {
		n, err := v.intTerm(t.text)
		if err != nil {
			return "", fmt.Errorf("in {{%s}}: %w", expr, err)
		}
		total += t.sign * n
	}
	return strconv.Itoa(total), nil
}

// intTerm returns the integer value of a literal or a variable.
func (v variables) intTerm(text string) (int, error) {
	if n, err := strconv.Atoi(text); err == nil {
		return n, nil
	}
	val, ok := v[text]
	if !ok {
		return 0, fmt.Errorf("undefined variable {{%s}}", text)
	}
	n, err := strconv.Atoi(val)
	if err != nil {
		return 0, fmt.Errorf("variable %s is %q, not an integer", text, val)
	}
	return n, nil
}

// term is one signed operand of a template sum.
type term struct {
	sign int
	text string
}

// splitSum splits "a+b-3" into its signed terms.
func splitSum(expr string) ([]term, error) {
	var terms []term
	sign := 1
	start := 0
	for i := 0; i <= len(expr); i++ {
		if i < len(expr) && expr[i] != '+' && expr[i] != '-' {
			continue
		}
		text := strings.TrimSpace(expr[start:i])
		if text == "" {
			return nil, fmt.Errorf("invalid template expression {{%s}}: want a variable, an integer, a sum such as a+b-1, or filler N", expr)
		}
		if _, err := strconv.Atoi(text); err != nil && !identPattern.MatchString(text) {
			return nil, fmt.Errorf("invalid template expression {{%s}}: %q is neither a variable name nor an integer", expr, text)
		}
		terms = append(terms, term{sign: sign, text: text})
		if i < len(expr) && expr[i] == '-' {
			sign = -1
		} else {
			sign = 1
		}
		start = i + 1
	}
	return terms, nil
}

// parseSize parses a byte count such as 4096, 512KiB or 3MiB.
func parseSize(s string) (int, error) {
	mult := 1
	num := s
	switch {
	case strings.HasSuffix(s, "MiB"):
		mult, num = 1<<20, strings.TrimSuffix(s, "MiB")
	case strings.HasSuffix(s, "KiB"):
		mult, num = 1<<10, strings.TrimSuffix(s, "KiB")
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n*mult > maxFiller {
		return 0, fmt.Errorf("invalid filler size %q: want a byte count up to 64MiB such as 4096, 512KiB or 3MiB", s)
	}
	return n * mult, nil
}

// references returns the variable names that the templates in s use.
func references(s string) ([]string, error) {
	var names []string
	for _, m := range templatePattern.FindAllStringSubmatch(s, -1) {
		expr := m[1]
		if size, ok := strings.CutPrefix(expr, "filler "); ok {
			if _, err := parseSize(strings.TrimSpace(size)); err != nil {
				return nil, err
			}
			continue
		}
		terms, err := splitSum(expr)
		if err != nil {
			return nil, err
		}
		for _, t := range terms {
			if identPattern.MatchString(t.text) {
				names = append(names, t.text)
			}
		}
	}
	return names, nil
}

// expandJSON expands the templates in every string of a JSON value, keys
// excluded, and returns the value encoded again. Nil stays nil.
func (v variables) expandJSON(raw json.RawMessage) (json.RawMessage, error) {
	if raw == nil {
		return nil, nil
	}
	val, err := decodeJSON(raw)
	if err != nil {
		return nil, err
	}
	val, err = v.expandValue(val)
	if err != nil {
		return nil, err
	}
	return encodeJSON(val)
}

// expandValue expands the strings inside a decoded JSON value.
func (v variables) expandValue(val any) (any, error) {
	switch x := val.(type) {
	case string:
		return v.expand(x)
	case []any:
		for i := range x {
			e, err := v.expandValue(x[i])
			if err != nil {
				return nil, err
			}
			x[i] = e
		}
	case map[string]any:
		for k := range x {
			e, err := v.expandValue(x[k])
			if err != nil {
				return nil, err
			}
			x[k] = e
		}
	}
	return val, nil
}

// decodeJSON decodes one JSON value, keeping numbers as [json.Number].
func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var val any
	if err := dec.Decode(&val); err != nil {
		return nil, err
	}
	return val, nil
}

// encodeJSON encodes a value on one line without escaping <, > and &.
func encodeJSON(val any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(val); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// intValue expands a JSON integer or template into an int.
func (v variables) intValue(raw json.RawMessage) (int, error) {
	f, err := v.numberValue(raw)
	if err != nil {
		return 0, err
	}
	if f != float64(int(f)) {
		return 0, fmt.Errorf("%s is not an integer", raw)
	}
	return int(f), nil
}

// numberValue expands a JSON number or template into a float64.
func (v variables) numberValue(raw json.RawMessage) (float64, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		s, err = v.expand(s)
		if err != nil {
			return 0, err
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return 0, fmt.Errorf("%s expands to %q, not a number", raw, s)
		}
		return f, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, fmt.Errorf("%s is not a number", raw)
	}
	return f, nil
}
