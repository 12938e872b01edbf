package inspector

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// pageHTML is the whole inspector page: markup, style and script in one
// file, with nothing loaded from elsewhere.
//
//go:embed page.html
var pageHTML []byte

// pageCSP allows exactly the page's own inline style and script (by hash),
// WebSocket connections to the page's own origin, and nothing else.
var pageCSP = buildCSP(pageHTML)

func buildCSP(html []byte) string {
	return strings.Join([]string{
		"default-src 'none'",
		"script-src " + inlineHashes(html, "script"),
		"style-src " + inlineHashes(html, "style"),
		"connect-src 'self'",
		"img-src data:",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

// inlineHashes returns the CSP hash sources of the inline <tag> elements
// of html, or 'none' when there are none.
func inlineHashes(html []byte, tag string) string {
	re := regexp.MustCompile(`(?s)<` + tag + `>(.*?)</` + tag + `>`)
	var sources []string
	for _, m := range re.FindAllSubmatch(html, -1) {
		sum := sha256.Sum256(m[1])
		sources = append(sources, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	if sources == nil {
		return "'none'"
	}
	return strings.Join(sources, " ")
}

const (
	// pingPeriod is how often the hub pings a page. pongWait is how long
	// the hub waits for any frame from the page before it disconnects it.
	pingPeriod = 30 * time.Second
	pongWait   = 75 * time.Second
	// maxPageMessage caps what a page may send. The page sends nothing but
	// control frames, so anything larger is a misbehaving client.
	maxPageMessage = 4 << 10
	// A WebSocket message carries up to maxBatchFrames feed messages, one
	// per line, and more than one only while their total stays under
	// maxBatchBytes. Under heavy traffic this saves a write system call
	// per event, which is most of what a page costs.
	maxBatchFrames = 64
	maxBatchBytes  = 256 << 10
)

// ServeHTTP serves the inspector page on GET, and the event feed when the
// GET is a WebSocket upgrade to the same URL, so the hub can be mounted at
// any single path. Both reject with 403 a request whose Host is not a
// loopback address or "localhost", which defeats DNS rebinding. The feed
// also rejects with 403 a request whose Origin is not the page's own, so
// other web pages cannot read it.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, fmt.Sprintf("inspector: method %s not allowed; open the page with GET", r.Method),
			http.StatusMethodNotAllowed)
		return
	}
	if !IsLoopbackHost(r.Host) {
		http.Error(w, fmt.Sprintf("inspector: host %q is not a loopback address; open the page through 127.0.0.1, [::1] or localhost", r.Host),
			http.StatusForbidden)
		return
	}
	if websocket.IsWebSocketUpgrade(r) {
		h.serveFeed(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Content-Security-Policy", pageCSP)
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	w.Write(pageHTML)
}

// IsLoopbackHost reports whether hostport, a Host header or a bare host
// with or without brackets, names a loopback IP address or localhost. The
// mock server's control API shares this check.
func IsLoopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkOrigin returns nil when r may read the feed: it has no Origin (so
// it does not come from a web page), or its Origin is http or https on the
// same host and port as r.
func checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, r.Host) {
		return fmt.Errorf("inspector: origin %q may not read the feed of %s; open the page at http://%s%s",
			origin, r.Host, r.Host, r.URL.Path)
	}
	return nil
}

var upgrader = websocket.Upgrader{
	HandshakeTimeout: 10 * time.Second,
	ReadBufferSize:   1 << 10,
	WriteBufferSize:  16 << 10,
	// ServeHTTP has checked the origin already, with a better message.
	CheckOrigin: func(*http.Request) bool { return true },
}

// serveFeed upgrades r to a WebSocket and streams the hub's events to it:
// a hello, the replay, then live events and drop counts until the page
// goes away or the hub closes.
func (h *Hub) serveFeed(w http.ResponseWriter, r *http.Request) {
	if err := checkOrigin(r); err != nil {
		h.logger.Warn("inspector feed rejected", "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	p, replay, ok := h.attach()
	if !ok {
		http.Error(w, "inspector: shutting down", http.StatusServiceUnavailable)
		return
	}
	defer h.detach(p)

	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has written the error response already.
		h.logger.Warn("inspector feed upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	defer conn.Close()
	h.setConn(p, conn)
	h.logger.Info("inspector page connected", "remote", r.RemoteAddr, "replay", len(replay))

	pageGone := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		readUntilClosed(conn)
		close(pageGone)
	}()

	err = h.writeFeed(conn, p, replay, pageGone)
	switch {
	case err == nil, errors.Is(err, net.ErrClosed), websocket.IsCloseError(err, websocket.CloseGoingAway, websocket.CloseNormalClosure):
		h.logger.Info("inspector page disconnected", "remote", r.RemoteAddr, "dropped", p.dropped.Load())
	default:
		h.logger.Info("inspector page disconnected", "remote", r.RemoteAddr, "dropped", p.dropped.Load(), "err", err)
	}

	// Closing the connection ends the reader, which must be gone before
	// the hub's Close returns.
	conn.Close()
	<-readerDone
}

// readUntilClosed reads and discards what the page sends, which keeps
// ping, pong and close frames flowing, until the connection fails.
func readUntilClosed(conn *websocket.Conn) {
	conn.SetReadLimit(maxPageMessage)
	conn.SetReadDeadline(time.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(pongWait))
	})
	for {
		if _, _, err := conn.NextReader(); err != nil {
			return
		}
		conn.SetReadDeadline(time.Now().Add(pongWait))
	}
}

// writeFrames writes feed messages as one WebSocket text message, one per
// line. An encoded feed message never contains a newline, because JSON
// encoding escapes newlines in strings and compacts embedded messages.
func (h *Hub) writeFrames(conn *websocket.Conn, frames [][]byte) error {
	conn.SetWriteDeadline(time.Now().Add(h.writeTimeout))
	w, err := conn.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	for i, f := range frames {
		if i > 0 {
			w.Write([]byte{'\n'})
		}
		w.Write(f)
	}
	return w.Close()
}

// writeFeed is the only writer of conn. It returns nil when the hub closes
// or the page goes away, and the write error otherwise.
func (h *Hub) writeFeed(conn *websocket.Conn, p *page, replay []*entry, pageGone <-chan struct{}) error {
	hello, _ := json.Marshal(helloMessage{Kind: "hello", Hub: h.id, Title: h.title, Replay: len(replay)})
	batch, size := [][]byte{hello}, len(hello)
	for _, e := range replay {
		if len(batch) == maxBatchFrames || size >= maxBatchBytes {
			if err := h.writeFrames(conn, batch); err != nil {
				return err
			}
			batch, size = batch[:0], 0
		}
		f := h.frameOf(e)
		batch = append(batch, f)
		size += len(f)
	}
	if err := h.writeFrames(conn, batch); err != nil {
		return err
	}

	ping := time.NewTicker(pingPeriod)
	defer ping.Stop()
	var reported int64
	for {
		batch = batch[:0]
		select {
		case e := <-p.events:
			batch = h.appendQueued(append(batch, h.frameOf(e)), p)
		case <-p.wake:
		case <-ping.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.writeTimeout)); err != nil {
				return err
			}
		case <-pageGone:
			return nil
		case <-p.stop:
			msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "inspector closed")
			conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			return nil
		}

		if n := p.dropped.Load(); n != reported {
			b, _ := json.Marshal(droppedMessage{Kind: "dropped", Total: n})
			batch = append(batch, b)
			reported = n
		}
		if len(batch) > 0 {
			if err := h.writeFrames(conn, batch); err != nil {
				return err
			}
		}
	}
}

// appendQueued appends to batch the frames of the events already queued
// for p, within the batch limits, without waiting for more.
func (h *Hub) appendQueued(batch [][]byte, p *page) [][]byte {
	size := 0
	for _, f := range batch {
		size += len(f)
	}
	for len(batch) < maxBatchFrames && size < maxBatchBytes {
		select {
		case e := <-p.events:
			f := h.frameOf(e)
			batch = append(batch, f)
			size += len(f)
		default:
			return batch
		}
	}
	return batch
}
