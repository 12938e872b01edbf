package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/google/go-cmp/cmp"
)

// GoldenSuffix ends the name of every golden file: <fixture>.golden.json.
const GoldenSuffix = ".golden.json"

// Golden is the recording of one fixture on one target, as a golden file
// keeps it. Tokens are redacted in every exchange, and the target's own
// values (agent UUID, base URL, run id, captured ids) are replaced by their
// {{variable}}, so that a recording from one target can be compared with a
// run on another.
type Golden struct {
	// Fixture, Description and Target identify the recording.
	Fixture     string     `json:"fixture"`
	Description string     `json:"description"`
	Target      TargetKind `json:"target"`
	// Status and Reason are the fixture's outcome when it was recorded.
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
	// Exchanges are the requests and replies in order.
	Exchanges []Exchange `json:"exchanges"`
}

// minTemplated is the shortest value that golden files replace by its
// variable; shorter values, such as a Retry-After of "1", would replace
// unrelated text.
const minTemplated = 6

// templatize replaces the target's own values in exchanges by their
// {{variable}}. Limits and the target kind are left alone, and so are
// values shorter than minTemplated.
func templatize(exchanges []Exchange, vars variables) []Exchange {
	type pair struct{ name, value string }
	var pairs []pair
	for name, value := range vars {
		if len(value) < minTemplated || name == "target" || strings.HasPrefix(name, "limit_") ||
			name == "token" || name == "revoked_token" {
			continue
		}
		pairs = append(pairs, pair{name, value})
	}
	// Longer values first, so that agent_url is replaced before the
	// agent_uuid and base_url inside it.
	sort.Slice(pairs, func(i, j int) bool {
		if len(pairs[i].value) != len(pairs[j].value) {
			return len(pairs[i].value) > len(pairs[j].value)
		}
		return pairs[i].name < pairs[j].name
	})
	out := make([]Exchange, 0, len(exchanges))
	for _, ex := range exchanges {
		raw, err := encodeJSON(ex)
		if err != nil {
			out = append(out, ex)
			continue
		}
		for _, p := range pairs {
			quoted, _ := encodeJSON(p.value)
			inner := bytes.Trim(quoted, `"`)
			raw = bytes.ReplaceAll(raw, inner, []byte("{{"+p.name+"}}"))
		}
		var t Exchange
		if err := json.Unmarshal(raw, &t); err != nil {
			out = append(out, ex)
			continue
		}
		out = append(out, t)
	}
	return out
}

// GoldenFiles returns the golden form of every fixture of a run made with
// Options.Record. Skipped fixtures have no golden form.
func GoldenFiles(res Result) []Golden {
	var out []Golden
	for _, fr := range res.Fixtures {
		if fr.Status == StatusSkip {
			continue
		}
		out = append(out, Golden{
			Fixture: fr.Name, Description: fr.Description, Target: fr.Target,
			Status: fr.Status, Reason: fr.Reason, Exchanges: fr.Exchanges,
		})
	}
	return out
}

// WriteGolden writes each golden recording to dir as
// <fixture>.golden.json, or <fixture>.<target>.golden.json when a run
// covered both targets, and returns the paths written.
func WriteGolden(dir string, goldens []Golden) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating golden directory: %w", err)
	}
	targets := map[TargetKind]bool{}
	for _, g := range goldens {
		targets[g.Target] = true
	}
	var paths []string
	for _, g := range goldens {
		name := g.Fixture
		if len(targets) > 1 {
			name += "." + string(g.Target)
		}
		path := filepath.Join(dir, name+GoldenSuffix)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(g); err != nil {
			return paths, fmt.Errorf("encoding %s: %w", path, err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return paths, fmt.Errorf("writing golden file: %w", err)
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// ReadGolden reads every *.golden.json file in dir.
func ReadGolden(dir string) ([]Golden, error) {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("golden directory %s does not exist: record one with joai-conformance record --out %s", dir, dir)
	case err != nil:
		return nil, fmt.Errorf("reading golden directory: %w", err)
	case !info.IsDir():
		return nil, fmt.Errorf("golden directory %s is not a directory: pass the directory that joai-conformance record --out wrote", dir)
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*"+GoldenSuffix))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no golden files (*%s) in %s: record some with joai-conformance record --out %s", GoldenSuffix, dir, dir)
	}
	slices.Sort(paths)
	var out []Golden
	var errs []error
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var g Golden
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&g); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			continue
		}
		if g.Fixture == "" {
			errs = append(errs, fmt.Errorf("%s: no fixture name", path))
			continue
		}
		out = append(out, g)
	}
	return out, errors.Join(errs...)
}

