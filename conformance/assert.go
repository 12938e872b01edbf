package conformance

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/tidwall/gjson"
)

// reply is the reply to one request. Over stdio Status is 0 and Header is
// nil, and Body is the JSON-RPC message the bridge wrote.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
	// Raw is the reply as received when it differs from Body: an SSE
	// stream whose message became Body, or a stdio line.
	Raw []byte
}

// mismatch is one expectation a reply did not meet.
type mismatch struct {
	// Subject names what was checked: "status", "header Retry-After",
	// "body result.tools".
	Subject string
	// Text describes the difference. It may span lines, as a go-cmp diff
	// does.
	Text string
}

// String formats the mismatch for reports.
func (m mismatch) String() string {
	if strings.Contains(m.Text, "\n") {
		return m.Subject + ": " + strings.TrimRight(m.Text, "\n")
	}
	return m.Subject + ": " + m.Text
}

// checkExpect returns every expectation of e that r does not meet. Status
// and headers are checked on HTTP targets only.
func checkExpect(e *Expect, r *reply, vars variables, kind TargetKind) []mismatch {
	var out []mismatch
	if kind == TargetHTTP {
		if len(e.Status) > 0 && !slices.Contains(e.Status, r.Status) {
			out = append(out, mismatch{"status", statusText(e.Status, r.Status)})
		}
		names := make([]string, 0, len(e.Headers))
		for name := range e.Headers {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			h := e.Headers[name]
			out = append(out, checkHeader(name, &h, r.Header, vars)...)
		}
	}
	for i := range e.Body {
		out = append(out, checkAssertion(&e.Body[i], r.Body, vars)...)
	}
	return out
}

// statusText describes a status that is not among the accepted ones.
func statusText(want StatusSet, got int) string {
	if len(want) == 1 {
		return fmt.Sprintf("got %d %s, want %d %s", got, http.StatusText(got), want[0], http.StatusText(want[0]))
	}
	return fmt.Sprintf("got %d %s, want one of %v", got, http.StatusText(got), []int(want))
}

// checkHeader checks one header expectation.
func checkHeader(name string, h *HeaderExpect, header http.Header, vars variables) []mismatch {
	subject := "header " + http.CanonicalHeaderKey(name)
	values := header.Values(name)
	if h.Absent {
		if len(values) > 0 {
			return []mismatch{{subject, fmt.Sprintf("got %q, want no such header", values[0])}}
		}
		return nil
	}
	if len(values) == 0 {
		return []mismatch{{subject, "missing, want " + describeHeaderWant(h)}}
	}
	got := values[0]
	var out []mismatch
	if h.Equals != nil {
		want, err := vars.expand(*h.Equals)
		if err != nil {
			return []mismatch{{subject, err.Error()}}
		}
		if got != want {
			out = append(out, mismatch{subject, "value differs (-want +got):\n" + cmp.Diff(want, got)})
		}
	}
	if h.Prefix != "" && !strings.HasPrefix(got, h.Prefix) {
		out = append(out, mismatch{subject, fmt.Sprintf("got %q, want a value starting with %q", got, h.Prefix)})
	}
	if h.Matches != "" {
		re, err := regexp.Compile(h.Matches)
		if err != nil {
			return append(out, mismatch{subject, err.Error()})
		}
		if !re.MatchString(got) {
			out = append(out, mismatch{subject, fmt.Sprintf("got %q, want a value matching %s", got, h.Matches)})
		}
	}
	return out
}

// describeHeaderWant describes what a header expectation wants, for a
// missing header.
func describeHeaderWant(h *HeaderExpect) string {
	var parts []string
	if h.Equals != nil {
		parts = append(parts, strconv.Quote(*h.Equals))
	}
	if h.Prefix != "" {
		parts = append(parts, "a value starting with "+strconv.Quote(h.Prefix))
	}
	if h.Matches != "" {
		parts = append(parts, "a value matching "+h.Matches)
	}
	return strings.Join(parts, " and ")
}

