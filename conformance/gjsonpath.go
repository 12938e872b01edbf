package conformance

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// checkPath checks the syntax of a gjson path in a fixture, so that a typo
// is a fixture error at load time instead of "no value at this path" at
// run time. gjson v1.20.4 has no path validator (gjson.Valid checks JSON
// documents), and running a bad path against an empty document cannot tell
// it from a path that matches nothing, so this is a small syntax check of
// its own. It rejects:
//   - an empty path, or one that ends in an escaping backslash;
//   - unbalanced (), [] or {} outside quoted strings, which gjson uses for
//     queries, multipaths and literals;
//   - an empty component between dots or pipes, as in "a..b" or "a.",
//     except the leading ".." that gjson reads as JSON Lines;
//   - a modifier, such as "@fromstr", that gjson does not know.
//
// A path that passes may still match nothing in a given reply.
func checkPath(path string) error {
	if path == "" {
		return errors.New("the path is empty: use \"@this\" for the whole body")
	}
	rest := strings.TrimPrefix(path, "..")
	var closers []byte
	inString := false
	component := 0 // bytes in the current top-level component
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c == '\\' {
			if i+1 == len(rest) {
				return fmt.Errorf("path %q ends in a backslash that escapes nothing", path)
			}
			i++
			component++
			continue
		}
		if inString {
			inString = c != '"'
			continue
		}
		switch c {
		case '"':
			inString = len(closers) > 0
		case '(', '[', '{':
			closers = append(closers, map[byte]byte{'(': ')', '[': ']', '{': '}'}[c])
		case ')', ']', '}':
			if len(closers) == 0 || closers[len(closers)-1] != c {
				return fmt.Errorf("path %q has an unbalanced %q at byte %d", path, c, i+len(path)-len(rest))
			}
			closers = closers[:len(closers)-1]
		case '.', '|':
			if len(closers) == 0 {
				if component == 0 {
					return fmt.Errorf("path %q has an empty component at byte %d: remove the extra %q", path, i+len(path)-len(rest), c)
				}
				component = 0
				continue
			}
		}
		component++
	}
	switch {
	case inString:
		return fmt.Errorf("path %q has a quoted string that is not closed", path)
	case len(closers) > 0:
		return fmt.Errorf("path %q is missing %q at its end", path, string(closers[len(closers)-1]))
	case component == 0:
		return fmt.Errorf("path %q ends in %q: remove it or add the key after it", path, rest[len(rest)-1:])
	}
	return checkModifiers(path, rest)
}

// checkModifiers checks that every top-level component that starts with
// "@" names a modifier that gjson defines.
func checkModifiers(path, rest string) error {
	for _, comp := range splitTopLevel(rest) {
		name, ok := strings.CutPrefix(comp, "@")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, ":")
		if !gjson.ModifierExists(name, nil) {
			return fmt.Errorf("path %q uses the unknown modifier @%s: gjson has @this, @fromstr, @reverse, @keys, @values and others", path, name)
		}
	}
	return nil
}

// splitTopLevel splits a path at the dots and pipes outside brackets and
// quoted strings. checkPath has checked that these are balanced.
func splitTopLevel(path string) []string {
	var parts []string
	depth, start, inString := 0, 0, false
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '\\':
			i++
		case inString:
			inString = c != '"'
		case c == '"' && depth > 0:
			inString = true
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
		case (c == '.' || c == '|') && depth == 0:
			parts = append(parts, path[start:i])
			start = i + 1
		}
	}
	return append(parts, path[start:])
}