// CompareGolden compares a new recording with a golden one and returns
// every difference, each with a go-cmp diff of golden against new. Both
// must come from the same fixture. Status codes and the reply headers a
// golden file keeps must be equal (Content-Type by media type, Retry-After
// by presence). Error replies (HTTP status 400 or more, or a JSON-RPC
// error) must have equal bodies. Other bodies must have the same shape:
// the same keys, array lengths and value types, because a live agent's
// replies and timestamps differ from the mock's. With exact set, every
// body must be equal.
func CompareGolden(golden, got Golden, exact bool) []string {
	var problems []string
	if len(golden.Exchanges) != len(got.Exchanges) {
		problems = append(problems, fmt.Sprintf("%d exchanges, want %d as recorded (%s against %s)",
			len(got.Exchanges), len(golden.Exchanges), stepNames(got.Exchanges), stepNames(golden.Exchanges)))
	}
	for i := range min(len(golden.Exchanges), len(got.Exchanges)) {
		want, have := golden.Exchanges[i], got.Exchanges[i]
		at := fmt.Sprintf("exchange %d (%s)", i+1, want.Step)
		if want.Step != have.Step {
			problems = append(problems, fmt.Sprintf("%s: the step is %q, want %q", at, have.Step, want.Step))
			continue
		}
		problems = append(problems, compareReplies(at, want.Reply, have.Reply, exact)...)
	}
	return problems
}

