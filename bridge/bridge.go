// Package bridge relays MCP messages between a host that speaks
// newline-delimited JSON-RPC on stdio (Claude Desktop, Cursor, VS Code,
// Claude Code) and a Streamable HTTP MCP endpoint, such as a JoAi agent,
// authenticated with a Bearer token.
//
//	b, err := bridge.New(&bridge.Options{
//		URL:   "https://cortex.joai.ai/mcp/agents/" + agentUUID,
//		Token: bridge.EnvToken("JOAI_API_TOKEN", os.Getenv),
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	err = b.Run(ctx, os.Stdin, os.Stdout)
//
// Messages cross byte for byte: the bridge reads the id and method of each
// line and never rebuilds a message from Go values. The only bytes it
// changes are ids. Host request ids are replaced by ids of its own upstream
// and restored on the response. The service's request ids are replaced for
// the host the same way. So no id passes through a float64, and the ids of
// the two directions never mix. Every host request gets exactly one
// response: the service's, or a JSON-RPC error with one of the codes listed
// with [CodeUnreachable].
//
// The HTTP side is mcp-go's Streamable HTTP transport, which keeps the
// session id, the MCP-Protocol-Version header, the GET stream and stream
// resumption. It runs over a RoundTripper of this package that adds the
// token to every request, sends the host's exact bytes, turns non-2xx
// replies into [HTTPStatusError] values, and reads every reply itself, so
// notifications and server requests reach the host unchanged and in order.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/joai-ai/joai-mcp/internal/inspector"
	"github.com/joai-ai/joai-mcp/internal/jsonrpc"
)

// Defaults for the zero fields of [Options].
const (
	DefaultMaxMessageSize = 64 << 20
	DefaultTimeout        = 5 * time.Minute
	DefaultRetryBudget    = 20 * time.Second
	DefaultMaxConcurrent  = 64
	DefaultDrainTimeout   = 500 * time.Millisecond
	DefaultCloseTimeout   = 500 * time.Millisecond
)

// initializeTimeout caps the wait for the service's response to initialize,
// so that the host, which gives up after about 60 seconds, gets an error in
// time when the service is unreachable.
const initializeTimeout = 30 * time.Second

// cancelTimeout bounds the notifications/cancelled sent upstream while the
// bridge shuts down.
const cancelTimeout = 300 * time.Millisecond

// shutdownWriteTimeout bounds the writes to stdout at shutdown, and
// shutdownWaitTimeout the wait for the bridge's goroutines after the
// session ended. With the drain, the cancellations and the DELETE, the
// bridge stops within 2 seconds of stdin closing.
const (
	shutdownWriteTimeout = 300 * time.Millisecond
	shutdownWaitTimeout  = 500 * time.Millisecond
)

// notificationTimeout bounds each message the bridge sends upstream that
// has no response of its own: notifications and responses to server requests.
const notificationTimeout = 30 * time.Second

// Options configure a [Bridge]. Fields must not change after [New].
type Options struct {
	// URL is the Streamable HTTP MCP endpoint, for example
	// "https://cortex.joai.ai/mcp/agents/<agent-uuid>". It must be https,
	// or http on a loopback address, unless AllowInsecureHTTP is set.
	URL string
	// AllowInsecureHTTP permits a plain http URL on a non-loopback host.
	AllowInsecureHTTP bool
	// Token supplies the Bearer token. It must not be nil.
	Token TokenSource
	// Transport sends the HTTP requests. Nil means a transport from
	// [NewHTTPTransport] with no extra CA.
	Transport http.RoundTripper
	// MaxMessageSize is the largest message, in bytes, accepted from the
	// host or the service. Zero means DefaultMaxMessageSize.
	MaxMessageSize int64
	// Timeout is how long a request may wait for the service's response,
	// retries included; initialize waits at most 30 seconds whatever its
	// value. Zero means DefaultTimeout, and a negative value means no limit.
	Timeout time.Duration
	// RetryBudget is the longest a request may spend waiting to retry after
	// 429 or 503, or at the --max-rpm limit. Zero means DefaultRetryBudget,
	// and a negative value disables retries.
	RetryBudget time.Duration
	// MaxRPM caps the requests sent per minute. Zero means no cap.
	MaxRPM int
	// MaxConcurrent caps the requests in flight to the service. Zero means
	// DefaultMaxConcurrent.
	MaxConcurrent int
	// DrainTimeout is how long requests in flight may still finish after
	// the host closes stdin. Zero means DefaultDrainTimeout.
	DrainTimeout time.Duration
	// CloseTimeout bounds the DELETE that ends the session. Zero means
	// DefaultCloseTimeout.
	CloseTimeout time.Duration
	// Version is the bridge's version, reported in serverInfo when the
	// bridge answers initialize itself for a plain JSON-RPC endpoint.
	// Empty means "devel".
	Version string
	// Logger receives the bridge's logs. Nil means discard.
	Logger *slog.Logger
	// Sink receives an event for each relayed exchange. Nil means none.
	Sink inspector.Sink
}

