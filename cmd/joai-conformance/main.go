// Command joai-conformance replays the JSON fixtures under fixtures/
// against a JoAi agent endpoint over HTTP, or through a bridge over stdio,
// and reports what differs. With no arguments it starts an embedded mock
// and runs every fixture against it directly and through joai-bridge, which
// it runs by re-executing its own binary.
//
//	go run ./cmd/joai-conformance
//	JOAI_API_TOKEN=... joai-conformance http --url http://127.0.0.1:8787 --agent UUID
//	joai-conformance stdio -- joai-bridge --url {{agent_url}}
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/joai-ai/joai-mcp/bridge/cli"
	"github.com/joai-ai/joai-mcp/conformance"
	"github.com/joai-ai/joai-mcp/mockserver"
)

// bridgeEnv, set to 1, makes the binary run joai-bridge instead of the
// suite: the stdio runner starts the bridge this way, so that no separate
// build is needed.
const bridgeEnv = "JOAI_CONFORMANCE_RUN_BRIDGE"

// Exit statuses.
const (
	exitPass  = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	if os.Getenv(bridgeEnv) == "1" {
		os.Exit(cli.Main(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// modes are the subcommands; "" is the default run against the embedded
// mock.
var modes = []string{"http", "stdio", "record", "replay"}

// config is the parsed command line.
type config struct {
	mode string

	run, tags, fixturesDir string
	list                   bool
	jsonFile, junitFile    string
	timeout, maxWait       time.Duration
	verbose                bool

	url, agent, otherAgent                string
	mockControl                           bool
	limitRPM, limitBurst, limitConcurrent int
	limitWindow                           time.Duration
	out, golden                           string
	exact                                 bool
	targets                               string
	faults                                []string
	mockSSE                               bool
	command                               []string
	token, revokedToken                   string
}

// run is main without the process: it parses args, runs the suite and
// returns the exit status.
func run(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args, env, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return exitPass
	}
	if err != nil {
		printError(stderr, err)
		return exitUsage
	}

	fixtures, err := loadFixtures(cfg.fixturesDir)
	if err != nil {
		printError(stderr, err)
		return exitUsage
	}
	var runRE *regexp.Regexp
	if cfg.run != "" {
		runRE = regexp.MustCompile(cfg.run) // checked by parseArgs
	}
	tags := splitList(cfg.tags)
	if cfg.list {
		return listFixtures(stdout, stderr, conformance.Select(fixtures, runRE, tags))
	}
	if err := checkReportPaths(cfg); err != nil {
		printError(stderr, err)
		return exitUsage
	}

	opts := &conformance.Options{
		Fixtures: fixtures, Run: runRE, Tags: tags,
		StepTimeout: cfg.timeout, MaxWait: cfg.maxWait,
		Logger:   newLogger(cfg.verbose, stderr),
		OnResult: func(fr conformance.FixtureResult) { conformance.WriteFixture(stdout, fr) },
	}
	res, err := runMode(ctx, cfg, opts, stdout)
	if err != nil {
		printError(stderr, err)
		if len(res.Fixtures) == 0 {
			return exitUsage
		}
	}
	return finish(cfg, res, stdout, stderr)
}

// printError writes err to stderr with the program's name before each of
// its lines, so that every problem of a multi-line fixture error is
// marked.
func printError(stderr io.Writer, err error) {
	for line := range strings.SplitSeq(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintf(stderr, "joai-conformance: %s\n", line)
	}
}

// checkReportPaths checks, before the run, that the --json and --junit
// files can be written, so that a bad path does not cost a whole run.
func checkReportPaths(cfg *config) error {
	for _, r := range []struct{ flag, path string }{{"json", cfg.jsonFile}, {"junit", cfg.junitFile}} {
		if r.path == "" {
			continue
		}
		if err := checkWritable(r.path); err != nil {
			return fmt.Errorf("--%s %s cannot be written: %v; pick a file in a directory you can write to", r.flag, r.path, err)
		}
	}
	return nil
}

// checkWritable checks that path is a writable file, or can be created,
// without changing an existing file.
func checkWritable(path string) error {
	info, err := os.Stat(path)
	if err == nil {
		if info.IsDir() {
			return errors.New("it is a directory")
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		return f.Close()
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".joai-conformance-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// runMode starts what the mode needs and runs the suite.
func runMode(ctx context.Context, cfg *config, opts *conformance.Options, stdout io.Writer) (conformance.Result, error) {
	switch cfg.mode {
	case "":
		return runEmbedded(ctx, cfg, opts)
	case "http":
		target, err := httpTarget(ctx, cfg)
		if err != nil {
			return conformance.Result{}, err
		}
		opts.HTTP = target
		return conformance.Run(ctx, opts)
	case "stdio":
		srv := conformance.NewMock(&mockserver.Options{SSE: cfg.mockSSE})
		defer srv.Close()
		opts.Stdio = &conformance.StdioTarget{Command: cfg.command, Mock: srv}
		return conformance.Run(ctx, opts)
	case "record":
		return runRecord(ctx, cfg, opts, stdout)
	case "replay":
		return runReplay(ctx, cfg, opts)
	}
	return conformance.Result{}, fmt.Errorf("unknown mode %q", cfg.mode)
}

// runEmbedded runs the fixtures against an embedded mock over HTTP, then
// through this binary's bridge over stdio.
func runEmbedded(ctx context.Context, cfg *config, opts *conformance.Options) (conformance.Result, error) {
	srv := conformance.NewMock(&mockserver.Options{SSE: cfg.mockSSE})
	defer srv.Close()
	faults := make([]json.RawMessage, len(cfg.faults))
	for i, f := range cfg.faults {
		faults[i] = json.RawMessage(f)
	}
	targets := splitList(cfg.targets)
	if slices.Contains(targets, "http") {
		opts.HTTP = conformance.MockHTTPTarget(srv)
		opts.HTTP.Faults = faults
	}
	if slices.Contains(targets, "stdio") {
		exe, err := os.Executable()
		if err != nil {
			return conformance.Result{}, fmt.Errorf("finding this program to run it as the bridge: %w", err)
		}
		opts.Stdio = &conformance.StdioTarget{
			Command: []string{exe, "--url", "{{agent_url}}", "--log-level", "warn"},
			Env:     []string{bridgeEnv + "=1"},
			Mock:    srv,
			Faults:  faults,
		}
	}
	return conformance.Run(ctx, opts)
}

// httpTarget builds the HTTP target from flags and the environment.
func httpTarget(ctx context.Context, cfg *config) (*conformance.HTTPTarget, error) {
	t := &conformance.HTTPTarget{
		URL: cfg.url, AgentUUID: cfg.agent, Token: cfg.token,
		RevokedToken: cfg.revokedToken, OtherAgentUUID: cfg.otherAgent,
	}
	if cfg.limitRPM > 0 {
		t.Limits = &conformance.Limits{RequestsPerMinute: cfg.limitRPM, Burst: cfg.limitBurst, Concurrent: cfg.limitConcurrent, Window: cfg.limitWindow}
	}
	if cfg.mockControl {
		if err := conformance.DiscoverMock(ctx, nil, t); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// runRecord runs the fixtures against a live target and writes what they
// saw as golden files.
func runRecord(ctx context.Context, cfg *config, opts *conformance.Options, stdout io.Writer) (conformance.Result, error) {
	target, err := httpTarget(ctx, cfg)
	if err != nil {
		return conformance.Result{}, err
	}
	opts.HTTP, opts.Record = target, true
	res, err := conformance.Run(ctx, opts)
	if err != nil {
		return res, err
	}
	paths, err := conformance.WriteGolden(cfg.out, conformance.GoldenFiles(res))
	fmt.Fprintf(stdout, "wrote %d golden files to %s\n", len(paths), cfg.out)
	return res, err
}

// runReplay replays golden files against the embedded mock.
func runReplay(ctx context.Context, cfg *config, opts *conformance.Options) (conformance.Result, error) {
	goldens, err := conformance.ReadGolden(cfg.golden)
	if err != nil {
		return conformance.Result{}, err
	}
	srv := conformance.NewMock(&mockserver.Options{SSE: cfg.mockSSE})
	defer srv.Close()
	opts.HTTP = conformance.MockHTTPTarget(srv)
	return conformance.Replay(ctx, opts, goldens, cfg.exact)
}

// finish writes the summary and the report files and returns the exit
// status.
func finish(cfg *config, res conformance.Result, stdout, stderr io.Writer) int {
	code := exitPass
	if !res.OK() {
		code = exitFail
	}
	write := func(path string, w func(io.Writer, conformance.Result) error) {
		if path == "" {
			return
		}
		if err := writeFile(path, func(f io.Writer) error { return w(f, res) }); err != nil {
			printError(stderr, err)
			code = exitUsage
		}
	}
	write(cfg.jsonFile, conformance.WriteJSON)
	write(cfg.junitFile, conformance.WriteJUnit)
	conformance.WriteSummary(stdout, res)
	return code
}

// writeFile creates path and writes it with w.
func writeFile(path string, w func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	if err := w(f); err != nil {
		f.Close()
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	return nil
}

// loadFixtures loads the embedded fixtures, or those in dir.
func loadFixtures(dir string) ([]*conformance.Fixture, error) {
	if dir == "" {
		return conformance.DefaultFixtures()
	}
	return conformance.LoadDir(dir)
}

// listFixtures prints the selected fixtures, one line each with the
// targets, tags and needs, then the description.
func listFixtures(stdout, stderr io.Writer, list []*conformance.Fixture) int {
	if len(list) == 0 {
		fmt.Fprintln(stderr, "joai-conformance: no fixture matches --run and --tags")
		return exitFail
	}
	for _, f := range list {
		targets := make([]string, len(f.Targets))
		for i, t := range f.Targets {
			targets[i] = string(t)
		}
		needs := "-"
		if len(f.Needs) > 0 {
			parts := make([]string, len(f.Needs))
			for i, n := range f.Needs {
				parts[i] = string(n)
			}
			needs = strings.Join(parts, ",")
		}
		fmt.Fprintf(stdout, "%-40s targets=%-10s tags=%-28s needs=%s\n    %s\n",
			f.Name, strings.Join(targets, ","), strings.Join(f.Tags, ","), needs, f.Description)
	}
	return exitPass
}

// newLogger logs the suite's debug lines to stderr with -v, else nothing.
func newLogger(verbose bool, stderr io.Writer) *slog.Logger {
	if !verbose {
		return nil
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// parseArgs parses the mode, its flags and the environment.
func parseArgs(args []string, env func(string) string, stdout io.Writer) (*config, error) {
	cfg := &config{}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		if !slices.Contains(modes, args[0]) {
			return nil, fmt.Errorf("unknown mode %q: use one of %s, or no mode for the embedded mock; see --help", args[0], strings.Join(modes, ", "))
		}
		cfg.mode, args = args[0], args[1:]
	}
	if cfg.mode == "stdio" {
		if i := slices.Index(args, "--"); i >= 0 {
			args, cfg.command = args[:i], args[i+1:]
		}
	}

	// Parse errors are returned with a hint instead of printed by the flag
	// package, and --help prints the help to stdout.
	fs := flag.NewFlagSet("joai-conformance", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	defineFlags(fs, cfg)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout, fs)
			return nil, err
		}
		return nil, fmt.Errorf("%w; run joai-conformance --help for the modes, flags and environment", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: see --help", fs.Arg(0))
	}
	if err := applyEnv(fs, cfg, env); err != nil {
		return nil, err
	}
	return cfg, checkConfig(fs, cfg)
}

// defineFlags defines every flag; checkConfig rejects those that do not
// apply to the mode.
func defineFlags(fs *flag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.run, "run", "", "run only the fixtures whose name matches this Go `REGEX`")
	fs.StringVar(&cfg.tags, "tags", "", "run only the fixtures with one of these comma-separated `TAGS`, such as errors,ratelimit")
	fs.BoolVar(&cfg.list, "list", false, "list the selected fixtures and exit")
	fs.StringVar(&cfg.jsonFile, "json", "", "also write the result as JSON to `FILE`")
	fs.StringVar(&cfg.junitFile, "junit", "", "also write the result as JUnit XML to `FILE`")
	fs.StringVar(&cfg.fixturesDir, "fixtures", "", "load the fixtures from `DIR` instead of the set built into the binary")
	cfg.timeout, cfg.maxWait = conformance.DefaultStepTimeout, conformance.DefaultMaxWait
	fs.Var((*durationFlag)(&cfg.timeout), "timeout", "longest wait for one reply, as a Go `DURATION`")
	fs.Var((*durationFlag)(&cfg.maxWait), "max-wait", "longest wait a step may ask for, such as a Retry-After, as a Go `DURATION`")
	fs.BoolVar(&cfg.verbose, "v", false, "log each fixture to stderr")

	fs.StringVar(&cfg.url, "url", "", "http, record: base `URL` of the target, such as https://cortex.joai.ai (env JOAI_BASE_URL)")
	fs.StringVar(&cfg.agent, "agent", "", "http, record: `UUID` of the agent the token belongs to (env JOAI_AGENT_UUID)")
	fs.StringVar(&cfg.otherAgent, "other-agent", "", "http, record: `UUID` of an agent of another team, for the 404 fixture (env JOAI_OTHER_AGENT_UUID)")
	fs.BoolVar(&cfg.mockControl, "mock-control", false, "http, record: the target is a joai-mock; use its /_mock/ control API for faults and resets, and take unset values from it (env JOAI_MOCK_CONTROL=1)")
	fs.IntVar(&cfg.limitRPM, "limit-rpm", 0, "http, record: the token's `N` requests per window, for the rate-limit fixtures (env JOAI_LIMIT_RPM)")
	fs.IntVar(&cfg.limitBurst, "limit-burst", 0, "http, record: the token's burst allowance of `N` requests above --limit-rpm (env JOAI_LIMIT_BURST)")
	fs.IntVar(&cfg.limitConcurrent, "limit-concurrent", 0, "http, record: the token's limit of `N` requests in flight (env JOAI_LIMIT_CONCURRENT)")
	cfg.limitWindow = time.Minute
	fs.Var((*durationFlag)(&cfg.limitWindow), "limit-window", "http, record: the length of the rate-limit window, as a Go `DURATION` (env JOAI_LIMIT_WINDOW)")
	fs.StringVar(&cfg.out, "out", "", "record: `DIR` to write the golden files to")
	fs.StringVar(&cfg.golden, "golden", "", "replay: `DIR` of golden files to compare the embedded mock with")
	fs.BoolVar(&cfg.exact, "exact", false, "replay: compare every reply body exactly, not only the shape of successful ones")
	fs.StringVar(&cfg.targets, "targets", "http,stdio", "no mode: the comma-separated `TARGETS` to run on the embedded mock")
	fs.Func("fault", "no mode: install this mock fault, given as `JSON`, for the whole run, to watch the suite catch it; repeatable", func(s string) error {
		if !json.Valid([]byte(s)) {
			return fmt.Errorf("not valid JSON: %q", s)
		}
		cfg.faults = append(cfg.faults, s)
		return nil
	})
	fs.BoolVar(&cfg.mockSSE, "mock-sse", false, "no mode, stdio, replay: make the embedded mock answer with text/event-stream")
}

// durationFlag is a flag.Value for a positive time.Duration whose error
// names the expected form, where flag.DurationVar says only "parse error".
type durationFlag time.Duration

// String returns the duration in Go syntax.
func (d *durationFlag) String() string { return time.Duration(*d).String() }

// Set parses a positive Go duration.
func (d *durationFlag) Set(v string) error {
	parsed, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q is not a Go duration: use a number with a unit, such as 30s, 2m or 1m30s", v)
	}
	if parsed <= 0 {
		return fmt.Errorf("%q is not positive: use a duration such as 30s", v)
	}
	*d = durationFlag(parsed)
	return nil
}

// applyEnv fills flags that were not set from the environment, and reads
// the tokens, which are never flags so that they stay out of process
// listings.
func applyEnv(fs *flag.FlagSet, cfg *config, env func(string) string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	str := func(name, variable string, dst *string) {
		if v := strings.TrimSpace(env(variable)); !set[name] && v != "" {
			*dst = v
		}
	}
	str("url", "JOAI_BASE_URL", &cfg.url)
	str("agent", "JOAI_AGENT_UUID", &cfg.agent)
	str("other-agent", "JOAI_OTHER_AGENT_UUID", &cfg.otherAgent)
	cfg.token = strings.TrimSpace(env("JOAI_API_TOKEN"))
	cfg.revokedToken = strings.TrimSpace(env("JOAI_REVOKED_TOKEN"))

	for _, n := range []struct {
		name, variable string
		dst            *int
	}{
		{"limit-rpm", "JOAI_LIMIT_RPM", &cfg.limitRPM},
		{"limit-burst", "JOAI_LIMIT_BURST", &cfg.limitBurst},
		{"limit-concurrent", "JOAI_LIMIT_CONCURRENT", &cfg.limitConcurrent},
	} {
		v := strings.TrimSpace(env(n.variable))
		if set[n.name] || v == "" {
			continue
		}
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 {
			return fmt.Errorf("invalid %s %q: want a whole number of requests", n.variable, v)
		}
		*n.dst = i
	}
	if v := strings.TrimSpace(env("JOAI_LIMIT_WINDOW")); !set["limit-window"] && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("invalid JOAI_LIMIT_WINDOW %q: want a Go duration such as 1m", v)
		}
		cfg.limitWindow = d
	}
	if v := strings.TrimSpace(env("JOAI_MOCK_CONTROL")); !set["mock-control"] && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("invalid JOAI_MOCK_CONTROL %q: want 1 or 0", v)
		}
		cfg.mockControl = b
	}
	return nil
}

// modeFlags lists the flags that only some modes take.
var modeFlags = map[string][]string{
	"url": {"http", "record"}, "agent": {"http", "record"}, "other-agent": {"http", "record"},
	"mock-control": {"http", "record"}, "limit-rpm": {"http", "record"}, "limit-burst": {"http", "record"},
	"limit-concurrent": {"http", "record"}, "limit-window": {"http", "record"},
	"out": {"record"}, "golden": {"replay"}, "exact": {"replay"},
	"targets": {""}, "fault": {""}, "mock-sse": {"", "stdio", "replay"},
}

// checkConfig rejects flags the mode does not take and missing values.
func checkConfig(fs *flag.FlagSet, cfg *config) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if allowed, ok := modeFlags[f.Name]; ok && !slices.Contains(allowed, cfg.mode) && err == nil {
			err = fmt.Errorf("--%s does not apply to %s; see --help", f.Name, modeName(cfg.mode))
		}
	})
	if err != nil {
		return err
	}
	if cfg.run != "" {
		if _, err := regexp.Compile(cfg.run); err != nil {
			return fmt.Errorf("invalid --run %q: %v", cfg.run, err)
		}
	}
	if cfg.list {
		return nil
	}
	switch cfg.mode {
	case "":
		for _, t := range splitList(cfg.targets) {
			if t != "http" && t != "stdio" {
				return fmt.Errorf("invalid --targets %q: use http, stdio or both", cfg.targets)
			}
		}
		if len(splitList(cfg.targets)) == 0 {
			return errors.New("--targets is empty: use http, stdio or both")
		}
	case "http", "record":
		if cfg.url == "" {
			return errors.New("no target URL: pass --url, such as --url https://cortex.joai.ai, or set JOAI_BASE_URL")
		}
		if cfg.agent == "" && !cfg.mockControl {
			return errors.New("no agent: pass --agent UUID or set JOAI_AGENT_UUID")
		}
		if cfg.token == "" && !cfg.mockControl {
			return errors.New("no API token: set JOAI_API_TOKEN to a token for the agent")
		}
		if (cfg.limitRPM > 0) != (cfg.limitConcurrent > 0) || (cfg.limitBurst > 0 && cfg.limitRPM <= 0) {
			return errors.New("--limit-rpm and --limit-concurrent go together (--limit-burst may be 0): give both or neither")
		}
		if cfg.mode == "record" && cfg.out == "" {
			return errors.New("no output directory: pass --out DIR for the golden files")
		}
		for _, agent := range []struct{ flag, value string }{{"--agent", cfg.agent}, {"--other-agent", cfg.otherAgent}} {
			if agent.value == "" {
				continue
			}
			if err := cli.CheckAgentUUID(agent.value); err != nil {
				return fmt.Errorf("invalid %s: %w", agent.flag, err)
			}
		}
	case "stdio":
		if len(cfg.command) == 0 {
			return errors.New("no bridge command: give it after --, such as: joai-conformance stdio -- joai-bridge --url {{agent_url}}")
		}
	case "replay":
		if cfg.golden == "" {
			return errors.New("no golden directory: pass --golden DIR, as written by joai-conformance record --out DIR")
		}
	}
	return nil
}

