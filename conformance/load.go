package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/joai-ai/joai-mcp/fixtures"
)

// SchemaFile is the name of the fixture JSON Schema in the fixtures
// directory. [Load] skips it, and skips SeedFile, the mock's state.
const (
	SchemaFile = "fixture.schema.json"
	SeedFile   = "seed.json"
)

// schemaURL is the $id of the fixture schema.
const schemaURL = "https://github.com/joai-ai/joai-mcp/fixtures/fixture.schema.json"

// compiledSchema compiles the embedded fixture schema once.
var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	data, err := fs.ReadFile(fixtures.Conformance, SchemaFile)
	if err != nil {
		return nil, fmt.Errorf("reading embedded %s: %w", SchemaFile, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parsing embedded %s: %w", SchemaFile, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, fmt.Errorf("adding embedded %s: %w", SchemaFile, err)
	}
	return c.Compile(schemaURL)
})

// printer renders schema validation messages in English.
var printer = message.NewPrinter(language.English)

// DefaultFixtures loads the fixtures embedded from the repository's
// fixtures directory.
func DefaultFixtures() ([]*Fixture, error) {
	return Load(fixtures.Conformance)
}

// LoadDir loads the fixtures in a directory, as [Load] does, naming each
// file by its path in errors.
func LoadDir(dir string) ([]*Fixture, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("reading fixtures: %w", err)
	}
	return load(os.DirFS(dir), dir)
}

// Load reads every fixture file in the root of fsys: the files named *.json
// except SchemaFile, SeedFile and other *.schema.json files. Each file holds
// one fixture. The error lists every problem in every file, each naming the
// file as fixtures/NAME, the field as a JSON pointer and what is wrong.
// Fixtures come back sorted by name.
func Load(fsys fs.FS) ([]*Fixture, error) {
	return load(fsys, "fixtures")
}

