// Package cli is the joai-bridge command: flag parsing, configuration from
// the environment, logging, signals, and the subcommands. cmd/joai-bridge
// only calls [Main], and tests and the conformance suite call it in place of
// a separate binary.
//
//	func main() {
//		os.Exit(cli.Main(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
//	}
package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/mockserver"
)

// DefaultBaseURL is the JoAi service used with --agent when JOAI_BASE_URL
// is not set.
const DefaultBaseURL = "https://cortex.joai.ai"

// Exit statuses of Main in bridge mode.
const (
	bridgeExitOK     = 0
	bridgeExitFailed = 1
	bridgeExitUsage  = 2
)

// defaultGCPercent is the bridge's GOGC unless the environment sets one.
const defaultGCPercent = 200

// version is the bridge's version; release builds set it with
// -ldflags "-X github.com/joai-ai/joai-mcp/bridge/cli.version=v1.2.3".
var version = ""

// subcommand is a command such as "login" that runs instead of the bridge.
type subcommand struct {
	// summary is the one-line description shown by --help.
	summary string
	// run runs the command with the arguments after its name and returns
	// the exit status.
	run func(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int
}

// defaultTokenSource supplies the token when neither --token-file nor
// JOAI_API_TOKEN is given: the OS keychain, then the fallback file
// (tokensource.go). It returns nil and no error when it has none.
var defaultTokenSource = storedTokenDefault

// optionHook defines flags that change the bridge's options and returns
// the function that applies their values after parsing. Main calls each
// hook once per run, so runs in one process share no flag values.
type optionHook func(fs *flag.FlagSet) optionApply

// optionApply changes opts after the flags are parsed. The stop function it
// returns, if not nil, runs after the bridge stops.
type optionApply func(ctx context.Context, opts *bridge.Options, logger *slog.Logger) (stop func(), err error)

// optionHooks are the flags kept beside the features they configure:
// --token-command in tokensource.go and --inspect in inspect.go.
var optionHooks = []optionHook{tokenCommandHook, inspectHook}

// config is the bridge's configuration from flags and the environment.
type config struct {
	agent          string
	url            string
	tokenFile      string
	allowInsecure  bool
	caFile         string
	logLevel       string
	logFile        string
	maxMessageSize byteSize
	retryBudget    time.Duration
	timeout        time.Duration
	maxRPM         int
	maxConcurrent  int
	mock           bool
	showVersion    bool
	// applies are the optionHooks' functions for this run.
	applies []optionApply
}

// Main runs joai-bridge with args, which exclude the program name, and
// returns the exit status: 0 after a normal stop, 1 when the bridge failed,
// 2 for invalid flags or configuration. env reads the environment.
// Messages for the user go to stderr; stdout carries only JSON-RPC, except
// for --help and --version.
func Main(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		if cmd, ok := subcommands[args[0]]; ok {
			return cmd.run(ctx, args[1:], env, stdin, stdout, stderr)
		}
		if strings.HasPrefix(args[0], "http://") || strings.HasPrefix(args[0], "https://") {
			// mcp-remote and supergateway take the endpoint as an argument.
			fmt.Fprintf(stderr, "joai-bridge: the endpoint goes in a flag: joai-bridge --url %s (or --agent UUID for a JoAi agent)\n", args[0])
			return bridgeExitUsage
		}
		fmt.Fprintf(stderr, "joai-bridge: unknown command %q; run joai-bridge --help for the commands and flags\n", args[0])
		return bridgeExitUsage
	}
	if hasHeaderFlag(args) {
		fmt.Fprintln(stderr, "joai-bridge: there is no --header flag: the bridge sends Authorization: Bearer with the token from JOAI_API_TOKEN, --token-file, --token-command or joai-bridge login")
		return bridgeExitUsage
	}

	cfg := config{maxMessageSize: bridge.DefaultMaxMessageSize}
	fs := newFlagSet(&cfg, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(fs, stdout)
			return bridgeExitOK
		}
		fmt.Fprintln(stderr, "run joai-bridge --help for the commands and flags")
		return bridgeExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "joai-bridge: unexpected argument %q; run joai-bridge --help\n", fs.Arg(0))
		return bridgeExitUsage
	}
	if cfg.showVersion {
		fmt.Fprintf(stdout, "joai-bridge %s\n", bridgeVersion())
		return bridgeExitOK
	}

	logger, closeLog, err := newLogger(cfg.logLevel, cfg.logFile, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "joai-bridge: %v\n", err)
		return bridgeExitUsage
	}
	defer closeLog()
	return run(ctx, cfg, env, stdin, stdout, stderr, logger)
}

