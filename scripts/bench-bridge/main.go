// Command bench-bridge measures joai-bridge against a direct HTTP client on
// loopback, side by side against the same in-process mock server. It
// measures the time from spawn to the initialize response, the latency the
// bridge adds to each tools/call, the throughput with 16 requests in
// flight, an 8 MiB round trip, and the bridge's peak resident memory. It
// prints a Markdown report on stdout. Run it with scripts/bench-bridge.sh, which builds the
// bridge first.
//
//	go run ./scripts/bench-bridge -bridge /tmp/joai-bridge
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/mockserver"
)

// Targets on a 2-core machine.
const (
	targetSpawn      = 20 * time.Millisecond
	targetAddedP50   = 150 * time.Microsecond
	targetThroughput = 0.70
	targetRSS        = 25 << 20
)

func main() {
	bridgePath := flag.String("bridge", "", "path of the joai-bridge `binary` to measure (required)")
	spawns := flag.Int("spawns", 30, "number of spawn-to-initialize runs")
	calls := flag.Int("calls", 3000, "number of sequential tools/call per client for latency")
	duration := flag.Duration("duration", 3*time.Second, "length of each throughput run")
	inFlight := flag.Int("in-flight", 16, "requests in flight in the throughput runs")
	bigRuns := flag.Int("big-runs", 5, "number of 8 MiB round trips per client")
	var bridgeEnv []string
	flag.Func("bridge-env", "`KEY=VALUE` added to the bridge's environment only, such as GOGC=200; repeatable", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("%q is not KEY=VALUE", v)
		}
		bridgeEnv = append(bridgeEnv, v)
		return nil
	})
	flag.Parse()
	if *bridgePath == "" {
		fmt.Fprintln(os.Stderr, "bench-bridge: -bridge is required; run scripts/bench-bridge.sh")
		os.Exit(2)
	}
	if err := run(*bridgePath, bridgeEnv, *spawns, *calls, *duration, *inFlight, *bigRuns); err != nil {
		fmt.Fprintln(os.Stderr, "bench-bridge:", err)
		os.Exit(1)
	}
}

