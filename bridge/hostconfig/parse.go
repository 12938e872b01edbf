package hostconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// SyntaxError is a configuration file that cannot be parsed. Line and
// Column are 1-based; Column counts bytes.
type SyntaxError struct {
	// File is the path of the file, or empty when the data came from
	// elsewhere.
	File string
	// Line and Column locate the problem.
	Line, Column int
	// Msg describes the problem.
	Msg string
}

// Error returns "file:line:column: message".
func (e *SyntaxError) Error() string {
	where := fmt.Sprintf("line %d, column %d", e.Line, e.Column)
	if e.File != "" {
		where = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
	}
	return where + ": " + e.Msg
}

// node is one parsed JSON value with its byte span in the source.
type node struct {
	start, end int
	// value is the decoded value: map[string]any, []any, string,
	// json.Number, bool or nil.
	value any
	// members are an object's members in source order; nil for other kinds.
	members  []member
	isObject bool
}

// member is one "key": value pair of an object.
type member struct {
	key      string
	keyStart int
	value    *node
}

// lookup returns the last member named key, and how many members have that
// name.
func (n *node) lookup(key string) (*member, int) {
	var found *member
	count := 0
	for i := range n.members {
		if n.members[i].key == key {
			found = &n.members[i]
			count++
		}
	}
	return found, count
}

// parser reads JSON, or JSON with comments and trailing commas (the JSONC
// that VS Code accepts) when jsonc is set.
type parser struct {
	data  []byte
	pos   int
	jsonc bool
}

// parseDocument parses data as one JSON value, optionally preceded by a
// UTF-8 byte order mark and surrounded by whitespace (and comments in
// JSONC).
func parseDocument(data []byte, jsonc bool) (*node, error) {
	p := &parser{data: data, jsonc: jsonc}
	if bytes.HasPrefix(data, []byte("\ufeff")) {
		p.pos = 3
	}
	if err := p.skipSpace(); err != nil {
		return nil, err
	}
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if err := p.skipSpace(); err != nil {
		return nil, err
	}
	if p.pos < len(p.data) {
		return nil, p.errorf(p.pos, "unexpected %s after the end of the top-level value", p.describe(p.pos))
	}
	return n, nil
}

// maxDepth bounds nesting, so that a hostile file cannot exhaust the stack.
const maxDepth = 512

func (p *parser) value(depth int) (*node, error) {
	if depth > maxDepth {
		return nil, p.errorf(p.pos, "nested more than %d levels deep", maxDepth)
	}
	if p.pos >= len(p.data) {
		return nil, p.errorf(p.pos, "unexpected end of file, expected a value")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		start := p.pos
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &node{start: start, end: p.pos, value: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		for _, lit := range []struct {
			text  string
			value any
		}{{"true", true}, {"false", false}, {"null", nil}} {
			if bytes.HasPrefix(p.data[p.pos:], []byte(lit.text)) {
				start := p.pos
				p.pos += len(lit.text)
				return &node{start: start, end: p.pos, value: lit.value}, nil
			}
		}
		return nil, p.errorf(p.pos, "unexpected %s, expected a value", p.describe(p.pos))
	}
}

func (p *parser) object(depth int) (*node, error) {
	n := &node{start: p.pos, isObject: true}
	values := map[string]any{}
	p.pos++
	for {
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.pos < len(p.data) && p.data[p.pos] == '}' {
			p.pos++
			n.end, n.value = p.pos, values
			return n, nil
		}
		if len(n.members) > 0 {
			if p.pos >= len(p.data) || p.data[p.pos] != ',' {
				return nil, p.errorf(p.pos, "unexpected %s, expected , or } after an object member", p.describe(p.pos))
			}
			p.pos++
			if err := p.skipSpace(); err != nil {
				return nil, err
			}
			if p.pos < len(p.data) && p.data[p.pos] == '}' {
				if !p.jsonc {
					return nil, p.errorf(p.pos-1, "trailing comma before }; remove it")
				}
				continue
			}
		}
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errorf(p.pos, "unexpected %s, expected a quoted member name", p.describe(p.pos))
		}
		keyStart := p.pos
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errorf(p.pos, "unexpected %s, expected : after the member name", p.describe(p.pos))
		}
		p.pos++
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.members = append(n.members, member{key: key, keyStart: keyStart, value: v})
		values[key] = v.value
	}
}

