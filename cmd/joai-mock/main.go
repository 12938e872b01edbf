// Command joai-mock runs a local JoAi server: the MCP agent endpoint, agent
// discovery, token management, the documented errors and rate limits, and
// fault injection. Once it listens it prints one JSON line on stdout with
// its URL and the seed's agent and token values; logs go to stderr.
//
//	joai-mock                          # 127.0.0.1:8787, the embedded seed
//	joai-mock --listen 127.0.0.1:0     # a free port, read it from the JSON line
//	joai-mock --state /tmp/joai.json --sse --sessions
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/joai-ai/joai-mcp/mockserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the parsed command line.
type config struct {
	listen      string
	allowRemote bool
	seedFile    string
	opts        mockserver.Options
	logLevel    slog.Level
}

// faultFlags are the flags that build one fault applied to every matching
// request.
type faultFlags struct {
	latency      time.Duration
	failStatus   int
	failCount    int
	failMethod   string
	drop         string
	cutAfter     int
	slowBytes    int
	slowInterval time.Duration
}

// faultList collects repeated --fault values.
type faultList []mockserver.Fault

// String returns the number of faults, for flag's default display.
func (l *faultList) String() string { return fmt.Sprint(len(*l)) }

// Set decodes and validates one --fault value and appends it.
func (l *faultList) Set(v string) error {
	var f mockserver.Fault
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		var syntaxErr *json.SyntaxError
		if errors.As(err, &syntaxErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("not valid JSON (%v): a fault looks like {\"method\":\"tools/call\",\"status\":503,\"count\":1}", err)
		}
		return err
	}
	if err := f.Validate(); err != nil {
		return err
	}
	*l = append(*l, f)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	var ff faultFlags
	var faults faultList
	var logLevel string
	fs := flag.NewFlagSet("joai-mock", flag.ContinueOnError)
	// The flag package prints the error and the whole usage on a bad flag.
	// run prints the error on one line instead, and the usage only for
	// --help.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8787", "`address` to listen on, host:port; port 0 picks a free port")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow a --listen address that is not loopback (the control API still serves loopback clients only)")
	fs.StringVar(&c.seedFile, "seed", "", "seed `file` with agents, tokens, memories and limits (default: the embedded fixtures/seed.json)")
	fs.StringVar(&c.opts.StateFile, "state", "", "state `file`: read at start if it exists, rewritten atomically before every write is acknowledged (default: memory only)")
	fs.IntVar(&c.opts.Limits.RequestsPerMinute, "rpm", 0, "requests per window per token; 0 takes the seed's value, else 600; negative disables the rate limit")
	fs.IntVar(&c.opts.Limits.Burst, "burst", 0, "extra requests per window above --rpm; 0 takes the seed's value, else 60; negative means none")
	fs.IntVar(&c.opts.Limits.Concurrent, "concurrent", 0, "requests in flight per token; 0 takes the seed's value, else 16; negative disables the limit")
	fs.DurationVar(&c.opts.Limits.Window, "window", 0, "length of the rate-limit window, such as 1m or 500ms; 0 takes the seed's value, else 1m")
	fs.BoolVar(&c.opts.SSE, "sse", false, "reply to JSON-RPC requests with text/event-stream instead of application/json")
	fs.BoolVar(&c.opts.Sessions, "sessions", false, "issue Mcp-Session-Id on initialize and require it afterwards (400 without, 404 when unknown)")
	fs.BoolVar(&c.opts.Plain, "plain", false, "reject initialize with -32601, like an endpoint without the MCP lifecycle")
	fs.BoolVar(&c.opts.NoGETStream, "no-get-stream", false, "reject GET with Accept: text/event-stream with 405 (no GET stream)")
	fs.Int64Var(&c.opts.MaxBodyBytes, "max-body", mockserver.DefaultMaxBodyBytes, "largest request body in `bytes`; larger bodies get 413")
	fs.StringVar(&logLevel, "log-level", "info", "log `level` on stderr: debug (one line per request), info, warn or error")
	fs.DurationVar(&ff.latency, "latency", 0, "`duration` added to every request after authentication, such as 200ms (default: none)")
	fs.IntVar(&ff.failStatus, "fail-status", 0, "HTTP `status` to reply with instead of handling requests, such as 503 (default: none)")
	fs.IntVar(&ff.failCount, "fail-count", 0, "number of matching requests the fault flags (--latency, --fail-status, --drop, --cut-after, --slow-bytes) apply to; 0 means all")
	fs.StringVar(&ff.failMethod, "fail-method", "", "JSON-RPC `method` the fault flags apply to, such as tools/call (default: every request)")
	fs.StringVar(&ff.drop, "drop", "", "close connections without a full reply; `mode` is before-reply or after-headers (default: none)")
	fs.IntVar(&ff.cutAfter, "cut-after", 0, "reply with SSE and close the connection after this many `events`; 0 means never")
	fs.IntVar(&ff.slowBytes, "slow-bytes", 0, "send reply bodies this many `bytes` at a time (needs --slow-interval)")
	fs.DurationVar(&ff.slowInterval, "slow-interval", 0, "pause between the chunks of --slow-bytes, such as 100ms")
	fs.Var(&faults, "fault", "a fault as `JSON`, the control API's form, such as '{\"method\":\"tools/call\",\"status\":503,\"count\":1}'; repeatable")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintf(stderr, "Usage: joai-mock [flags]\n\nRuns a local JoAi server and prints one JSON line with its URL and seed tokens on stdout.\n\nFlags:\n")
			fs.PrintDefaults()
			return nil, err
		}
		return nil, fmt.Errorf("%w (run joai-mock --help for the flags)", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: joai-mock takes flags only", fs.Arg(0))
	}
	if err := c.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q is invalid: use debug, info, warn or error", logLevel)
	}
	if c.opts.Plain && c.opts.Sessions {
		return nil, errors.New("--plain and --sessions conflict: a plain endpoint has no initialize to start a session")
	}
	if c.opts.MaxBodyBytes <= 0 {
		return nil, fmt.Errorf("--max-body %d is invalid: use a positive number of bytes", c.opts.MaxBodyBytes)
	}
	if c.opts.Limits.Window < 0 {
		return nil, fmt.Errorf("--window %v is negative: use a positive duration, or 0 for the seed's value", c.opts.Limits.Window)
	}
	if f, ok := ff.fault(); ok {
		if err := f.Validate(); err != nil {
			return nil, fmt.Errorf("fault flags: %w", err)
		}
		faults = append(faults, f)
	}
	c.opts.Faults = faults
	return c, nil
}

