//go:build unix

package cli

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"
)

// parentPollInterval is how often the bridge checks that its parent lives.
const parentPollInterval = 500 * time.Millisecond

// errParentExited is the cause of the context's end when the parent exits.
var errParentExited = errors.New("the parent process exited")

// watchParent returns a context that ends when the process that started the
// bridge exits, which Unix reports by giving the bridge a new parent. Hosts
// that crash never close the bridge's stdin, so without this it would live
// on as an orphan.
func watchParent(ctx context.Context, logger *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	parent := os.Getppid()
	if parent == 1 {
		// Already adopted by init: nothing to watch.
		return ctx, func() { cancel(nil) }
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(parentPollInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if os.Getppid() != parent {
					logger.Info("the parent process exited; stopping", "parent_pid", parent)
					cancel(errParentExited)
					return
				}
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return ctx, func() {
		close(done)
		<-stopped
		cancel(nil)
	}
}