// Bridge relays one host session. Create it with [New] and call [Bridge.Run]
// once.
type Bridge struct {
	opts     Options
	log      *slog.Logger
	endpoint *url.URL
	base     http.RoundTripper
	client   *http.Client

	gate    *gate
	rpm     *rpmLimiter
	limit   *concurrencyLimit
	retries retryReport

	token tokenCache

	// The fields below are set by Run. runCtx is the life of Run, kept here
	// because the round tripper and the stream readers need it.
	up      *transport.StreamableHTTP
	stdout  io.Writer
	out     *jsonrpc.Writer
	runCtx  context.Context
	stopRun context.CancelFunc
	queue   chan outbound
	work    chan *call
	// outBroken is closed when a write to stdout fails.
	outBroken     chan struct{}
	outBrokenOnce sync.Once
	wg            sync.WaitGroup
	inFlight      sync.WaitGroup
	ran           atomic.Bool

	nextUpID     atomic.Int64
	nextServerID atomic.Int64
	sessionGen   atomic.Int64
	reinitMu     sync.Mutex
	plain        atomic.Bool
	closing      atomic.Bool
	listenOff    atomic.Bool
	listener     listenerBackoff

	// mu guards calls, serverReqs, serverByUp, initMsg, initializedMsg,
	// initPending and held.
	mu             sync.Mutex
	calls          map[string]*call
	serverReqs     map[int64]*serverRequest
	serverByUp     map[string]int64
	initMsg        []byte
	initializedMsg []byte
	// initPending is set while the host's initialize is in flight, and held
	// keeps, in the host's order, what arrived meanwhile.
	initPending bool
	held        []heldMessage
}