// checkAssertion checks one body assertion.
func checkAssertion(a *Assertion, body []byte, vars variables) []mismatch {
	subject := "body " + a.Path
	if !gjson.ValidBytes(body) {
		return []mismatch{{subject, "the body is not JSON: " + snippet(body, 200)}}
	}
	res := gjson.GetBytes(body, a.Path)
	if a.Absent {
		if res.Exists() {
			return []mismatch{{subject, "got " + snippet([]byte(res.Raw), 200) + ", want no value"}}
		}
		return nil
	}
	if !res.Exists() {
		return []mismatch{{subject, "no value at this path, want " + describeAssertion(a)}}
	}

	var out []mismatch
	add := func(format string, args ...any) {
		out = append(out, mismatch{subject, fmt.Sprintf(format, args...)})
	}
	if a.Equals != nil {
		if text := equalsDiff(a, res, vars); text != "" {
			add("%s", text)
		}
	}
	if a.Type != "" {
		if got := jsonType(res); got != a.Type && !(a.Type == "number" && got == "integer") {
			add("got a value of type %s (%s), want type %s", got, snippet([]byte(res.Raw), 120), a.Type)
		}
	}
	if a.Matches != "" {
		re, err := regexp.Compile(a.Matches)
		if err != nil {
			add("%v", err)
		} else if text := matchText(res); !re.MatchString(text) {
			add("got %s, want a value matching %s", snippet([]byte(res.Raw), 200), a.Matches)
		}
	}
	if a.Contains != nil {
		if text := containsText(a, res, vars); text != "" {
			add("%s", text)
		}
	}
	if a.Length != nil {
		n, ok := lengthOf(res)
		if !ok {
			add("got %s, which has no length: want a string, an array or an object", snippet([]byte(res.Raw), 120))
		} else if text := checkCount(a.Length, n, vars); text != "" {
			add("length %d: %s", n, text)
		}
	}
	if a.Min != nil || a.Max != nil {
		if text := rangeText(a, res, vars); text != "" {
			add("%s", text)
		}
	}
	return out
}

// equalsDiff compares the value with Equals and returns the go-cmp diff,
// or "" when they are equal.
func equalsDiff(a *Assertion, res gjson.Result, vars variables) string {
	wantRaw, err := vars.expandJSON(a.Equals)
	if err != nil {
		return err.Error()
	}
	want, err := decodeNormalized(wantRaw)
	if err != nil {
		return "decoding equals: " + err.Error()
	}
	got, err := decodeNormalized([]byte(res.Raw))
	if err != nil {
		return "decoding the value: " + err.Error()
	}
	if a.Unordered {
		want, got = sortArrays(want), sortArrays(got)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		return "value differs (-want +got):\n" + diff
	}
	return ""
}

// decodeNormalized decodes JSON with every number as a float64, so that 1
// and 1.0 compare equal.
func decodeNormalized(raw []byte) (any, error) {
	var val any
	if err := json.Unmarshal(raw, &val); err != nil {
		return nil, err
	}
	return val, nil
}

// sortArrays sorts every array inside a decoded JSON value by the
// canonical JSON of its elements, so that arrays compare as multisets and
// a diff of two sorted values shows only the elements that differ.
func sortArrays(val any) any {
	switch x := val.(type) {
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = sortArrays(e)
		}
		sort.SliceStable(out, func(i, j int) bool { return canonical(out[i]) < canonical(out[j]) })
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = sortArrays(e)
		}
		return out
	}
	return val
}

// canonical returns the JSON text of a decoded value with sorted keys.
func canonical(val any) string {
	b, err := json.Marshal(val)
	if err != nil {
		return fmt.Sprint(val)
	}
	return string(b)
}

// jsonType names the JSON type of a value, telling integers apart from
// other numbers.
func jsonType(res gjson.Result) string {
	switch res.Type {
	case gjson.String:
		return "string"
	case gjson.Number:
		if f := res.Float(); f == math.Trunc(f) && !strings.ContainsAny(res.Raw, ".eE") {
			return "integer"
		}
		return "number"
	case gjson.True, gjson.False:
		return "boolean"
	case gjson.Null:
		return "null"
	}
	if res.IsArray() {
		return "array"
	}
	return "object"
}

// matchText is the text a pattern is matched against: a string's value,
// or any other value's JSON.
func matchText(res gjson.Result) string {
	if res.Type == gjson.String {
		return res.Str
	}
	return res.Raw
}