func run(bridgePath string, bridgeEnv []string, spawns, calls int, duration time.Duration, inFlight, bigRuns int) error {
	srv := mockserver.NewServer(&mockserver.Options{
		Limits:       mockserver.Limits{RequestsPerMinute: -1, Concurrent: -1},
		MaxBodyBytes: 32 << 20,
	})
	defer srv.Close()
	info := srv.Info()
	endpoint := srv.AgentURL(info.AgentUUID)
	direct := &directClient{url: endpoint, token: info.Token, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	args := []string{"--url", endpoint, "--log-level", "error"}
	env := append(append(os.Environ(), "JOAI_API_TOKEN="+info.Token), bridgeEnv...)

	r := report{bridge: bridgePath}
	var err error
	if r.spawn, err = measureSpawn(bridgePath, args, env, spawns); err != nil {
		return fmt.Errorf("spawn: %w", err)
	}

	b, err := startBridge(bridgePath, args, env)
	if err != nil {
		return err
	}
	defer b.close()
	if _, err := b.call(`"init"`, "initialize", `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}`); err != nil {
		return err
	}
	b.notify(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	if r.latencyDirect, r.latencyBridge, err = measureLatency(direct, b, calls); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	selfBefore := selfCPU()
	if r.tputDirect, err = throughputDirect(direct, inFlight, duration); err != nil {
		return fmt.Errorf("direct throughput: %w", err)
	}
	r.cpuDirect = perRequest(selfCPU()-selfBefore, r.tputDirect, duration)
	selfBefore, bridgeBefore := selfCPU(), processCPU(b.cmd.Process.Pid)
	if r.tputBridge, err = throughputBridge(b, inFlight, duration); err != nil {
		return fmt.Errorf("bridge throughput: %w", err)
	}
	r.cpuHarness = perRequest(selfCPU()-selfBefore, r.tputBridge, duration)
	r.cpuBridge = perRequest(processCPU(b.cmd.Process.Pid)-bridgeBefore, r.tputBridge, duration)
	r.rssSmall = peakRSS(b.cmd.Process.Pid)
	if r.bigDirect, r.bigBridge, err = measureBig(direct, b, bigRuns); err != nil {
		return fmt.Errorf("8 MiB: %w", err)
	}
	r.rssBig = peakRSS(b.cmd.Process.Pid)
	r.print(os.Stdout, spawns, calls, inFlight, duration, bigRuns)
	return nil
}

// directClient posts JSON-RPC requests to the mock itself.
type directClient struct {
	url, token string
	client     *http.Client
}

func (d *directClient) call(id, method, params string) ([]byte, error) {
	body := `{"jsonrpc":"2.0","id":` + id + `,"method":"` + method + `","params":` + params + `}`
	req, err := http.NewRequest(http.MethodPost, d.url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || !gjson.GetBytes(out, "result").Exists() {
		return nil, fmt.Errorf("direct %s: HTTP %d: %.200s", method, resp.StatusCode, out)
	}
	return out, nil
}

// bridgeProc is a running bridge with its pipes.
type bridgeProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	// mu serializes writes to stdin.
	mu sync.Mutex
}

func startBridge(path string, args, env []string) (*bridgeProc, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the bridge: %w", err)
	}
	return &bridgeProc{cmd: cmd, stdin: stdin, stdout: bufio.NewReaderSize(stdout, 1<<20)}, nil
}

func (b *bridgeProc) send(line []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, err := b.stdin.Write(line)
	return err
}

func (b *bridgeProc) notify(msg string) {
	b.send([]byte(msg + "\n"))
}

func (b *bridgeProc) recv() ([]byte, error) {
	return b.stdout.ReadBytes('\n')
}

// call sends one request and reads one line, which must be its response.
func (b *bridgeProc) call(id, method, params string) ([]byte, error) {
	if err := b.send([]byte(`{"jsonrpc":"2.0","id":` + id + `,"method":"` + method + `","params":` + params + "}\n")); err != nil {
		return nil, err
	}
	line, err := b.recv()
	if err != nil {
		return nil, err
	}
	if gjson.GetBytes(line, "id").Raw != id || !gjson.GetBytes(line, "result").Exists() {
		return nil, fmt.Errorf("bridge %s: %.300s", method, line)
	}
	return line, nil
}

func (b *bridgeProc) close() error {
	b.stdin.Close()
	return b.cmd.Wait()
}

// measureSpawn starts the bridge n times and times each from the start of
// the process to the initialize response.
func measureSpawn(path string, args, env []string, n int) ([]time.Duration, error) {
	var out []time.Duration
	for range n {
		start := time.Now()
		b, err := startBridge(path, args, env)
		if err != nil {
			return nil, err
		}
		if _, err := b.call("0", "initialize", `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}`); err != nil {
			b.close()
			return nil, err
		}
		out = append(out, time.Since(start))
		if err := b.close(); err != nil {
			return nil, fmt.Errorf("bridge exit: %w", err)
		}
	}
	return out, nil
}

const smallCall = `{"name":"prompt_agent","arguments":{"message":"Hello from API!"}}`

// measureLatency alternates direct and bridged tools/call, so both see the
// same machine load, after a warm-up.
func measureLatency(d *directClient, b *bridgeProc, n int) (direct, bridged []time.Duration, err error) {
	for i := range n + n/10 {
		id := strconv.Itoa(i + 1)
		t0 := time.Now()
		if _, err := d.call(id, "tools/call", smallCall); err != nil {
			return nil, nil, err
		}
		t1 := time.Now()
		if _, err := b.call(id, "tools/call", smallCall); err != nil {
			return nil, nil, err
		}
		t2 := time.Now()
		if i >= n/10 {
			direct = append(direct, t1.Sub(t0))
			bridged = append(bridged, t2.Sub(t1))
		}
	}
	return direct, bridged, nil
}

// throughputDirect runs inFlight clients for d and returns requests per
// second.
func throughputDirect(c *directClient, inFlight int, d time.Duration) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var total int
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for w := range inFlight {
		wg.Go(func() {
			n := 0
			for i := 0; ctx.Err() == nil; i++ {
				if _, err := c.call(strconv.Itoa(w*1_000_000+i), "tools/call", smallCall); err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				n++
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	return float64(total) / time.Since(start).Seconds(), firstErr
}

// throughputBridge keeps inFlight requests outstanding on the bridge's
// stdin for d and returns responses per second.
func throughputBridge(b *bridgeProc, inFlight int, d time.Duration) (float64, error) {
	slots := make(chan struct{}, inFlight) // one per request in flight
	due := make(chan struct{}, inFlight)   // one per response not yet read
	writerDone := make(chan struct{})
	readerDone := make(chan error, 1)
	received := 0
	start := time.Now()

	// The reader reads only responses that are due, so it never blocks on
	// a line that will not come.
	go func() {
		readOne := func() error {
			line, err := b.recv()
			if err != nil {
				return err
			}
			if !gjson.GetBytes(line, "result").Exists() {
				return fmt.Errorf("bridge throughput: %.300s", line)
			}
			received++
			<-slots
			return nil
		}
		for {
			select {
			case <-due:
				if err := readOne(); err != nil {
					readerDone <- err
					return
				}
			case <-writerDone:
				for len(due) > 0 {
					<-due
					if err := readOne(); err != nil {
						readerDone <- err
						return
					}
				}
				readerDone <- nil
				return
			}
		}
	}()

	stop := start.Add(d)
	var sendErr error
	for i := 1; time.Now().Before(stop); i++ {
		slots <- struct{}{}
		if sendErr = b.send([]byte(`{"jsonrpc":"2.0","id":"t` + strconv.Itoa(i) + `","method":"tools/call","params":` + smallCall + "}\n")); sendErr != nil {
			break
		}
		due <- struct{}{}
	}
	close(writerDone)
	if err := <-readerDone; err != nil {
		return 0, err
	}
	return float64(received) / time.Since(start).Seconds(), sendErr
}

// measureBig sends an 8 MiB message that the mock echoes back, so 8 MiB
// cross each way, and returns the round trip times.
func measureBig(d *directClient, b *bridgeProc, n int) (direct, bridged []time.Duration, err error) {
	params := `{"name":"prompt_agent","arguments":{"message":"` + strings.Repeat("x", 8<<20) + `"}}`
	for i := range n {
		id := strconv.Itoa(9_000_000 + i)
		t0 := time.Now()
		out, err := d.call(id, "tools/call", params)
		if err != nil {
			return nil, nil, err
		}
		t1 := time.Now()
		line, err := b.call(id, "tools/call", params)
		if err != nil {
			return nil, nil, err
		}
		t2 := time.Now()
		if len(line) < 8<<20 || len(out) < 8<<20 {
			return nil, nil, fmt.Errorf("the reply is %d bytes through the bridge and %d direct, want over 8 MiB", len(line), len(out))
		}
		direct = append(direct, t1.Sub(t0))
		bridged = append(bridged, t2.Sub(t1))
	}
	return direct, bridged, nil
}

// peakRSS returns the process's peak resident set size in bytes, from
// VmHWM in /proc/PID/status, or 0 where that does not exist.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// processCPU returns the CPU time process pid has used, from the utime
// and stime fields of /proc/PID/stat, or 0 where that does not exist.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

// perRequest divides cpu by the requests made at rate for d.
func perRequest(cpu time.Duration, rate float64, d time.Duration) time.Duration {
	n := rate * d.Seconds()
	if n <= 0 {
		return 0
	}
	return time.Duration(float64(cpu) / n)
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// report holds the measurements.
type report struct {
	bridge                       string
	spawn                        []time.Duration
	latencyDirect, latencyBridge []time.Duration
	tputDirect, tputBridge       float64
	cpuDirect, cpuHarness        time.Duration
	cpuBridge                    time.Duration
	bigDirect, bigBridge         []time.Duration
	rssSmall, rssBig             int64
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func (r *report) print(w io.Writer, spawns, calls, inFlight int, duration time.Duration, bigRuns int) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "Measured %s on %s/%s, %d CPUs (%s), %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), host, runtime.Version())
	fmt.Fprintln(w, "| measure | direct HTTP | through joai-bridge | added by the bridge | target | |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")

	spawnP50, spawnMax := percentile(r.spawn, 0.5), percentile(r.spawn, 1)
	fmt.Fprintf(w, "| spawn to initialize response (%d runs), p50 / max | – | %v / %v | – | ≤ %v | %s |\n", spawns, round(spawnP50), round(spawnMax), targetSpawn, met(spawnP50 <= targetSpawn))

	dp50, dp99 := percentile(r.latencyDirect, 0.5), percentile(r.latencyDirect, 0.99)
	bp50, bp99 := percentile(r.latencyBridge, 0.5), percentile(r.latencyBridge, 0.99)
	fmt.Fprintf(w, "| tools/call latency p50 (%d calls each) | %v | %v | %v | ≤ %v added | %s |\n", calls, round(dp50), round(bp50), round(bp50-dp50), targetAddedP50, met(bp50-dp50 <= targetAddedP50))
	fmt.Fprintf(w, "| tools/call latency p99 | %v | %v | %v | – | |\n", round(dp99), round(bp99), round(bp99-dp99))

	ratio := r.tputBridge / r.tputDirect
	fmt.Fprintf(w, "| throughput, %d in flight for %v | %.0f req/s | %.0f req/s | %.0f%% of direct | ≥ %.0f%% | %s |\n", inFlight, duration, r.tputDirect, r.tputBridge, 100*ratio, 100*targetThroughput, met(ratio >= targetThroughput))

	fmt.Fprintf(w, "| CPU per request in the throughput runs: benchmark process (mock and client) / bridge process | %v / – | %v / %v | – | – | |\n", round(r.cpuDirect), round(r.cpuHarness), round(r.cpuBridge))

	bd, bb := percentile(r.bigDirect, 0.5), percentile(r.bigBridge, 0.5)
	fmt.Fprintf(w, "| 8 MiB each way, median of %d | %v | %v | %v | – | |\n", bigRuns, round(bd), round(bb), round(bb-bd))

	fmt.Fprintf(w, "| bridge peak RSS (VmHWM) after the small-message runs | – | %.1f MiB | – | ≤ %d MiB | %s |\n", mib(r.rssSmall), targetRSS>>20, met(r.rssSmall > 0 && r.rssSmall <= targetRSS))
	fmt.Fprintf(w, "| bridge peak RSS (VmHWM) after the 8 MiB runs | – | %.1f MiB | – | – | |\n", mib(r.rssBig))
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func round(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond || d <= -100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond || d <= -time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
