package inspector_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/joai-ai/joai-mcp/internal/inspector"
	"github.com/joai-ai/joai-mcp/internal/redact"
	"github.com/joai-ai/joai-mcp/mockserver"
)

// chromiumPath is Debian's chromium package, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// startChromium starts a headless Chromium with a fresh profile and returns
// a context for one tab in it. It skips the test when Chromium is missing,
// unless JOAI_REQUIRE_CHROMIUM=1 makes that a failure.
func startChromium(tb testing.TB) context.Context {
	tb.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("JOAI_REQUIRE_CHROMIUM") == "1" {
			tb.Fatalf("JOAI_REQUIRE_CHROMIUM=1 but %s is missing (%v); install it with apt-get install chromium", chromiumPath, err)
		}
		tb.Skipf("%s is missing; install it with apt-get install chromium, or set JOAI_REQUIRE_CHROMIUM=1 to fail instead", chromiumPath)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(tb.Context(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Every name resolves to nothing, so the browser reaches no host
		// but the loopback servers the test addresses by IP.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1440, 900),
	)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	tb.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// The first Run starts the browser, so it must not carry a timeout.
	// A fixed viewport keeps the layout and the screenshot the same on
	// every machine.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1440, 1100)); err != nil {
		tb.Fatalf("starting %s: %v", chromiumPath, err)
	}
	return ctx
}

// post sends one JSON-RPC message to the mock's agent endpoint and returns
// the HTTP status.
func post(tb testing.TB, url, token, body string) int {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// row is what the test reads of one table row.
type row struct {
	Seq    string   `json:"seq"`
	Class  string   `json:"class"`
	Hidden bool     `json:"hidden"`
	Cells  []string `json:"cells"`
}

const rowsJS = `[...document.querySelectorAll("#rows tr")].map(tr => ({
	seq: tr.dataset.seq, class: tr.className, hidden: tr.hidden,
	cells: [...tr.cells].map(c => c.textContent)}))`

func readRows(tb testing.TB, ctx context.Context) []row {
	tb.Helper()
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]row](rowsJS))
	if err != nil {
		tb.Fatalf("reading the rows: %v", err)
	}
	return rows
}

// visibleMethods returns the method cell of each shown row, newest first.
func visibleMethods(tb testing.TB, ctx context.Context) []string {
	tb.Helper()
	var out []string
	for _, r := range readRows(tb, ctx) {
		if !r.Hidden {
			out = append(out, r.Cells[2])
		}
	}
	return out
}

// waitJS waits until the JavaScript expression is true in the page.
func waitJS(tb testing.TB, ctx context.Context, what, expr string) {
	tb.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		tb.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

func do(tb testing.TB, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.Fatal(err)
	}
}

