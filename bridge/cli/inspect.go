package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/internal/inspector"
)

// inspectHook defines --inspect, which serves a live page of the bridge's
// traffic. It is off by default, and the address must be on a loopback
// interface because the page shows every message.
func inspectHook(fs *flag.FlagSet) optionApply {
	var addr string
	fs.StringVar(&addr, "inspect", "", "serve a live traffic inspector page at http://`ADDR`/, a loopback host:port such as 127.0.0.1:8222 (port 0 picks one and logs it); off by default")
	return func(ctx context.Context, opts *bridge.Options, logger *slog.Logger) (func(), error) {
		return applyInspect(ctx, addr, opts, logger)
	}
}

// applyInspect starts the inspector server on addr when --inspect is set and adds
// its hub to the bridge's sink. The stop function closes the server.
func applyInspect(ctx context.Context, addr string, opts *bridge.Options, logger *slog.Logger) (func(), error) {
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
