package inspector

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// Server serves a [Hub]'s page and feed at "/" of a loopback address, for
// a program with no HTTP server of its own (the bridge).
type Server struct {
	// URL is the page's address, such as "http://127.0.0.1:8222/".
	URL string
	// Hub is the sink to publish to.
	Hub *Hub

	srv  *http.Server
	done chan struct{}
}

// Listen starts a Server with a new Hub configured by opts (which may be
// nil) on addr. addr must be host:port with a loopback host: an IP address
// such as 127.0.0.1 or ::1, or "localhost", which means 127.0.0.1. Port 0
// picks a free port, which URL then contains.
func Listen(addr string, opts *Options) (*Server, error) {
	listenAddr, err := loopbackListenAddr(addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("inspector: listening on %s: %w", addr, err)
	}

	hub := NewHub(opts)
	mux := http.NewServeMux()
	mux.Handle("/{$}", hub)
	s := &Server{
		URL: "http://" + ln.Addr().String() + "/",
		Hub: hub,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			hub.logger.Error("inspector server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	hub.logger.Info("inspector listening", "url", s.URL)
	return s, nil
}

// loopbackListenAddr checks addr and returns the address to listen on.
func loopbackListenAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("inspector: address %q is not host:port (%v); use for example 127.0.0.1:8222", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("inspector: address %q is not on a loopback interface; the inspector shows live traffic, so it listens only on 127.0.0.1, ::1 or localhost, for example 127.0.0.1:8222", addr)
	}
	return addr, nil
}

// Close stops the server, disconnects the pages and closes the hub. It is
// safe to call more than once.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	// Shutdown does not wait for hijacked WebSocket connections; Hub.Close
	// ends those.
	err := s.srv.Shutdown(ctx)
	s.Hub.Close()
	<-s.done
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
