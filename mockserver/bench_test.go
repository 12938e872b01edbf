package mockserver

import (
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// benchmarkRPC posts body from 16 concurrent clients over loopback HTTP,
// through the whole stack (auth, limiter, faults, request log, events), and
// reports requests per second and the p50 and p99 latency.
func benchmarkRPC(b *testing.B, body string) {
	// The limiter stays on, with limits far above what the benchmark
	// reaches, so its cost is measured.
	s := startServer(b, &Options{Limits: Limits{RequestsPerMinute: 1 << 30, Burst: 1 << 20, Concurrent: 1 << 10}})
	in := s.Info()
	url := s.AgentURL(in.AgentUUID)
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	const clients = 16
	var (
		mu        sync.Mutex
		latencies []time.Duration
	)
	// RunParallel starts parallelism × GOMAXPROCS goroutines.
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((clients + procs - 1) / procs)
	b.ReportAllocs()
	b.ResetTimer()
	cpuStart := processCPU(b)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			t0 := time.Now()
			req, _ := http.NewRequest("POST", url, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+in.Token)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		latencies = append(latencies, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	cpu := processCPU(b) - cpuStart
	b.StopTimer()

	slices.Sort(latencies)
	if n := len(latencies); n > 0 {
		b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(latencies[n/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[n*99/100].Microseconds())/1000, "p99-ms")
		// CPU time of the whole process (clients and server) per request:
		// steadier than req/s when other programs share the cores.
		if cpu > 0 {
			b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/req")
		}
	}
}

func BenchmarkToolsList(b *testing.B) {
	benchmarkRPC(b, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
}

func BenchmarkToolsCall(b *testing.B) {
	benchmarkRPC(b, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"What is 2+2?"}}}`)
}