// containsText checks Contains and returns "" when it holds.
func containsText(a *Assertion, res gjson.Result, vars variables) string {
	wantRaw, err := vars.expandJSON(a.Contains)
	if err != nil {
		return err.Error()
	}
	want, err := decodeNormalized(wantRaw)
	if err != nil {
		return "decoding contains: " + err.Error()
	}
	got := snippet([]byte(res.Raw), 300)
	switch {
	case res.Type == gjson.String:
		s, ok := want.(string)
		if !ok {
			return fmt.Sprintf("got the string %s, which cannot contain %s: want a string in contains", got, wantRaw)
		}
		if !strings.Contains(res.Str, s) {
			return fmt.Sprintf("got %s, want a string containing %q", got, s)
		}
	case res.IsArray():
		for _, e := range res.Array() {
			if v, err := decodeNormalized([]byte(e.Raw)); err == nil && cmp.Equal(want, v) {
				return ""
			}
		}
		return fmt.Sprintf("got %s, want an array with the element %s", got, wantRaw)
	case res.IsObject():
		key, ok := want.(string)
		if !ok {
			return fmt.Sprintf("got an object, which contains keys: want a key name in contains, not %s", wantRaw)
		}
		if !res.Get(gjson.Escape(key)).Exists() {
			return fmt.Sprintf("got %s, want an object with the key %q", got, key)
		}
	default:
		return fmt.Sprintf("got %s, which contains nothing: want a string, an array or an object", got)
	}
	return ""
}

// lengthOf returns the length of a string, array or object.
func lengthOf(res gjson.Result) (int, bool) {
	switch {
	case res.Type == gjson.String:
		return utf8.RuneCountInString(res.Str), true
	case res.IsArray():
		return len(res.Array()), true
	case res.IsObject():
		return len(res.Map()), true
	}
	return 0, false
}

// checkCount checks n against a count and returns "" when it holds.
func checkCount(c *Count, n int, vars variables) string {
	lo, hi, err := countBounds(c, vars)
	if err != nil {
		return err.Error()
	}
	switch {
	case lo != nil && hi != nil && *lo == *hi && n != *lo:
		return fmt.Sprintf("want exactly %d", *lo)
	case lo != nil && n < *lo:
		return fmt.Sprintf("want at least %d", *lo)
	case hi != nil && n > *hi:
		return fmt.Sprintf("want at most %d", *hi)
	}
	return ""
}

// countBounds evaluates the bounds of a count; nil means unbounded.
func countBounds(c *Count, vars variables) (lo, hi *int, err error) {
	if c.Min != nil {
		n, err := vars.intValue(c.Min)
		if err != nil {
			return nil, nil, err
		}
		lo = &n
	}
	if c.Max != nil {
		n, err := vars.intValue(c.Max)
		if err != nil {
			return nil, nil, err
		}
		hi = &n
	}
	return lo, hi, nil
}

// rangeText checks Min and Max and returns "" when they hold.
func rangeText(a *Assertion, res gjson.Result, vars variables) string {
	if res.Type != gjson.Number {
		return fmt.Sprintf("got %s, want a number", snippet([]byte(res.Raw), 120))
	}
	got := res.Float()
	if a.Min != nil {
		lo, err := vars.numberValue(a.Min)
		if err != nil {
			return err.Error()
		}
		if got < lo {
			return fmt.Sprintf("got %s, want at least %v", res.Raw, lo)
		}
	}
	if a.Max != nil {
		hi, err := vars.numberValue(a.Max)
		if err != nil {
			return err.Error()
		}
		if got > hi {
			return fmt.Sprintf("got %s, want at most %v", res.Raw, hi)
		}
	}
	return ""
}

// describeAssertion describes what an assertion wants, for a missing
// value.
func describeAssertion(a *Assertion) string {
	var parts []string
	if a.Equals != nil {
		parts = append(parts, compactText(a.Equals))
	}
	if a.Exists {
		parts = append(parts, "a value")
	}
	if a.Type != "" {
		parts = append(parts, "a value of type "+a.Type)
	}
	if a.Matches != "" {
		parts = append(parts, "a value matching "+a.Matches)
	}
	if a.Contains != nil {
		parts = append(parts, "a value containing "+compactText(a.Contains))
	}
	if a.Length != nil {
		parts = append(parts, "a value with a length")
	}
	if a.Min != nil || a.Max != nil {
		parts = append(parts, "a number")
	}
	return snippet([]byte(strings.Join(parts, " and ")), 300)
}

// compactText returns JSON without insignificant space.
func compactText(raw json.RawMessage) string {
	if c, err := compactJSON(raw); err == nil {
		return string(c)
	}
	return string(raw)
}

// snippet shortens b for a message, keeping its start.
func snippet(b []byte, max int) string {
	s := string(b)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes)", s[:cut], len(s))
}