// run builds the bridge from cfg and runs it until stdin ends, a signal
// arrives or the parent process exits.
func run(ctx context.Context, cfg config, env func(string) string, stdin io.Reader, stdout, stderr io.Writer, logger *slog.Logger) int {
	// A write to a closed stdout then fails with EPIPE, which the bridge
	// takes as the host leaving, instead of killing the process.
	signal.Ignore(syscall.SIGPIPE)

	// The bridge's live heap is a few MiB, so at the default GOGC of 100 the
	// collector runs every 4 MiB of allocation, dozens of times a second
	// under load. 200 cuts the bridge's CPU per request by about a tenth and
	// keeps the peak RSS of small messages near 22 MiB (scripts/bench-bridge.sh
	// on 2 cores). A GOGC the user sets wins.
	if env("GOGC") == "" && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, stopWatch := watchParent(ctx, logger)
	defer stopWatch()

	opts, cleanup, err := buildOptions(ctx, cfg, env, logger)
	if err != nil {
		fmt.Fprintf(stderr, "joai-bridge: %v\n", err)
		logger.Error("invalid configuration", "err", err)
		return bridgeExitUsage
	}
	defer cleanup()

	b, err := bridge.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "joai-bridge: %v\n", err)
		logger.Error("invalid configuration", "err", err)
		return bridgeExitUsage
	}
	logger.Info("relaying stdio to the MCP endpoint", "url", redactedURL(opts.URL), "token_source", opts.Token.Describe(), "version", bridgeVersion())
	stdin, stdout, restore := pollableStdio(stdin, stdout)
	defer restore()
	if err := b.Run(ctx, stdin, stdout); err != nil {
		logger.Error("the bridge failed", "err", err)
		return bridgeExitFailed
	}
	return bridgeExitOK
}

// buildOptions turns the configuration into bridge options. The cleanup
// function it returns stops what it started, such as the embedded mock.
func buildOptions(ctx context.Context, cfg config, env func(string) string, logger *slog.Logger) (*bridge.Options, func(), error) {
	var stops []func()
	cleanup := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	fail := func(err error) (*bridge.Options, func(), error) {
		cleanup()
		return nil, func() {}, err
	}

	opts := &bridge.Options{
		AllowInsecureHTTP: cfg.allowInsecure,
		MaxMessageSize:    int64(cfg.maxMessageSize),
		RetryBudget:       cfg.retryBudget,
		Timeout:           cfg.timeout,
		MaxRPM:            cfg.maxRPM,
		MaxConcurrent:     cfg.maxConcurrent,
		Version:           bridgeVersion(),
		Logger:            logger,
	}
	if cfg.retryBudget == 0 {
		opts.RetryBudget = -1 // zero on the command line means no retries
	}
	if cfg.timeout == 0 {
		opts.Timeout = -1 // zero on the command line means no limit
	}
	if cfg.maxConcurrent <= 0 {
		return fail(fmt.Errorf("invalid --max-concurrent %d: it must be at least 1", cfg.maxConcurrent))
	}
	if cfg.maxRPM < 0 {
		return fail(fmt.Errorf("invalid --max-rpm %d: use 0 for no limit or a positive number", cfg.maxRPM))
	}

	transport, err := bridge.NewHTTPTransport(&bridge.TransportOptions{CAFile: cfg.caFile, MaxConnsPerHost: cfg.maxConcurrent})
	if err != nil {
		return fail(err)
	}
	opts.Transport = transport

	if cfg.mock {
		if cfg.url != "" {
			return fail(errors.New("--mock and --url cannot be combined: --mock relays to an embedded mock server"))
		}
		srv, err := mockserver.New(&mockserver.Options{Logger: logger.With("component", "mock")})
		if err != nil {
			return fail(fmt.Errorf("starting the embedded mock: %w", err))
		}
		srv.Start()
		stops = append(stops, srv.Close)
		info := srv.Info()
		agent := cmp.Or(cfg.agent, info.AgentUUID)
		if err := CheckAgentUUID(agent); err != nil {
			return fail(err)
		}
		agent = strings.ToLower(agent)
		opts.URL = srv.AgentURL(agent)
		opts.Token = bridge.StaticToken{Value: info.Token, Source: "the embedded mock's token"}
		logger.Info("started the embedded mock server", "url", srv.URL, "agent", agent)
	} else {
		u, err := endpointURL(cfg, env)
		if err != nil {
			return fail(err)
		}
		opts.URL = u
		tok, err := tokenSource(cfg, env)
		if err != nil {
			return fail(err)
		}
		opts.Token = tok
	}

	for _, apply := range cfg.applies {
		stop, err := apply(ctx, opts, logger)
		if err != nil {
			return fail(err)
		}
		if stop != nil {
			stops = append(stops, stop)
		}
	}
	return opts, cleanup, nil
}