func (p *parser) array(depth int) (*node, error) {
	n := &node{start: p.pos}
	values := []any{}
	p.pos++
	for {
		if err := p.skipSpace(); err != nil {
			return nil, err
		}
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
			n.end, n.value = p.pos, values
			return n, nil
		}
		if len(values) > 0 {
			if p.pos >= len(p.data) || p.data[p.pos] != ',' {
				return nil, p.errorf(p.pos, "unexpected %s, expected , or ] after an array element", p.describe(p.pos))
			}
			p.pos++
			if err := p.skipSpace(); err != nil {
				return nil, err
			}
			if p.pos < len(p.data) && p.data[p.pos] == ']' {
				if !p.jsonc {
					return nil, p.errorf(p.pos-1, "trailing comma before ]; remove it")
				}
				continue
			}
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		values = append(values, v.value)
	}
}

// str reads a string literal and returns its decoded value.
func (p *parser) str() (string, error) {
	start := p.pos
	p.pos++
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			var s string
			if err := json.Unmarshal(p.data[start:p.pos], &s); err != nil {
				return "", p.errorf(start, "invalid string: %v", err)
			}
			return s, nil
		case c == '\\':
			if p.pos+1 >= len(p.data) {
				return "", p.errorf(p.pos, "unexpected end of file in a string")
			}
			if !bytes.ContainsRune([]byte(`"\/bfnrtu`), rune(p.data[p.pos+1])) {
				return "", p.errorf(p.pos, "invalid escape \\%c in a string", p.data[p.pos+1])
			}
			p.pos += 2
		case c < 0x20:
			return "", p.errorf(p.pos, "control character U+%04X in a string; line breaks in strings must be written \\n", c)
		default:
			_, size := utf8.DecodeRune(p.data[p.pos:])
			p.pos += size
		}
	}
	return "", p.errorf(start, "string is not closed before the end of the file")
}

func (p *parser) number() (*node, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.data[p.pos] == '-' {
		p.pos++
	}
	if p.pos < len(p.data) && p.data[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		return nil, p.errorf(start, "invalid number")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return nil, p.errorf(start, "invalid number: digits expected after the decimal point")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return nil, p.errorf(start, "invalid number: digits expected in the exponent")
		}
	}
	return &node{start: start, end: p.pos, value: json.Number(p.data[start:p.pos])}, nil
}

// skipSpace skips whitespace and, in JSONC, // and /* */ comments.
func (p *parser) skipSpace() error {
	for p.pos < len(p.data) {
		switch c := p.data[p.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.pos++
		case c == '/' && p.pos+1 < len(p.data) && (p.data[p.pos+1] == '/' || p.data[p.pos+1] == '*'):
			if !p.jsonc {
				return p.errorf(p.pos, "comments are not allowed in this file; remove them")
			}
			if err := p.skipComment(); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

func (p *parser) skipComment() error {
	start := p.pos
	if p.data[p.pos+1] == '/' {
		end := bytes.IndexByte(p.data[p.pos:], '\n')
		if end < 0 {
			p.pos = len(p.data)
		} else {
			p.pos += end + 1
		}
		return nil
	}
	end := bytes.Index(p.data[p.pos+2:], []byte("*/"))
	if end < 0 {
		return p.errorf(start, "comment /* is not closed")
	}
	p.pos += 2 + end + 2
	return nil
}

// describe names the byte at pos for an error message.
func (p *parser) describe(pos int) string {
	if pos >= len(p.data) {
		return "end of file"
	}
	r, _ := utf8.DecodeRune(p.data[pos:])
	return fmt.Sprintf("character %q", r)
}

func (p *parser) errorf(pos int, format string, args ...any) error {
	line, col := position(p.data, pos)
	return &SyntaxError{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// position returns the 1-based line and byte column of offset pos.
func position(data []byte, pos int) (int, int) {
	pos = min(pos, len(data))
	before := data[:pos]
	line := bytes.Count(before, []byte("\n")) + 1
	col := pos - bytes.LastIndexByte(before, '\n')
	return line, col
}