// load is Load with the directory name used in messages.
func load(fsys fs.FS, dir string) ([]*Fixture, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, fmt.Errorf("listing fixtures: %w", err)
	}
	var list []*Fixture
	var errs []error
	seen := map[string]string{}
	for _, name := range names {
		if name == SeedFile || strings.HasSuffix(name, ".schema.json") {
			continue
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		f, err := ParseFixture(filepath.Join(dir, name), data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, ok := seen[f.Name]; ok {
			errs = append(errs, fmt.Errorf("%s: /name: fixture name %q is already used by %s; give each fixture its own name", f.File, f.Name, other))
			continue
		}
		seen[f.Name] = f.File
		list = append(list, f)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(list) == 0 {
		return nil, errors.New("no fixtures found: want *.json files other than seed.json and *.schema.json")
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list, nil
}

// ParseFixture decodes and checks one fixture. file names the source in
// errors. The error lists every problem found, each as
// "FILE: /json/pointer: problem".
func ParseFixture(file string, data []byte) (*Fixture, error) {
	var generic any
	if err := json.Unmarshal(data, &generic); err != nil {
		return nil, fmt.Errorf("%s: %s", file, describeSyntaxError(data, err))
	}

	sch, err := compiledSchema()
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := sch.Validate(doc); err != nil {
		var verr *jsonschema.ValidationError
		if !errors.As(err, &verr) {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return nil, problemsError(file, schemaProblems(verr))
	}

	f := &Fixture{File: file}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(f); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	f.File = file
	if problems := checkFixture(f); len(problems) > 0 {
		return nil, problemsError(file, problems)
	}
	return f, nil
}

// problem is one thing wrong with a fixture, at a JSON pointer.
type problem struct {
	pointer string
	text    string
}

// problemsError joins problems into one error naming the file.
func problemsError(file string, problems []problem) error {
	lines := make([]string, len(problems))
	for i, p := range problems {
		ptr := p.pointer
		if ptr == "" {
			ptr = "/"
		}
		lines[i] = fmt.Sprintf("%s: %s: %s", file, ptr, p.text)
	}
	return errors.New(strings.Join(lines, "\n"))
}

// schemaProblems flattens a validation error into its leaf causes.
func schemaProblems(verr *jsonschema.ValidationError) []problem {
	var out []problem
	seen := map[problem]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		p := problem{
			pointer: pointer(e.InstanceLocation...),
			text:    e.ErrorKind.LocalizedString(printer),
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	walk(verr)
	sort.SliceStable(out, func(i, j int) bool { return out[i].pointer < out[j].pointer })
	return out
}

// pointer builds a JSON pointer from path tokens.
func pointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		b.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return b.String()
}

// describeSyntaxError adds the line and column to a JSON decoding error.
func describeSyntaxError(data []byte, err error) string {
	var serr *json.SyntaxError
	if !errors.As(err, &serr) {
		return "invalid JSON: " + err.Error()
	}
	// Offset counts the bytes read, the offending one included.
	at := max(int(serr.Offset)-1, 0)
	line := 1 + bytes.Count(data[:at], []byte("\n"))
	col := at - bytes.LastIndexByte(data[:at], '\n')
	return fmt.Sprintf("invalid JSON at line %d, column %d: %v", line, col, err)
}

// checkFixture applies the rules the schema cannot express: request kinds
// against targets, regular expressions, durations, and template variables.
// It fills f.Targets when the fixture leaves it empty.
func checkFixture(f *Fixture) []problem {
	var problems []problem
	add := func(ptr, format string, args ...any) {
		problems = append(problems, problem{ptr, fmt.Sprintf(format, args...)})
	}

	runsOn := map[TargetKind]string{}
	defined := map[string]bool{}
	for _, name := range builtinVariables {
		defined[name] = true
	}
	for _, c := range f.Needs {
		for _, name := range capabilityVariables[c] {
			defined[name] = true
		}
	}

	for i := range f.Steps {
		s := &f.Steps[i]
		at := fmt.Sprintf("/steps/%d", i)
		for _, k := range checkStepKind(s, at, add) {
			if _, ok := runsOn[k]; !ok {
				runsOn[k] = fmt.Sprintf("step %d (%s)", i, s.Name)
			}
		}
		if s.Fault != nil && !slices.Contains(f.Needs, CapFaults) {
			add(at+"/fault", "a step with a fault needs the faults capability: add \"faults\" to needs")
		}
		checkStepPatterns(s, at, add)
		checkStepVariables(s, at, defined, f.Needs, add)
		for name := range s.Capture {
			defined[name] = true
		}
	}

	all := []TargetKind{TargetHTTP, TargetStdio}
	if len(f.Targets) == 0 {
		for _, k := range all {
			if _, excluded := runsOn[other(k)]; !excluded {
				f.Targets = append(f.Targets, k)
			}
		}
		if len(f.Targets) == 0 {
			add("/steps", "the steps mix HTTP-only and stdio-only requests (%s and %s), so no target can run the fixture", runsOn[TargetHTTP], runsOn[TargetStdio])
		}
	}
	for i, k := range f.Targets {
		if why, excluded := runsOn[other(k)]; excluded {
			add(fmt.Sprintf("/targets/%d", i), "%s cannot run on %s targets because %s runs only on %s", f.Name, k, why, other(k))
		}
	}
	if slices.Contains(f.Targets, TargetStdio) {
		for i, s := range f.Steps {
			if s.Repeat != nil && len(s.Repeat.Until.Body) == 0 {
				add(fmt.Sprintf("/steps/%d/repeat/until", i), "on stdio targets only body assertions are checked, so until needs one; or set targets to [\"http\"]")
			}
		}
	}
	return problems
}

// other returns the other target kind.
func other(k TargetKind) TargetKind {
	if k == TargetHTTP {
		return TargetStdio
	}
	return TargetHTTP
}

// checkStepKind checks that a step has one kind of request and returns the
// target kinds it is restricted to: http for HTTP requests and concurrent
// sends, stdio for raw stdio writes, nothing for a plain RPC message.
func checkStepKind(s *Step, at string, add func(string, string, ...any)) []TargetKind {
	var only []TargetKind
	switch {
	case s.Stdio != nil && (s.RPC != nil || s.HTTP != nil):
		add(at, "a step has either stdio or rpc/http, not both")
	case s.Stdio == nil && s.RPC == nil && s.HTTP == nil:
		add(at, "a step needs a request: rpc, http, or stdio")
	case s.Stdio != nil:
		only = append(only, TargetStdio)
	case s.HTTP != nil:
		only = append(only, TargetHTTP)
	}
	if s.RPC != nil && !bytes.HasPrefix(bytes.TrimSpace(s.RPC), []byte("{")) {
		add(at+"/rpc", "rpc must be a JSON object; send other bodies with http.body_text or stdio.write")
	}
	if s.RPC != nil && s.HTTP != nil && (s.HTTP.Body != nil || s.HTTP.BodyText != nil) {
		add(at+"/http", "http.body and http.body_text conflict with rpc, which is the body")
	}
	if s.Concurrent != nil {
		only = append(only, TargetHTTP)
		if s.Repeat != nil {
			add(at, "a step has either repeat or concurrent, not both")
		}
		if !s.Expect.empty() {
			add(at+"/expect", "a concurrent step checks its replies with concurrent.groups, so expect must be empty")
		}
		if len(s.Capture) > 0 {
			add(at+"/capture", "a concurrent step has many replies, so it cannot capture")
		}
	}
	if s.Stdio != nil && s.Stdio.Reply != nil && !*s.Stdio.Reply {
		if !s.Expect.empty() || len(s.Capture) > 0 || s.Repeat != nil {
			add(at+"/stdio/reply", "a write without a reply cannot have expect, capture or repeat")
		}
	}
	if s.Timeout != "" {
		if d, err := time.ParseDuration(s.Timeout); err != nil || d <= 0 {
			add(at+"/timeout", "invalid duration %q: want a Go duration such as 5s", s.Timeout)
		}
	}
	return only
}

// checkStepPatterns compiles every regular expression of a step and checks
// the syntax of its gjson paths.
func checkStepPatterns(s *Step, at string, add func(string, string, ...any)) {
	checkGJSON := func(ptr, path string) {
		if err := checkPath(path); err != nil {
			add(ptr, "invalid gjson path: %v", err)
		}
	}
	check := func(ptr, expr string, groups bool) {
		if expr == "" {
			return
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			add(ptr, "invalid regular expression: %v", err)
			return
		}
		if groups && re.NumSubexp() < 1 {
			add(ptr, "a capture pattern needs one group, as in \"id: (\\\\S+)\", whose text is captured")
		}
	}
	checkExpect := func(ptr string, e *Expect) {
		for name, h := range e.Headers {
			check(ptr+"/headers/"+name+"/matches", h.Matches, false)
		}
		for j, a := range e.Body {
			checkGJSON(fmt.Sprintf("%s/body/%d/path", ptr, j), a.Path)
			check(fmt.Sprintf("%s/body/%d/matches", ptr, j), a.Matches, false)
		}
	}
	checkExpect(at+"/expect", &s.Expect)
	if s.Repeat != nil {
		checkExpect(at+"/repeat/until", &s.Repeat.Until)
		if s.Repeat.While != nil {
			checkExpect(at+"/repeat/while", s.Repeat.While)
		}
	}
	if s.Concurrent != nil {
		for j := range s.Concurrent.Groups {
			e := s.Concurrent.Groups[j].expect()
			checkExpect(fmt.Sprintf("%s/concurrent/groups/%d", at, j), &e)
		}
	}
	for name, c := range s.Capture {
		if c.Path != "" {
			checkGJSON(at+"/capture/"+name+"/path", c.Path)
		}
		check(at+"/capture/"+name+"/pattern", c.Pattern, true)
	}
}

// checkStepVariables checks that every template of a step uses variables
// that are defined by then.
func checkStepVariables(s *Step, at string, defined map[string]bool, needs []Capability, add func(string, string, ...any)) {
	raw, err := json.Marshal(s)
	if err != nil {
		add(at, "encoding step: %v", err)
		return
	}
	val, err := decodeJSON(raw)
	if err != nil {
		add(at, "decoding step: %v", err)
		return
	}
	walkStrings(val, at, func(ptr, str string) {
		names, err := references(str)
		if err != nil {
			add(ptr, "%v", err)
			return
		}
		for _, name := range names {
			if defined[name] {
				continue
			}
			if c, ok := capabilityOf(name); ok && !slices.Contains(needs, c) {
				add(ptr, "{{%s}} needs the %s capability: add %q to needs", name, c, c)
				continue
			}
			add(ptr, "undefined variable {{%s}}: use a built-in (%s), a capability variable, or a capture of an earlier step", name, strings.Join(builtinVariables, ", "))
		}
	})
}

// capabilityOf returns the capability that defines a variable.
func capabilityOf(name string) (Capability, bool) {
	for c, names := range capabilityVariables {
		if slices.Contains(names, name) {
			return c, true
		}
	}
	return "", false
}

// walkStrings calls fn for every string in a decoded JSON value, with its
// JSON pointer.
func walkStrings(val any, ptr string, fn func(ptr, s string)) {
	switch x := val.(type) {
	case string:
		fn(ptr, x)
	case []any:
		for i, e := range x {
			walkStrings(e, fmt.Sprintf("%s/%d", ptr, i), fn)
		}
	case map[string]any:
		for k, e := range x {
			walkStrings(e, ptr+pointer(k), fn)
		}
	}
}