func evalJS[T any](tb testing.TB, ctx context.Context, expr string) T {
	tb.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// setStatusFilter picks an option of the status filter as a user would.
func setStatusFilter(tb testing.TB, ctx context.Context, value string) {
	tb.Helper()
	evalJS[chromedp.Void](tb, ctx, fmt.Sprintf(`(() => {
		const s = document.getElementById("f-status");
		s.value = %q;
		s.dispatchEvent(new Event("change", {bubbles: true}));
	})()`, value))
}

// clearInput empties a text field and fires its input event, as the
// clear button of a search field does. chromedp.Clear resets only the
// value attribute, which no longer shows once the user has typed.
func clearInput(tb testing.TB, ctx context.Context, id string) {
	tb.Helper()
	evalJS[chromedp.Void](tb, ctx, fmt.Sprintf(`(() => {
		const el = document.getElementById(%q);
		el.value = "";
		el.dispatchEvent(new Event("input", {bubbles: true}));
	})()`, id))
}

func TestInspectorPageInChromium(t *testing.T) {
	ctx := startChromium(t)

	// Four requests back to back are allowed (Burst+1), and the fifth gets
	// 429. The long window keeps the limiter state still while the test
	// reads it.
	// The events the mock publishes to its inspector also go to the log,
	// so the test can compare the page with them.
	events := &eventLog{}
	mock := mockserver.NewServer(&mockserver.Options{
		Limits: mockserver.Limits{RequestsPerMinute: 6, Burst: 3, Concurrent: 4, Window: 10 * time.Minute},
		Sink:   events,
	})
	t.Cleanup(mock.Close)
	info := mock.Info()
	agent := mock.AgentURL(info.AgentUUID)
	badToken := "joai_mock_wrong_0000000000000000000000"

	// A request made before the page opens reaches it through the replay.
	if got := post(t, agent, info.Token, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"inspector-test","version":"1"}}}`); got != http.StatusOK {
		t.Fatalf("initialize: status %d, want 200", got)
	}

	do(t, ctx, chromedp.Navigate(mock.URL+"/_mock/inspector"))
	waitJS(t, ctx, "the feed to connect", `document.getElementById("conn").textContent === "live"`)
	waitJS(t, ctx, "the replayed row", `document.querySelectorAll("#rows tr").length === 1`)
	if title := evalJS[string](t, ctx, `document.title`); title != "joai-mock · JoAi inspector" {
		t.Errorf("document.title = %q, want the hub's title", title)
	}

	// Live traffic, with the token inside a message as well as in the
	// header: the page must show neither.
	steps := []struct {
		token, body string
		want        int
	}{
		{info.Token, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, http.StatusOK},
		{info.Token, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"my header is Authorization: Bearer ` + info.Token + `"}}}`, http.StatusOK},
		{badToken, `{"jsonrpc":"2.0","id":4,"method":"tools/list"}`, http.StatusUnauthorized},
		{info.Token, `{"jsonrpc":"2.0","id":5,"method":"resources/list"}`, http.StatusOK},
		{info.Token, `{"jsonrpc":"2.0","id":6,"method":"ping"}`, http.StatusTooManyRequests},
	}
	for _, s := range steps {
		if got := post(t, agent, s.token, s.body); got != s.want {
			t.Fatalf("POST %s: status %d, want %d", s.body, got, s.want)
		}
	}
	waitJS(t, ctx, "six rows", `document.querySelectorAll("#rows tr").length === 6`)

	// Newest first, each row with its status, and only the failures marked.
	type shown struct{ Method, ID, Status, Class string }
	var got []shown
	for _, r := range readRows(t, ctx) {
		got = append(got, shown{r.Cells[2], r.Cells[3], r.Cells[4], r.Class})
	}
	want := []shown{
		{"ping", "6", "429", "limited"},
		{"resources/list", "5", "200", ""},
		{"tools/list", "4", "401", "error"},
		{"tools/call", "3", "200", ""},
		{"tools/list", "2", "200", ""},
		{"initialize", "1", "200", ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}

	// The detail view shows both messages pretty-printed, the token only
	// in redacted form.
	do(t, ctx, chromedp.Click(chromedp.CSS(`#rows tr[data-seq="3"] button`)))
	waitJS(t, ctx, "the detail view", `!document.getElementById("detail-body").hidden`)
	request := evalJS[string](t, ctx, `document.getElementById("detail-request").textContent`)
	response := evalJS[string](t, ctx, `document.getElementById("detail-response").textContent`)
	fields := evalJS[string](t, ctx, `document.getElementById("detail-fields").textContent`)
	if !strings.Contains(request, "\n  \"method\": \"tools/call\"") {
		t.Errorf("detail request is not pretty-printed JSON:\n%s", request)
	}
	if want := "Bearer " + redact.Token(info.Token); !strings.Contains(request, want) {
		t.Errorf("detail request does not show the redacted token %q:\n%s", want, request)
	}
	if !strings.Contains(response, "\"result\"") {
		t.Errorf("detail response does not show the result:\n%s", response)
	}
	if !strings.Contains(fields, redact.Token(info.Token)) {
		t.Errorf("detail fields %q do not show the redacted token", fields)
	}
	assertNoTokens(t, ctx, info.Token, badToken)

	// The rate-limit panel shows the token's last reported state, with the
	// wait after the 429.
	rl := events.lastRateLimit(redact.Token(info.Token))
	if rl == nil {
		t.Fatal("the mock reported no rate-limit state for the token")
	}
	limitRows := evalJS[[][]string](t, ctx, `[...document.querySelectorAll("#limit-rows tr")].map(tr => [...tr.cells].map(c => c.textContent))`)
	if len(limitRows) != 1 || len(limitRows[0]) != 4 {
		t.Fatalf("rate-limit rows = %q, want one row of 4 cells", limitRows)
	}
	wantCells := []string{
		redact.Token(info.Token),
		fmt.Sprintf("%d of %d", rl.Remaining, rl.Limit),
		fmt.Sprintf("%d of %d", rl.InFlight, rl.MaxInFlight),
	}
	if diff := cmp.Diff(wantCells, limitRows[0][:3]); diff != "" {
		t.Errorf("rate-limit row (-want +got):\n%s", diff)
	}
	if rl.NextAllowed.IsZero() || !strings.HasPrefix(limitRows[0][3], "in ") {
		t.Errorf("after a 429, next allowed %v is shown as %q, want a wait starting with \"in \"", rl.NextAllowed, limitRows[0][3])
	}

	// The chart has one bar per shown exchange, with the failures marked.
	if n := evalJS[int](t, ctx, `document.querySelectorAll("#chart rect.bar").length`); n != 6 {
		t.Errorf("chart has %d bars, want 6", n)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll("#chart rect.bar.error, #chart rect.bar.limited").length`); n != 2 {
		t.Errorf("chart has %d marked bars, want 2", n)
	}

	t.Run("filter-by-method", func(t *testing.T) {
		do(t, ctx, chromedp.SendKeys(chromedp.ID("f-method"), "tools/"))
		want := []string{"tools/list", "tools/call", "tools/list"}
		if diff := cmp.Diff(want, visibleMethods(t, ctx)); diff != "" {
			t.Errorf("shown rows (-want +got):\n%s", diff)
		}
		if n := evalJS[int](t, ctx, `document.querySelectorAll("#chart rect.bar").length`); n != 3 {
			t.Errorf("chart has %d bars for 3 shown rows", n)
		}
		clearInput(t, ctx, "f-method")
	})
	t.Run("filter-by-status", func(t *testing.T) {
		setStatusFilter(t, ctx, "error")
		if diff := cmp.Diff([]string{"ping", "tools/list"}, visibleMethods(t, ctx)); diff != "" {
			t.Errorf("errors shown (-want +got):\n%s", diff)
		}
		setStatusFilter(t, ctx, "429")
		if diff := cmp.Diff([]string{"ping"}, visibleMethods(t, ctx)); diff != "" {
			t.Errorf("429s shown (-want +got):\n%s", diff)
		}
		setStatusFilter(t, ctx, "")
	})
	t.Run("filter-by-text", func(t *testing.T) {
		// Only the tools/call request has these words; tools/list replies
		// name prompt_agent too.
		do(t, ctx, chromedp.SendKeys(chromedp.ID("f-text"), "my header"))
		if diff := cmp.Diff([]string{"tools/call"}, visibleMethods(t, ctx)); diff != "" {
			t.Errorf("shown rows (-want +got):\n%s", diff)
		}
		clearInput(t, ctx, "f-text")
		if n := len(visibleMethods(t, ctx)); n != 6 {
			t.Errorf("after clearing the filters %d rows shown, want 6", n)
		}
	})
	t.Run("pause-and-resume", func(t *testing.T) {
		do(t, ctx, chromedp.Click(chromedp.ID("pause")))
		before := events.len()
		post(t, agent, badToken, `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`)
		waitPublished(t, events, before+1)
		waitJS(t, ctx, "the paused banner", `document.getElementById("waiting").textContent.includes("1 new exchange")`)
		if n := len(readRows(t, ctx)); n != 6 {
			t.Errorf("while paused the table has %d rows, want 6", n)
		}
		do(t, ctx, chromedp.Click(chromedp.ID("pause")))
		waitJS(t, ctx, "the held row", `document.querySelectorAll("#rows tr").length === 7`)
		if banner := evalJS[bool](t, ctx, `document.getElementById("waiting").hidden`); !banner {
			t.Error("after resume the paused banner is still shown")
		}
	})

	screenshot(t, ctx, mock, info)
}

// A page that cannot keep up is told how many events it missed, and shows
// the count.
func TestInspectorPageShowsDroppedEvents(t *testing.T) {
	ctx := startChromium(t)
	hub := inspector.NewHub(&inspector.Options{Title: "burst", ClientBuffer: 1})
	srv := httptest.NewServer(hub)
	t.Cleanup(srv.Close)
	t.Cleanup(hub.Close)

	do(t, ctx, chromedp.Navigate(srv.URL))
	waitJS(t, ctx, "the feed to connect", `document.getElementById("conn").textContent === "live"`)
	if !evalJS[bool](t, ctx, `document.getElementById("dropped").hidden`) {
		t.Error("the dropped-events banner shows before any event was dropped")
	}

	// A burst far faster than one page can take with a queue of one.
	for i := range 5000 {
		hub.Publish(inspector.Event{Time: time.Now(), Source: "test", Direction: "client→mock", Method: "ping", ID: fmt.Sprint(i), HTTPStatus: 200})
	}
	dropped := hub.Stats().Dropped
	if dropped == 0 {
		t.Fatal("the burst dropped no event; the test needs some dropped")
	}
	want := fmt.Sprintf("%d events dropped", dropped)
	waitJS(t, ctx, "the dropped-events banner", fmt.Sprintf(`document.getElementById("dropped").textContent.startsWith(%q)`, want))
	// Every event is either shown or counted; the page keeps 1000 rows.
	wantRows := min(5000-dropped, 1000)
	waitJS(t, ctx, fmt.Sprintf("%d rows besides the %d dropped", wantRows, dropped),
		fmt.Sprintf(`document.querySelectorAll("#rows tr").length === %d`, wantRows))
}

// eventLog records the events the mock publishes.
type eventLog struct {
	mu     sync.Mutex
	events []inspector.Event
}

func (l *eventLog) Publish(ev inspector.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, ev)
}

// lastRateLimit returns the rate-limit state of the last event for the
// redacted token that has one.
func (l *eventLog) lastRateLimit(token string) *inspector.RateState {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range slices.Backward(l.events) {
		if ev.Token == token && ev.RateLimit != nil {
			return ev.RateLimit
		}
	}
	return nil
}

func (l *eventLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

// waitPublished waits until the mock has published n events in all.
func waitPublished(tb testing.TB, l *eventLog, n int) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for l.len() < n {
		if time.Now().After(deadline) {
			tb.Fatalf("mock published %d events, want %d", l.len(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// assertNoTokens checks that no token appears anywhere in the page's HTML.
func assertNoTokens(tb testing.TB, ctx context.Context, tokens ...string) {
	tb.Helper()
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		tb.Fatalf("reading the page's HTML: %v", err)
	}
	for _, tok := range tokens {
		if strings.Contains(html, tok) {
			tb.Errorf("the page's HTML contains the token %s", redact.Token(tok))
		}
	}
}

// screenshot fills the page with varied traffic, shows one exchange in
// detail and saves a screenshot in the test's temporary directory, and in
// docs/inspector.png when JOAI_UPDATE_SCREENSHOT=1.
func screenshot(t *testing.T, ctx context.Context, mock *mockserver.Server, info mockserver.Info) {
	if info.OtherTeamToken != "" && info.OtherAgentUUID != "" {
		other := mock.AgentURL(info.OtherAgentUUID)
		// Injected latency gives the chart something to show.
		for method, latency := range map[string]time.Duration{
			"initialize": 12 * time.Millisecond, "resources/list": 25 * time.Millisecond,
			"resources/read": 40 * time.Millisecond, "tools/call": 18 * time.Millisecond,
		} {
			mock.AddFault(mockserver.Fault{Method: method, Count: 1, Latency: latency})
		}
		for _, body := range []string{
			`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"screenshot","version":"1"}}}`,
			`{"jsonrpc":"2.0","id":2,"method":"resources/list"}`,
			`{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"mcp://agent/` + info.OtherAgentUUID + `/info"}}`,
			`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"Hello from API!"}}}`,
		} {
			post(t, other, info.OtherTeamToken, body)
		}
	}
	waitJS(t, ctx, "the extra rows", `document.querySelectorAll("#rows tr").length >= 11`)
	do(t, ctx, chromedp.Click(chromedp.CSS(`#rows tr[data-seq="3"] button`)))
	assertNoTokens(t, ctx, info.Token, info.OtherTeamToken)

	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("taking the screenshot: %v", err)
	}
	paths := []string{filepath.Join(t.TempDir(), "inspector.png")}
	if os.Getenv("JOAI_UPDATE_SCREENSHOT") == "1" {
		paths = append(paths, filepath.Join("..", "..", "docs", "inspector.png"))
	}
	for _, p := range slices.Compact(paths) {
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatalf("writing the screenshot: %v", err)
		}
		t.Logf("screenshot written to %s", p)
	}
}
