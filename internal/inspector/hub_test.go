package inspector

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
)

// feedMessage is any feed message, decoded for tests.
type feedMessage struct {
	Kind   string `json:"kind"`
	Hub    string `json:"hub"`
	Title  string `json:"title"`
	Replay int    `json:"replay"`
	Seq    uint64 `json:"seq"`
	Event  *Event `json:"event"`
	Total  int64  `json:"total"`
}

// startHub serves a new hub through httptest and closes both at cleanup.
func startHub(tb testing.TB, opts *Options) (*Hub, *httptest.Server) {
	tb.Helper()
	h := NewHub(opts)
	srv := httptest.NewServer(h)
	tb.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return h, srv
}

func feedURL(srv *httptest.Server) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
}

// feed is the test's end of a page connection. It splits each WebSocket
// message into the feed messages on its lines.
type feed struct {
	conn    *websocket.Conn
	pending [][]byte
}

// dialFeed opens the feed of srv as a page on srv's own origin would.
func dialFeed(tb testing.TB, srv *httptest.Server) *feed {
	tb.Helper()
	return dialFeedWith(tb, srv, websocket.DefaultDialer)
}

func dialFeedWith(tb testing.TB, srv *httptest.Server, d *websocket.Dialer) *feed {
	tb.Helper()
	hdr := http.Header{"Origin": {srv.URL}}
	conn, resp, err := d.DialContext(tb.Context(), feedURL(srv), hdr)
	if err != nil {
		tb.Fatalf("dialing the feed: %v (response %v)", err, resp)
	}
	tb.Cleanup(func() { conn.Close() })
	return &feed{conn: conn}
}

// next returns the next feed message.
func (f *feed) next(tb testing.TB) feedMessage {
	tb.Helper()
	for len(f.pending) == 0 {
		f.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, b, err := f.conn.ReadMessage()
		if err != nil {
			tb.Fatalf("reading the feed: %v", err)
		}
		f.pending = bytes.Split(b, []byte("\n"))
	}
	b := f.pending[0]
	f.pending = f.pending[1:]
	var m feedMessage
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("decoding feed message %q: %v", b, err)
	}
	return m
}

// stalledDialer returns a dialer whose connections have a tiny receive
// buffer, so a page that never reads fills the path to it quickly.
func stalledDialer() *websocket.Dialer {
	return &websocket.Dialer{
		ReadBufferSize: 1024,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetReadBuffer(4 << 10)
			}
			return c, nil
		},
	}
}

