package inspector

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Defaults for the zero fields of [Options].
const (
	DefaultReplay          = 500
	DefaultClientBuffer    = 256
	DefaultMaxMessageBytes = 32 << 10
	DefaultWriteTimeout    = 30 * time.Second
)

// Options configures a [Hub]. A nil *Options means all defaults.
type Options struct {
	// Title names the program whose traffic the page shows, for example
	// "joai-mock". The page shows it in its heading; "" shows none.
	Title string
	// Replay is how many of the most recent events a newly opened page
	// receives before the live ones. 0 means DefaultReplay; a negative value
	// keeps no history.
	Replay int
	// ClientBuffer is how many events may wait to be written to one page.
	// Events for a page whose buffer is full are dropped for that page and
	// counted, and the page shows the count. 0 means DefaultClientBuffer.
	ClientBuffer int
	// MaxMessageBytes caps the bytes of Request and of Response that the
	// hub keeps and shows. Longer messages are cut, with a Note that the page shows.
	// 0 means DefaultMaxMessageBytes.
	MaxMessageBytes int
	// WriteTimeout is how long one write to a page may take before the page
	// is disconnected. 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Logger receives page connects, disconnects and feed errors. Nil
	// discards them.
	Logger *slog.Logger
}

// Hub is a [Sink] that keeps the most recent events and streams them to the
// pages connected through its [Hub.ServeHTTP]. Publish never waits for a
// page: each page has a bounded buffer, and a page that falls behind loses
// events (counted and reported to it) instead of slowing the producer.
//
// The zero Hub is not usable; call [NewHub]. A Hub is safe for concurrent
// use.
type Hub struct {
	title        string
	bufferSize   int
	maxMessage   int
	writeTimeout time.Duration
	logger       *slog.Logger
	// id lets a reconnecting page check that it talks to the same hub, so
	// it can skip the replayed events it already shows.
	id string

	// mu guards ring, next, seq, pages and closed.
	mu     sync.Mutex
	ring   []*entry
	next   int
	seq    uint64
	pages  map[*page]struct{}
	closed bool

	dropped atomic.Int64
	// feeds counts the running feed handlers, so Close can wait for them.
	feeds sync.WaitGroup
}

// Stats is a snapshot of a hub's counters.
type Stats struct {
	// Published is how many events the hub has received.
	Published uint64
	// Pages is how many pages are connected now.
	Pages int
	// Dropped is how many events were dropped for slow pages, summed over
	// every page that was ever connected.
	Dropped int64
}

// entry is one published event with its sequence number. The feed message
// is encoded once, on the first page goroutine that needs it, so the
// producer never pays for encoding or redaction.
type entry struct {
	seq   uint64
	once  sync.Once
	event Event
	frame []byte
}

// page is the hub's side of one connected WebSocket client.
type page struct {
	events  chan *entry
	dropped atomic.Int64
	// wake signals the writer that an event was dropped, so the page learns
	// of the loss even when no further event arrives.
	wake chan struct{}
	// stop is closed when the hub closes.
	stop chan struct{}
	// conn is the page's connection once upgraded, guarded by Hub.mu. Close
	// uses it to unblock a write to a page that has stopped reading.
	conn *websocket.Conn
}

// NewHub returns a hub configured by opts, which may be nil.
func NewHub(opts *Options) *Hub {
	if opts == nil {
		opts = &Options{}
	}
	h := &Hub{
		title:        opts.Title,
		bufferSize:   positiveOr(opts.ClientBuffer, DefaultClientBuffer),
		maxMessage:   positiveOr(opts.MaxMessageBytes, DefaultMaxMessageBytes),
		writeTimeout: opts.WriteTimeout,
		logger:       opts.Logger,
		id:           randomID(),
		pages:        make(map[*page]struct{}),
	}
	if h.writeTimeout <= 0 {
		h.writeTimeout = DefaultWriteTimeout
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case opts.Replay == 0:
		h.ring = make([]*entry, DefaultReplay)
	case opts.Replay > 0:
		h.ring = make([]*entry, opts.Replay)
	}
	return h
}

func positiveOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Publish records ev and queues it for every connected page. It never
// blocks on a page and does no encoding: it copies the event (Request and
// Response cut to the hub's MaxMessageBytes), so the caller may reuse its
// buffers once Publish returns. After [Hub.Close], Publish does nothing.
func (h *Hub) Publish(ev Event) {
	ev = h.copyEvent(ev)

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.seq++
	e := &entry{seq: h.seq, event: ev}
	if len(h.ring) > 0 {
		h.ring[h.next] = e
		h.next = (h.next + 1) % len(h.ring)
	}
	for p := range h.pages {
		select {
		case p.events <- e:
		default:
			p.dropped.Add(1)
			h.dropped.Add(1)
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}
}

// copyEvent returns ev with its own copies of Request, Response and
// RateLimit, the messages cut to the hub's limit.
func (h *Hub) copyEvent(ev Event) Event {
	var cut []string
	ev.Request, cut = h.copyMessage(ev.Request, "request", cut)
	ev.Response, cut = h.copyMessage(ev.Response, "response", cut)
	if len(cut) > 0 {
		ev.Note = joinNote(ev.Note, cut...)
	}
	if ev.RateLimit != nil {
		rl := *ev.RateLimit
		ev.RateLimit = &rl
	}
	return ev
}

// copyMessage copies msg, cutting it to the hub's limit. A cut message is
// no longer valid JSON, so it is kept as a JSON string, which the page shows
// as text. A cut through a Bearer credential drops the part of it that is
// left: a partial credential would escape the redaction of whole Bearer
// values and show characters that [redact.Token] never shows.
func (h *Hub) copyMessage(msg []byte, name string, cut []string) ([]byte, []string) {
	if msg == nil {
		return nil, cut
	}
	if len(msg) <= h.maxMessage {
		return bytes.Clone(msg), cut
	}
	head := msg[:h.maxMessage]
	if rest := bytes.TrimRightFunc(head, isTokenRune); len(rest) < len(head) {
		if bearerAtEnd.Match(rest[max(0, len(rest)-64):]) {
			head = rest
		}
	}
	cut = append(cut, name+" cut to "+formatBytes(len(head))+" of "+formatBytes(len(msg)))
	quoted, _ := json.Marshal(string(head)) // a string never fails to encode
	return quoted, cut
}

// joinNote appends parts to note, separated by "; ".
func joinNote(note string, parts ...string) string {
	for _, p := range parts {
		if note != "" {
			note += "; "
		}
		note += p
	}
	return note
}

// attach registers a new page and returns it with the events to replay to
// it. Taking the replay and registering under one lock makes the replay and
// the live events meet with no gap and no duplicate. It reports false when
// the hub is closed.
func (h *Hub) attach() (*page, []*entry, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, false
	}
	p := &page{
		events: make(chan *entry, h.bufferSize),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
	}
	var replay []*entry
	for i := range h.ring {
		if e := h.ring[(h.next+i)%len(h.ring)]; e != nil {
			replay = append(replay, e)
		}
	}
	h.pages[p] = struct{}{}
	h.feeds.Add(1)
	return p, replay, true
}

// detach unregisters p when its feed handler returns.
func (h *Hub) detach(p *page) {
	h.mu.Lock()
	delete(h.pages, p)
	h.mu.Unlock()
	h.feeds.Done()
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{Published: h.seq, Pages: len(h.pages), Dropped: h.dropped.Load()}
}

// closeGrace is how long Close lets pages take the close frame before it
// cuts their connections.
const closeGrace = time.Second

// Close disconnects every page and waits for their handlers to return.
// Later pages are turned away and later events ignored. Close is safe to
// call more than once.
func (h *Hub) Close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		for p := range h.pages {
			close(p.stop)
		}
	}
	h.mu.Unlock()

	done := make(chan struct{})
	go func() {
		h.feeds.Wait()
		close(done)
	}()
	timer := time.NewTimer(closeGrace)
	defer timer.Stop()
	select {
	case <-done:
		return
	case <-timer.C:
	}

	// A page that reads nothing blocks its writer until the write timeout;
	// closing the connection ends that write now.
	h.mu.Lock()
	for p := range h.pages {
		if p.conn != nil {
			p.conn.Close()
		}
	}
	h.mu.Unlock()
	<-done
}

// setConn records the upgraded connection of p for Close.
func (h *Hub) setConn(p *page, conn *websocket.Conn) {
	h.mu.Lock()
	p.conn = conn
	h.mu.Unlock()
}

// frameOf returns the feed message for e, encoding it on first use.
func (h *Hub) frameOf(e *entry) []byte {
	e.once.Do(func() {
		e.frame = encodeEntry(e.seq, &e.event)
		// The frame is all a page needs from now on.
		e.event = Event{}
	})
	return e.frame
}

// Feed messages: one JSON object per WebSocket text message, with "kind"
// naming its type.
type (
	helloMessage struct {
		Kind   string `json:"kind"` // "hello"
		Hub    string `json:"hub"`
		Title  string `json:"title,omitempty"`
		Replay int    `json:"replay"`
	}
	eventMessage struct {
		Kind  string `json:"kind"` // "event"
		Seq   uint64 `json:"seq"`
		Event *Event `json:"event"`
	}
	droppedMessage struct {
		Kind  string `json:"kind"` // "dropped"
		Total int64  `json:"total"`
	}
)

// encodeEntry redacts ev and encodes it as an event message. It never
// fails: an event that cannot be encoded is replaced by one whose Note
// gives the error.
func encodeEntry(seq uint64, ev *Event) []byte {
	sanitize(ev)
	b, err := json.Marshal(eventMessage{Kind: "event", Seq: seq, Event: ev})
	if err == nil {
		return b
	}

	// Marshal validates Request and Response, so checking them first would
	// cost every event a second pass over its messages.
	ev.Request = validJSON(ev.Request)
	ev.Response = validJSON(ev.Response)
	b, err = json.Marshal(eventMessage{Kind: "event", Seq: seq, Event: ev})
	if err == nil {
		return b
	}
	bare := Event{Time: ev.Time, Source: ev.Source, Direction: ev.Direction,
		Note: "event could not be encoded for the page: " + err.Error()}
	b, _ = json.Marshal(eventMessage{Kind: "event", Seq: seq, Event: &bare})
	return b
}

// Tee returns a Sink that publishes every event to each non-nil sink, in
// order. It returns nil when no sink is non-nil.
func Tee(sinks ...Sink) Sink {
	var out teeSink
	for _, s := range sinks {
		if s != nil {
			out = append(out, s)
		}
	}
	switch len(out) {
	case 0:
		return nil
	case 1:
		return out[0]
	}
	return out
}

type teeSink []Sink

func (t teeSink) Publish(ev Event) {
	for _, s := range t {
		s.Publish(ev)
	}
}