// New checks opts and returns a Bridge. It does not contact the service.
func New(opts *Options) (*Bridge, error) {
	if opts == nil {
		return nil, errors.New("bridge: nil Options")
	}
	o := *opts
	if o.Token == nil {
		return nil, errors.New("no API token source: set JOAI_API_TOKEN or pass --token-file")
	}
	endpoint, err := ParseEndpoint(o.URL, o.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.MaxMessageSize < 0 {
		return nil, fmt.Errorf("invalid maximum message size %d: it must be positive", o.MaxMessageSize)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.RetryBudget == 0 {
		o.RetryBudget = DefaultRetryBudget
	}
	if o.MaxRPM < 0 {
		return nil, fmt.Errorf("invalid --max-rpm %d: it must be zero (no limit) or positive", o.MaxRPM)
	}
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.MaxConcurrent < 0 {
		return nil, fmt.Errorf("invalid --max-concurrent %d: it must be positive", o.MaxConcurrent)
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	if o.Version == "" {
		o.Version = "devel"
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	base := o.Transport
	if base == nil {
		t, err := NewHTTPTransport(&TransportOptions{MaxConnsPerHost: o.MaxConcurrent})
		if err != nil {
			return nil, err
		}
		base = t
	}

	b := &Bridge{
		opts:       o,
		log:        logger,
		endpoint:   endpoint,
		base:       base,
		gate:       &gate{},
		limit:      newConcurrencyLimit(o.MaxConcurrent),
		token:      tokenCache{source: o.Token},
		calls:      make(map[string]*call),
		serverReqs: make(map[int64]*serverRequest),
		serverByUp: make(map[string]int64),
	}
	if o.MaxRPM > 0 {
		b.rpm = newRPMLimiter(o.MaxRPM, time.Minute)
	}
	b.client = &http.Client{Transport: &roundTripper{b: b, base: base}}
	return b, nil
}

// Run relays between the host on stdin and stdout and the service until
// stdin ends or ctx is done, then cancels what is still in flight, ends the
// session with a DELETE and returns nil. A failed write to stdout means the
// host is gone and also ends Run with nil. It returns an error only when it
// is called a second time or when reading stdin fails.
//
// After stdin ends, requests in flight get Options.DrainTimeout to finish.
// When ctx ends they are cancelled at once. Either way each unanswered
// request gets a "shutting down" error and the service a
// notifications/cancelled for it. If ctx ends while a read from stdin
// blocks, Run returns without waiting for that read: the reading goroutine
// ends when stdin returns from it. Writes to stdout at shutdown get a
// 300 ms deadline when stdout has a SetWriteDeadline method, as an
// *os.File pipe has; a stdout without one that stops accepting writes can
// keep Run from returning.
func (b *Bridge) Run(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	if !b.ran.CompareAndSwap(false, true) {
		return errors.New("bridge: Run called twice")
	}
	if err := b.start(ctx, stdout); err != nil {
		return err
	}

	readErr := make(chan error, 1)
	go func() { readErr <- b.readLoop(stdin) }()

	var err error
	drain := false
	select {
	case err = <-readErr:
		switch {
		case errors.Is(err, io.EOF):
			err, drain = nil, true
		case errors.Is(err, errStopped):
			err = nil
		default:
			b.log.Error("reading stdin failed", "err", err)
			err, drain = fmt.Errorf("reading stdin: %w", err), true
		}
	case <-b.outBroken:
		b.log.Info("stdout closed; stopping", "err", b.out.Err())
	case <-ctx.Done():
		b.log.Info("stopping", "reason", context.Cause(ctx))
	}
	b.shutdown(drain)
	return err
}

// errStopped ends readLoop when the bridge stops for another reason.
var errStopped = errors.New("stopped")

// readLoop reads stdin and dispatches each frame until reading fails or the
// bridge stops. Frames are handled on this goroutine, so a request reaches
// its worker without another hand-off.
func (b *Bridge) readLoop(stdin io.Reader) error {
	r := jsonrpc.NewReader(stdin, b.opts.MaxMessageSize)
	for {
		f, err := r.Read()
		if err != nil {
			return err
		}
		if b.closing.Load() {
			return errStopped
		}
		b.handleFrame(f)
	}
}

// start creates the upstream transport and the goroutines that live as long
// as Run.
func (b *Bridge) start(ctx context.Context, stdout io.Writer) error {
	b.stdout = stdout
	b.out = jsonrpc.NewWriter(stdout)
	b.runCtx, b.stopRun = context.WithCancel(context.WithoutCancel(ctx))
	b.queue = make(chan outbound, 256)
	b.work = make(chan *call)
	b.outBroken = make(chan struct{})

	up, err := transport.NewStreamableHTTP(b.endpoint.String(),
		transport.WithHTTPBasicClient(b.client),
		transport.WithContinuousListening(),
		transport.WithHTTPLogger(slog.New(demoteHandler{b.log.Handler()}).With("component", "mcp-go")),
		transport.WithHTTPHeaderFunc(b.authHeader),
	)
	if err != nil {
		return fmt.Errorf("creating the upstream transport: %w", err)
	}
	// Server requests are read and relayed by the round tripper's stream
	// reader, so mcp-go's own handler only has to stay quiet: without one it
	// would answer every server request with -32601.
	up.SetRequestHandler(func(context.Context, transport.JSONRPCRequest) (*transport.JSONRPCResponse, error) {
		return nil, nil
	})
	b.up = up
	if err := up.Start(b.runCtx); err != nil {
		return fmt.Errorf("starting the upstream transport: %w", err)
	}

	b.wg.Go(b.sendLoop)
	b.log.Debug("bridge started", "url", b.endpoint.Redacted(), "token_source", b.opts.Token.Describe())
	return nil
}

// authHeader returns the Authorization header for mcp-go to send. When the
// token cannot be read it returns none, and the round tripper reports why.
// The map is shared by all requests, which is safe because mcp-go v1.2.1
// only reads it.
func (b *Bridge) authHeader(ctx context.Context) map[string]string {
	h, err := b.token.authHeader(ctx)
	if err != nil {
		return nil
	}
	return h
}

// shutdown answers and cancels what is in flight, ends the session and
// waits for the bridge's goroutines.
func (b *Bridge) shutdown(drain bool) {
	// Under mu, so that no request is added to the calls or to inFlight
	// once shutdown has begun.
	b.mu.Lock()
	b.closing.Store(true)
	b.mu.Unlock()
	if drain {
		b.waitInFlight(b.opts.DrainTimeout)
	}

	// A host that stopped reading would block the last writes for ever.
	// Files served by the poller, such as the pipes joai-bridge uses, take
	// a deadline; other writers cannot be interrupted.
	if d, ok := b.stdout.(interface{ SetWriteDeadline(time.Time) error }); ok {
		d.SetWriteDeadline(time.Now().Add(shutdownWriteTimeout))
	}
	b.cancelAll()

	// Close cancels every request mcp-go still has open, then sends the
	// DELETE, which the round tripper bounds by CloseTimeout.
	if err := b.up.Close(); err != nil {
		b.log.Warn("closing the upstream transport failed", "err", err)
	}
	b.stopRun()

	done := make(chan struct{})
	go func() {
		b.inFlight.Wait()
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(shutdownWaitTimeout):
		b.log.Warn("some work did not stop in time at shutdown; exiting anyway", "waited", shutdownWaitTimeout)
	}
	if c, ok := b.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
	b.log.Debug("bridge stopped")
}

// waitInFlight waits up to d for the requests in flight to finish.
func (b *Bridge) waitInFlight(d time.Duration) {
	done := make(chan struct{})
	go func() {
		b.inFlight.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// demoteHandler lowers mcp-go's log records by one level, because mcp-go
// logs routine events of the GET stream at info and error, and the bridge
// reports what matters to the user itself.
type demoteHandler struct{ h slog.Handler }

func (d demoteHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return d.h.Enabled(ctx, l-4)
}

func (d demoteHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level -= 4
	if r.Message == listenFailedMessage {
		// mcp-go's wait is only part of it: the round tripper adds a
		// backoff after repeated failures.
		r.Message = "the GET event stream failed; reconnecting after a pause"
	}
	return d.h.Handle(ctx, r)
}

// listenFailedMessage is the message mcp-go v1.2.1 logs when its GET event
// stream fails.
const listenFailedMessage = "failed to listen to server. retry in 1 second"

func (d demoteHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return demoteHandler{d.h.WithAttrs(attrs)}
}

func (d demoteHandler) WithGroup(name string) slog.Handler {
	return demoteHandler{d.h.WithGroup(name)}
}
