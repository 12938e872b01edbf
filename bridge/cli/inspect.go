package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"sync"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/internal/inspector"
)

// The --inspect flag serves a live page of the bridge's traffic on a
// loopback address. It is off by default, and the address must be on a
// loopback interface because the page shows every message.
func init() {
	optionHooks = append(optionHooks, optionHook{register: registerInspect, apply: applyInspect})
}

// inspectAddr is the value of --inspect, handed from the flag set to the
// option hook. Like --token-command's value, it is shared by Main calls
// running at once in one process.
var inspectAddr struct {
	mu    sync.Mutex
	value string
}

func registerInspect(fs *flag.FlagSet) {
	inspectAddr.mu.Lock()
	inspectAddr.value = ""
	inspectAddr.mu.Unlock()
	fs.Func("inspect", "serve a live traffic inspector page at http://`ADDR`/, a loopback host:port such as 127.0.0.1:8222 (port 0 picks one and logs it); off by default", func(v string) error {
		inspectAddr.mu.Lock()
		defer inspectAddr.mu.Unlock()
		inspectAddr.value = v
		return nil
	})
}

// applyInspect starts the inspector server when --inspect is set and adds
// its hub to the bridge's sink. The stop function closes the server.
func applyInspect(ctx context.Context, opts *bridge.Options, logger *slog.Logger) (func(), error) {
	inspectAddr.mu.Lock()
	addr := inspectAddr.value
	inspectAddr.mu.Unlock()
	if addr == "" {
		return nil, nil
	}
	srv, err := inspector.Listen(addr, &inspector.Options{Title: "joai-bridge", Logger: logger.With("component", "inspector")})
	if err != nil {
		return nil, fmt.Errorf("--inspect: %w", err)
	}
	opts.Sink = inspector.Tee(opts.Sink, srv.Hub)
	return func() { srv.Close() }, nil
}