// waitPages waits until h has n pages attached.
func waitPages(tb testing.TB, h *Hub, n int) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for h.Stats().Pages != n {
		if time.Now().After(deadline) {
			tb.Fatalf("hub has %d pages, want %d", h.Stats().Pages, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func methodEvent(method string) Event {
	return Event{Time: time.Now(), Source: "mock", Direction: "client→mock", Method: method, HTTPStatus: 200}
}

func TestHubReplayThenLive(t *testing.T) {
	h, srv := startHub(t, &Options{Replay: 3, Title: "joai-test"})
	for _, m := range []string{"a", "b", "c", "d", "e"} {
		h.Publish(methodEvent(m))
	}

	conn := dialFeed(t, srv)
	hello := conn.next(t)
	if hello.Kind != "hello" || hello.Replay != 3 || hello.Title != "joai-test" || hello.Hub == "" {
		t.Fatalf("first message = %+v, want a hello with replay 3 and title joai-test", hello)
	}
	waitPages(t, h, 1)
	h.Publish(methodEvent("f"))

	type seen struct {
		Seq    uint64
		Method string
	}
	var got []seen
	for range 4 {
		m := conn.next(t)
		if m.Kind != "event" {
			t.Fatalf("message = %+v, want an event", m)
		}
		got = append(got, seen{m.Seq, m.Event.Method})
	}
	want := []seen{{3, "c"}, {4, "d"}, {5, "e"}, {6, "f"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestHubReplayDisabled(t *testing.T) {
	h, srv := startHub(t, &Options{Replay: -1})
	h.Publish(methodEvent("old"))
	conn := dialFeed(t, srv)
	if m := conn.next(t); m.Kind != "hello" || m.Replay != 0 {
		t.Fatalf("first message = %+v, want a hello with replay 0", m)
	}
	waitPages(t, h, 1)
	h.Publish(methodEvent("new"))
	if m := conn.next(t); m.Event == nil || m.Event.Method != "new" || m.Seq != 2 {
		t.Fatalf("message = %+v, want event 2 (new)", m)
	}
}

// A page that connects while events flow must see every event from its
// first one on exactly once: the replay and the live feed meet without a
// gap or a duplicate.
func TestHubReplayMeetsLiveWithoutGap(t *testing.T) {
	h, srv := startHub(t, &Options{Replay: 50, ClientBuffer: 10000})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				h.Publish(methodEvent("tools/list"))
				time.Sleep(50 * time.Microsecond)
			}
		}
	})
	for h.Stats().Published < 100 {
		time.Sleep(time.Millisecond)
	}
	conn := dialFeed(t, srv)
	waitPages(t, h, 1)
	for h.Stats().Published < 300 {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	last := h.Stats().Published

	hello := conn.next(t)
	if hello.Kind != "hello" {
		t.Fatalf("first message = %+v, want hello", hello)
	}
	first := conn.next(t)
	prev := first.Seq
	for prev < last {
		m := conn.next(t)
		if m.Seq != prev+1 {
			t.Fatalf("after event %d came %+v, want event %d", prev, m, prev+1)
		}
		prev = m.Seq
	}
	if got := h.Stats().Dropped; got != 0 {
		t.Errorf("Dropped = %d, want 0", got)
	}
}

// A page that reads nothing must not make Publish wait: the events meant
// for it are dropped and counted, and once it reads again it learns how
// many it missed.
func TestHubPublishDropsForStalledPage(t *testing.T) {
	h, srv := startHub(t, &Options{Replay: 8, ClientBuffer: 4})
	// A default receive buffer, unlike stalledDialer's, lets the page drain
	// the socket quickly once it reads again.
	conn := dialFeed(t, srv)
	waitPages(t, h, 1)

	big := methodEvent("tools/call")
	big.Response = json.RawMessage(`"` + strings.Repeat("x", 16<<10) + `"`)
	// 2000 events of 16 KiB are 32 MiB, far more than the socket buffers
	// between the hub and a page that reads nothing can take (a few MiB on
	// Linux), so most of them must be dropped.
	const n = 2000
	published := make(chan struct{})
	go func() {
		for range n {
			h.Publish(big)
		}
		close(published)
	}()
	select {
	case <-published:
	case <-time.After(30 * time.Second):
		t.Fatal("Publish blocked on a page that reads nothing")
	}
	dropped := h.Stats().Dropped
	if dropped < n/2 {
		t.Fatalf("after %d events for a stalled page, Dropped = %d, want at least %d", n, dropped, n/2)
	}

	// Reading again, the page gets the events that fitted and counts that
	// rise to the hub's.
	var total int64
	for total != dropped {
		m := conn.next(t)
		if m.Kind == "dropped" {
			if m.Total < total || m.Total > dropped {
				t.Fatalf("page was told %d events dropped after %d, hub counted %d", m.Total, total, dropped)
			}
			total = m.Total
		}
	}
}

func TestHubCloseEndsStalledPage(t *testing.T) {
	h, srv := startHub(t, &Options{ClientBuffer: 1})
	dialFeedWith(t, srv, stalledDialer())
	waitPages(t, h, 1)
	big := methodEvent("tools/call")
	big.Response = json.RawMessage(`"` + strings.Repeat("x", 16<<10) + `"`)
	for h.Stats().Dropped == 0 {
		h.Publish(big)
	}

	closed := make(chan struct{})
	go func() {
		h.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return while a page was stalled")
	}
	if got := h.Stats().Pages; got != 0 {
		t.Errorf("after Close, Pages = %d, want 0", got)
	}
	before := h.Stats().Published
	h.Publish(methodEvent("late"))
	if got := h.Stats().Published; got != before {
		t.Errorf("Publish after Close counted an event: Published %d, want %d", got, before)
	}
	h.Close()
}

func TestHubClosedRejectsPages(t *testing.T) {
	h, srv := startHub(t, nil)
	h.Close()
	_, resp, err := websocket.DefaultDialer.DialContext(t.Context(), feedURL(srv), http.Header{"Origin": {srv.URL}})
	if err == nil {
		t.Fatal("dialing a closed hub succeeded")
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dialing a closed hub: response %v, want 503", resp)
	}
}

func TestHubCopiesEvent(t *testing.T) {
	h, srv := startHub(t, nil)
	req := []byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	rl := &RateState{Remaining: 5, Limit: 10}
	ev := methodEvent("ping")
	ev.Request = req
	ev.RateLimit = rl
	h.Publish(ev)
	copy(req, `XXXXXXXXXXXXXXXXXXXXXXXXX`)
	rl.Remaining = 0

	conn := dialFeed(t, srv)
	conn.next(t) // hello
	m := conn.next(t)
	if got := string(m.Event.Request); got != `{"jsonrpc":"2.0","id":1,"method":"ping"}` {
		t.Errorf("Request = %s, want the bytes as published", got)
	}
	if m.Event.RateLimit == nil || m.Event.RateLimit.Remaining != 5 {
		t.Errorf("RateLimit = %+v, want Remaining 5 as published", m.Event.RateLimit)
	}
}

func TestHubCutsLongMessages(t *testing.T) {
	h, srv := startHub(t, &Options{MaxMessageBytes: 64})
	token := "sk-test-abcdefghijklmnopqrstuvwxyz0123456789"
	ev := methodEvent("tools/call")
	// The cut falls inside the token, which must not leave a partial token
	// that the Bearer redaction would miss.
	ev.Request = json.RawMessage(`{"jsonrpc":"2.0","params":{"h":"Bearer ` + token + `"},"id":1}`)
	ev.Response = json.RawMessage(`{"ok":true}`)
	h.Publish(ev)
	blob := methodEvent("resources/read")
	blob.Response = json.RawMessage(`{"blob":"` + strings.Repeat("QUJD", 40) + `"}`)
	h.Publish(blob)

	conn := dialFeed(t, srv)
	conn.next(t)
	m := conn.next(t)
	var text string
	if err := json.Unmarshal(m.Event.Request, &text); err != nil {
		t.Fatalf("cut Request %s is not a JSON string: %v", m.Event.Request, err)
	}
	if !strings.HasPrefix(text, `{"jsonrpc":"2.0","params":{"h":"Bearer `) {
		t.Errorf("cut Request = %q, want the start of the message", text)
	}
	if strings.Contains(text, "sk-") || strings.Contains(text, "abcd") {
		t.Errorf("cut Request = %q, contains part of the token", text)
	}
	if !strings.Contains(m.Event.Note, "request cut to") {
		t.Errorf("Note = %q, want it to say the request was cut", m.Event.Note)
	}
	if got := string(m.Event.Response); got != `{"ok":true}` {
		t.Errorf("Response = %s, want it unchanged", got)
	}

	// A long run of credential characters that is no Bearer value is cut
	// at the limit, not before.
	m = conn.next(t)
	if err := json.Unmarshal(m.Event.Response, &text); err != nil {
		t.Fatalf("cut Response %s is not a JSON string: %v", m.Event.Response, err)
	}
	if len(text) != 64 {
		t.Errorf("cut Response = %q (%d bytes), want the first 64 bytes", text, len(text))
	}
}

type recordSink struct {
	mu     sync.Mutex
	events []string
}

func (r *recordSink) Publish(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev.Method)
}

func TestTee(t *testing.T) {
	if s := Tee(nil, nil); s != nil {
		t.Errorf("Tee(nil, nil) = %v, want nil", s)
	}
	one := &recordSink{}
	if s := Tee(nil, one); s != one {
		t.Errorf("Tee(nil, one) = %v, want one itself", s)
	}
	a, b := &recordSink{}, &recordSink{}
	Tee(a, nil, b).Publish(methodEvent("ping"))
	for name, s := range map[string]*recordSink{"a": a, "b": b} {
		if diff := cmp.Diff([]string{"ping"}, s.events); diff != "" {
			t.Errorf("sink %s events (-want +got):\n%s", name, diff)
		}
	}
}