// fault builds the fault the fault flags describe, if any.
func (ff faultFlags) fault() (mockserver.Fault, bool) {
	f := mockserver.Fault{
		Method:         ff.failMethod,
		Count:          ff.failCount,
		Latency:        ff.latency,
		Status:         ff.failStatus,
		Drop:           ff.drop,
		CutAfterEvents: ff.cutAfter,
		SlowBytes:      ff.slowBytes,
		SlowInterval:   ff.slowInterval,
	}
	if f.Latency == 0 && f.Status == 0 && f.Drop == "" && f.CutAfterEvents == 0 && f.SlowBytes == 0 {
		return f, false
	}
	return f, true
}

// checkListen rejects an address that is not loopback unless remote
// listening was asked for. Host names other than localhost are not
// resolved, so they count as remote.
func checkListen(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--listen %q is not host:port: %v", addr, err)
	}
	if allowRemote {
		return nil
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--listen %q is not a loopback address: use 127.0.0.1:PORT, or add --allow-remote to serve other hosts", addr)
}

// run is the whole program: it returns the exit status, 0 after a clean
// shutdown when ctx ends, 1 on a runtime error and 2 on a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "joai-mock:", err)
		return 2
	}
	if err := checkListen(c.listen, c.allowRemote); err != nil {
		fmt.Fprintln(stderr, "joai-mock:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: c.logLevel}))
	c.opts.Logger = logger
	if c.seedFile != "" {
		seed, err := mockserver.LoadSeed(c.seedFile)
		if err != nil {
			fmt.Fprintln(stderr, "joai-mock:", err)
			return 1
		}
		c.opts.Seed = seed
	}
	srv, err := mockserver.New(&c.opts)
	if err != nil {
		fmt.Fprintln(stderr, "joai-mock:", err)
		return 1
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		fmt.Fprintf(stderr, "joai-mock: listening on %s: %v (is another joai-mock running? use --listen 127.0.0.1:0 for a free port)\n", c.listen, err)
		return 1
	}
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	line, err := json.Marshal(srv.Info())
	if err != nil {
		fmt.Fprintln(stderr, "joai-mock: encoding the startup line:", err)
		return 1
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		fmt.Fprintln(stderr, "joai-mock: writing the startup line:", err)
		return 1
	}
	<-ctx.Done()
	logger.Info("shutting down", "reason", context.Cause(ctx))
	return 0
}