func modeName(mode string) string {
	if mode == "" {
		return "the default run"
	}
	return "mode " + mode
}

// printHelp writes the help text and every flag.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `joai-conformance checks that a server, or a bridge in front of it, behaves like
the JoAi agent endpoint: the fixtures under fixtures/ send requests and compare
the replies with the documented tools, resources, errors and rate limits.

Usage:
  joai-conformance [flags]
      Start an embedded mock with short rate-limit windows and run every
      fixture against it over HTTP, then through joai-bridge over stdio (this
      binary runs the bridge itself, so nothing needs building first).
  joai-conformance http --url URL --agent UUID [flags]
      Run the HTTP fixtures against any endpoint: joai-mock or the real
      service. Fixtures that need something the target was not given (a
      revoked token, another team's agent, rate limits, the mock's fault
      controls) are skipped with the reason.
  joai-conformance stdio [flags] -- COMMAND [ARG...]
      Run the stdio fixtures through a bridge command, driven as a desktop
      host drives it: newline-delimited JSON-RPC on its stdin and stdout, one
      process per fixture, in front of a mock started in-process.
      {{agent_url}}, {{base_url}} and {{agent_uuid}} in the arguments name the
      mock; JOAI_API_TOKEN in the bridge's environment is the mock's token.
  joai-conformance record --url URL --agent UUID --out DIR [flags]
      Run fixtures against a live target and write what they saw to
      DIR/<fixture>.golden.json, with tokens redacted and the target's own
      ids replaced by {{variables}}.
  joai-conformance replay --golden DIR [flags]
      Run the recorded fixtures against the embedded mock and compare each
      reply with its golden file (status, headers, error bodies, the shape of
      other bodies; --exact compares every body).

Environment:
  JOAI_API_TOKEN         http, record: the API token for --agent (never a flag)
  JOAI_REVOKED_TOKEN     http, record: a revoked token, for the revoked-token fixture
  JOAI_BASE_URL          default of --url
  JOAI_AGENT_UUID        default of --agent
  JOAI_OTHER_AGENT_UUID  default of --other-agent
  JOAI_LIMIT_RPM, JOAI_LIMIT_BURST, JOAI_LIMIT_CONCURRENT, JOAI_LIMIT_WINDOW
                         defaults of the --limit-* flags
  JOAI_MOCK_CONTROL      1: default of --mock-control

The last line of the output is "N passed, N failed", followed by
", N skipped" when fixtures were skipped. The exit status is 0 when no
selected fixture failed and at least one passed (skipped fixtures do not
count), 1 otherwise, and 2 for invalid flags or fixtures.

Flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
}