func stepNames(exchanges []Exchange) string {
	names := make([]string, len(exchanges))
	for i, ex := range exchanges {
		names[i] = strconv.Quote(ex.Step)
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// compareReplies compares one recorded reply with a new one.
func compareReplies(at string, want, got *RecordedReply, exact bool) []string {
	switch {
	case want == nil && got == nil:
		return nil
	case want == nil:
		return []string{at + ": a reply arrived, but none was recorded"}
	case got == nil:
		return []string{at + ": no reply, but one was recorded"}
	}
	var problems []string
	if want.Status != got.Status {
		problems = append(problems, fmt.Sprintf("%s: status %d, want %d as recorded", at, got.Status, want.Status))
	}
	if diff := cmp.Diff(headerSummary(want.Header), headerSummary(got.Header)); diff != "" {
		problems = append(problems, fmt.Sprintf("%s: headers differ (-golden +new):\n%s", at, diff))
	}
	wantBody, errW := decodeNormalized(want.Body)
	gotBody, errG := decodeNormalized(got.Body)
	if errW != nil || errG != nil {
		if !bytes.Equal(want.Body, got.Body) {
			problems = append(problems, fmt.Sprintf("%s: bodies differ (-golden +new):\n%s", at, cmp.Diff(string(want.Body), string(got.Body))))
		}
		return problems
	}
	if !exact && !isErrorReply(want.Status, wantBody) && !isErrorReply(got.Status, gotBody) {
		wantBody, gotBody = shape(wantBody), shape(gotBody)
	}
	if diff := cmp.Diff(wantBody, gotBody); diff != "" {
		problems = append(problems, fmt.Sprintf("%s: bodies differ (-golden +new):\n%s", at, diff))
	}
	return problems
}

// headerSummary reduces recorded headers to what must match between
// targets.
func headerSummary(h http.Header) map[string]string {
	out := map[string]string{}
	for name, values := range h {
		if len(values) == 0 {
			continue
		}
		switch http.CanonicalHeaderKey(name) {
		case "Content-Type":
			mt, _, err := mime.ParseMediaType(values[0])
			if err != nil {
				mt = values[0]
			}
			out["Content-Type"] = mt
		case "Retry-After":
			out["Retry-After"] = "(present)"
		default:
			out[http.CanonicalHeaderKey(name)] = values[0]
		}
	}
	return out
}

// isErrorReply reports whether a reply is an HTTP error or a JSON-RPC
// error response.
func isErrorReply(status int, body any) bool {
	if status >= 400 {
		return true
	}
	m, ok := body.(map[string]any)
	if !ok {
		return false
	}
	_, hasError := m["error"]
	return hasError
}

// shape replaces every scalar of a decoded JSON value by the name of its
// type, keeping keys and array lengths.
func shape(val any) any {
	switch x := val.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = shape(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = shape(e)
		}
		return out
	case string:
		return "<string>"
	case float64:
		return "<number>"
	case bool:
		return "<boolean>"
	}
	return val
}

// Replay runs the fixtures of golden recordings against opts.HTTP, records
// what they see, and fails each fixture whose run fails or whose recording
// differs from its golden one, by [CompareGolden]. opts.Run and opts.Tags
// narrow the recordings replayed; opts.Stdio must be nil, because
// recordings are made over HTTP.
func Replay(ctx context.Context, opts *Options, goldens []Golden, exact bool) (Result, error) {
	if opts == nil || opts.HTTP == nil || opts.Stdio != nil {
		return Result{}, errors.New("replay needs an HTTP target and no stdio target")
	}
	byName := map[string]Golden{}
	var names []string
	for _, g := range goldens {
		if g.Target != TargetHTTP {
			return Result{}, fmt.Errorf("golden recording of %s was made on a %s target; replay compares HTTP recordings only", g.Fixture, g.Target)
		}
		if opts.Run != nil && !opts.Run.MatchString(g.Fixture) {
			continue
		}
		if _, dup := byName[g.Fixture]; dup {
			return Result{}, fmt.Errorf("two golden recordings of %s", g.Fixture)
		}
		byName[g.Fixture] = g
		names = append(names, regexp.QuoteMeta(g.Fixture))
	}
	if len(names) == 0 {
		return Result{}, errors.New("no golden recording matches the selection")
	}

	o := *opts
	o.Record = true
	o.OnResult = nil
	o.Run = regexp.MustCompile("^(" + strings.Join(names, "|") + ")$")
	res, err := Run(ctx, &o)
	if err != nil {
		return Result{}, err
	}
	out := Result{Duration: res.Duration}
	seen := map[string]bool{}
	for _, fr := range res.Fixtures {
		seen[fr.Name] = true
		g := byName[fr.Name]
		got := Golden{Fixture: fr.Name, Target: fr.Target, Exchanges: fr.Exchanges}
		if problems := CompareGolden(g, got, exact); len(problems) > 0 && fr.Status != StatusSkip {
			if fr.Failure == nil {
				fr.Failure = &Failure{StepName: "comparison with the golden recording"}
			}
			fr.Failure.Problems = append(fr.Failure.Problems, problems...)
			if fr.Status == StatusPass {
				fr.Reason = "differs from the golden recording: " + strings.SplitN(problems[0], "\n", 2)[0]
			}
			fr.Status = StatusFail
		}
		out.add(fr)
		if opts.OnResult != nil {
			opts.OnResult(fr)
		}
	}
	var missing []string
	for name := range byName {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return out, fmt.Errorf("golden recordings of fixtures that are not in the fixture set: %s", strings.Join(missing, ", "))
	}
	return out, nil
}
