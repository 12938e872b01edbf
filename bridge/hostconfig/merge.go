package hostconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
)

// ErrConflict means the file already has a server of that name that does
// not run the bridge, so it is left alone.
var ErrConflict = errors.New("a different server has that name")

// entryJSON is the JSON form of one server entry, in the field order hosts
// write themselves.
type entryJSON struct {
	Type    string            `json:"type,omitempty"`
	Command string            `json:"command"`
	Args    []string          `json:"args"`
	Env     map[string]string `json:"env,omitempty"`
}

func (h Host) entry(s Server) entryJSON {
	e := entryJSON{Command: s.Command, Args: s.Args, Env: s.Env}
	if e.Args == nil {
		e.Args = []string{}
	}
	if h.TypeStdio {
		e.Type = "stdio"
	}
	return e
}

// Snippet returns a complete configuration file for the host that contains
// only this server, for a user to read or paste.
func (h Host) Snippet(name string, s Server) ([]byte, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	doc := map[string]map[string]entryJSON{h.Key: {name: h.entry(s)}}
	out, err := marshal(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Merge returns data with the server set under name, and whether that
// changed anything. Everything else in data, comments and formatting
// included, is kept byte for byte. Empty data counts as an empty file. It
// returns a [*SyntaxError] when data cannot be parsed, an error wrapping
// [ErrConflict] when name belongs to a server that does not run a
// joai-bridge executable, and an error when the host's key is not an object.
func (h Host) Merge(data []byte, name string, s Server) ([]byte, bool, error) {
	if err := CheckName(name); err != nil {
		return nil, false, err
	}
	if len(bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\ufeff")))) == 0 {
		out, err := h.Snippet(name, s)
		return out, true, err
	}

	root, err := parseDocument(data, h.JSONC)
	if err != nil {
		return nil, false, err
	}
	if !root.isObject {
		return nil, false, fmt.Errorf("the top level is not a JSON object: a %s file holds an object such as {%q: {}}", h.Title, h.Key)
	}
	e := &editor{data: data, unit: indentUnit(data, root)}
	entry := h.entry(s)

	servers, count := root.lookup(h.Key)
	switch {
	case count > 1:
		return nil, false, fmt.Errorf("%q appears %d times at the top level: keep one of them", h.Key, count)
	case servers == nil:
		return e.insert(root, h.Key, map[string]entryJSON{name: entry})
	case !servers.value.isObject:
		line, col := position(data, servers.value.start)
		return nil, false, fmt.Errorf("%q at line %d, column %d is not an object: it must map server names to entries", h.Key, line, col)
	}

	existing, count := servers.value.lookup(name)
	switch {
	case count > 1:
		return nil, false, fmt.Errorf("server %q appears %d times in %q: keep one of them", name, count, h.Key)
	case existing == nil:
		return e.insert(servers.value, name, entry)
	}
	if same, err := sameJSON(existing.value.value, entry); err != nil || same {
		return data, false, err
	}
	if !runsBridge(existing.value.value) {
		return nil, false, fmt.Errorf("%w: server %q already exists and does not run joai-bridge: choose another name with --name, or remove that entry first", ErrConflict, name)
	}
	return e.replace(existing.value, entry)
}

// runsBridge reports whether a parsed entry's command is a joai-bridge
// executable, so that replacing it only updates the bridge's own entry.
func runsBridge(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	cmd, _ := m["command"].(string)
	base := filepath.Base(strings.ReplaceAll(cmd, `\`, "/"))
	return strings.HasPrefix(strings.ToLower(base), "joai-bridge")
}

// sameJSON reports whether a parsed value equals v once v goes through JSON.
func sameJSON(parsed any, v any) (bool, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return false, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var want any
	if err := dec.Decode(&want); err != nil {
		return false, err
	}
	return reflect.DeepEqual(parsed, want), nil
}

// editor splices new JSON text into data.
type editor struct {
	data []byte
	unit string
}

// insert adds "key": value as the last member of obj.
func (e *editor) insert(obj *node, key string, value any) ([]byte, bool, error) {
	keyJSON, err := marshal(key, "", "")
	if err != nil {
		return nil, false, err
	}
	var text string
	at := 0
	if len(obj.members) > 0 {
		last := obj.members[len(obj.members)-1]
		indent := lineIndent(e.data, last.keyStart)
		valueJSON, err := marshal(value, indent, e.unit)
		if err != nil {
			return nil, false, err
		}
		at = last.value.end
		text = ",\n" + indent + string(keyJSON) + ": " + string(valueJSON)
	} else {
		outer := lineIndent(e.data, obj.start)
		indent := outer + e.unit
		valueJSON, err := marshal(value, indent, e.unit)
		if err != nil {
			return nil, false, err
		}
		at = obj.start + 1
		text = "\n" + indent + string(keyJSON) + ": " + string(valueJSON) + "\n" + outer
		if closing := bytes.TrimSpace(e.data[at : obj.end-1]); len(closing) > 0 {
			// Only comments are inside; they stay after the new member.
			text = strings.TrimSuffix(text, outer)
		}
	}
	return e.splice(at, at, text), true, nil
}

// replace puts value in place of the value node n.
func (e *editor) replace(n *node, value any) ([]byte, bool, error) {
	valueJSON, err := marshal(value, lineIndent(e.data, n.start), e.unit)
	if err != nil {
		return nil, false, err
	}
	return e.splice(n.start, n.end, string(valueJSON)), true, nil
}

// splice returns data with [start, end) replaced by text, whose line breaks
// follow the file's.
func (e *editor) splice(start, end int, text string) []byte {
	if bytes.Contains(e.data, []byte("\r\n")) {
		text = strings.ReplaceAll(text, "\n", "\r\n")
	}
	out := make([]byte, 0, len(e.data)+len(text))
	out = append(out, e.data[:start]...)
	out = append(out, text...)
	return append(out, e.data[end:]...)
}

// lineIndent returns the spaces and tabs at the start of the line that
// holds offset pos.
func lineIndent(data []byte, pos int) string {
	start := bytes.LastIndexByte(data[:pos], '\n') + 1
	end := start
	for end < len(data) && (data[end] == ' ' || data[end] == '\t') {
		end++
	}
	return string(data[start:end])
}

// indentUnit guesses one level of the file's indentation from its first
// top-level member, two spaces when it cannot tell.
func indentUnit(data []byte, root *node) string {
	if len(root.members) == 0 {
		return "  "
	}
	first := root.members[0].keyStart
	lineStart := bytes.LastIndexByte(data[:first], '\n') + 1
	prefix := data[lineStart:first]
	if lineStart <= root.start || len(prefix) == 0 || len(bytes.Trim(prefix, " \t")) != 0 {
		return "  "
	}
	return string(prefix)
}

// marshal encodes v indented, without escaping <, > and &, which may occur
// in paths and are valid in JSON strings.
func marshal(v any, prefix, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, indent)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