// endpointURL returns the endpoint from --url, or from the agent and
// JOAI_BASE_URL.
func endpointURL(cfg config, env func(string) string) (string, error) {
	if cfg.url != "" {
		if cfg.agent != "" {
			return "", errors.New("--url and --agent cannot be combined: --url is the whole endpoint, --agent picks one on JOAI_BASE_URL")
		}
		return cfg.url, nil
	}
	agent := cmp.Or(cfg.agent, strings.TrimSpace(env("JOAI_AGENT_UUID")))
	if agent == "" {
		return "", errors.New("no agent: pass --agent UUID or set JOAI_AGENT_UUID (or pass --url URL, or --mock to try the bridge without an account)")
	}
	if err := CheckAgentUUID(agent); err != nil {
		return "", err
	}
	// UUIDs compare without regard to case, and the stored token's account
	// names the endpoint in lower case.
	agent = strings.ToLower(agent)
	base := cmp.Or(strings.TrimSpace(env("JOAI_BASE_URL")), DefaultBaseURL)
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("invalid JOAI_BASE_URL %q: use the form https://host", base)
	}
	return strings.TrimSuffix(base, "/") + "/mcp/agents/" + agent, nil
}

// tokenSource picks the token's source: --token-file, then JOAI_API_TOKEN,
// then the default source if one is registered.
func tokenSource(cfg config, env func(string) string) (bridge.TokenSource, error) {
	if cfg.tokenFile != "" {
		return bridge.FileToken{Path: cfg.tokenFile}, nil
	}
	if env("JOAI_API_TOKEN") != "" {
		return bridge.EnvToken("JOAI_API_TOKEN", env), nil
	}
	if defaultTokenSource != nil {
		src, err := defaultTokenSource(env)
		if err != nil {
			return nil, err
		}
		if src != nil {
			return src, nil
		}
	}
	return nil, errors.New("no API token: set JOAI_API_TOKEN in the server's env block, or pass --token-file FILE")
}

