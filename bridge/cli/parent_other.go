//go:build !unix

package cli

import (
	"context"
	"log/slog"
)

// watchParent returns ctx unchanged: outside Unix a process keeps its
// parent's id after the parent exits, so there is nothing to poll.
func watchParent(ctx context.Context, _ *slog.Logger) (context.Context, func()) {
	return ctx, func() {}
}