// newFlagSet defines the bridge's flags on cfg.
func newFlagSet(cfg *config, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("joai-bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // Main prints the hint, and --help the full text
	fs.StringVar(&cfg.agent, "agent", "", "`UUID` of the JoAi agent to connect to; the endpoint is $JOAI_BASE_URL/mcp/agents/UUID (env JOAI_AGENT_UUID)")
	fs.StringVar(&cfg.url, "url", "", "whole MCP endpoint `URL` instead of --agent, for any Streamable HTTP MCP server")
	fs.StringVar(&cfg.tokenFile, "token-file", "", "read the API token from `FILE` (re-read after a 401); default: env JOAI_API_TOKEN")
	fs.BoolVar(&cfg.allowInsecure, "allow-insecure-http", false, "allow plain http to a non-loopback host (the token then crosses the network unencrypted)")
	fs.StringVar(&cfg.caFile, "ca-file", "", "PEM `FILE` of CA certificates to trust besides the system's, for a corporate proxy or private CA")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log `LEVEL`: debug (one line per request), info, warn or error")
	fs.StringVar(&cfg.logFile, "log-file", "", "append logs to `FILE` instead of stderr")
	fs.Var(&cfg.maxMessageSize, "max-message-size", "largest message accepted from the host or the service, as a `SIZE` in bytes or with a unit such as KiB or MiB")
	fs.DurationVar(&cfg.retryBudget, "retry-budget", bridge.DefaultRetryBudget, "longest a request waits in total to retry after 429 or 503, as a Go `DURATION`; 0 disables retries")
	fs.DurationVar(&cfg.timeout, "timeout", bridge.DefaultTimeout, "longest a request waits for the service, as a Go `DURATION`; 0 means no limit (initialize waits at most 30s)")
	fs.IntVar(&cfg.maxRPM, "max-rpm", 0, "send at most `N` requests per minute; 0 means no limit")
	fs.IntVar(&cfg.maxConcurrent, "max-concurrent", bridge.DefaultMaxConcurrent, "at most `N` requests in flight to the service")
	fs.BoolVar(&cfg.mock, "mock", false, "relay to an embedded mock JoAi server, to try the bridge without an account")
	fs.BoolVar(&cfg.showVersion, "version", false, "print the version and exit")
	for _, hook := range optionHooks {
		cfg.applies = append(cfg.applies, hook(fs))
	}
	return fs
}

// printHelp writes the usage, the subcommands and every flag.
func printHelp(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, `joai-bridge relays a desktop MCP client's stdio to a JoAi agent over HTTPS.

Usage:
  joai-bridge --agent UUID        with the token in JOAI_API_TOKEN or --token-file
  joai-bridge --url URL           any Streamable HTTP MCP endpoint
  joai-bridge --mock              an embedded mock server, no account needed
  joai-bridge COMMAND [ARGS]
`)
	if len(subcommands) > 0 {
		fmt.Fprintln(w, "\nCommands:")
		names := make([]string, 0, len(subcommands))
		for name := range subcommands {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			fmt.Fprintf(w, "  %-10s %s\n", name, subcommands[name].summary)
		}
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Environment:
  JOAI_API_TOKEN    the API token (when --token-file is not given)
  JOAI_AGENT_UUID   the agent (when --agent is not given)
  JOAI_BASE_URL     the service for --agent (default `+DefaultBaseURL+`)
  JOAI_API_URL      the API for the agents command (default `+defaultAPIURL+`)
  JOAI_KEYCHAIN     off: store and read the token in the fallback file only
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY
                    the proxy, read from the process environment; loopback
                    addresses are never proxied
`)
}

// hasHeaderFlag reports whether args carry mcp-remote's --header flag,
// which users moving to the bridge bring with their token in it.
func hasHeaderFlag(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && (name == "header" || name == "H") {
			return true
		}
	}
	return false
}

// newLogger returns the logger for --log-level and --log-file, and a
// function that closes the log file.
func newLogger(level, file string, stderr io.Writer) (*slog.Logger, func(), error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("invalid --log-level %q: use debug, info, warn or error", level)
	}
	out, closeFn := stderr, func() {}
	if file != "" {
		f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("opening --log-file: %w", err)
		}
		out, closeFn = f, func() { f.Close() }
	}
	h := slog.NewTextHandler(out, &slog.HandlerOptions{Level: l})
	return slog.New(h).With("pid", os.Getpid()), closeFn, nil
}

// byteSize is a flag value of bytes with an optional unit.
type byteSize int64

var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
	{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1},
}

// String returns the size in the largest binary unit that divides it.
func (s *byteSize) String() string {
	for _, u := range sizeUnits[:3] {
		if int64(*s) >= u.factor && int64(*s)%u.factor == 0 {
			return strconv.FormatInt(int64(*s)/u.factor, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(*s), 10)
}

// Set parses a size such as "1048576", "64MiB" or "10MB".
func (s *byteSize) Set(v string) error {
	num, factor := strings.TrimSpace(v), int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, factor = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/factor {
		return fmt.Errorf("invalid size %q: use a positive number of bytes, optionally with KiB, MiB or GiB, up to 1TiB", v)
	}
	*s = byteSize(n * factor)
	return nil
}

// bridgeVersion returns the version set at link time, or the module version
// from the build information.
func bridgeVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "devel"
}

// redactedURL returns u without user information, for logs.
func redactedURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "(invalid URL)"
	}
	return parsed.Redacted()
}
