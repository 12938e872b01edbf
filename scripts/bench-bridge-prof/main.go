// Command bench-bridge-prof is joai-bridge with a CPU profile, for finding
// what the bridge spends per request under scripts/bench-bridge. It runs
// the same cli.Main as cmd/joai-bridge and writes the profile of the whole
// run to the file that JOAI_BRIDGE_CPUPROFILE names when the bridge exits.
//
//	go build -o /tmp/joai-bridge-prof ./scripts/bench-bridge-prof
//	go run ./scripts/bench-bridge -bridge /tmp/joai-bridge-prof -spawns 1 \
//		-bridge-env JOAI_BRIDGE_CPUPROFILE=/tmp/bridge.prof
//	go tool pprof -top -cum /tmp/joai-bridge-prof /tmp/bridge.prof
//
// Every process the benchmark starts writes the same file, so the last one
// to exit wins: with -spawns 1 that is the bridge of the latency,
// throughput and 8 MiB runs.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/joai-ai/joai-mcp/bridge/cli"
)

func main() {
	path := os.Getenv("JOAI_BRIDGE_CPUPROFILE")
	if path == "" {
		fmt.Fprintln(os.Stderr, "bench-bridge-prof: JOAI_BRIDGE_CPUPROFILE is not set: set it to the file for the CPU profile")
		os.Exit(2)
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench-bridge-prof: creating the CPU profile %s failed: %v\n", path, err)
		os.Exit(2)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "bench-bridge-prof: starting the CPU profile failed: %v\n", err)
		os.Exit(2)
	}
	code := cli.Main(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	pprof.StopCPUProfile()
	if err := f.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "bench-bridge-prof: writing the CPU profile %s failed: %v\n", path, err)
	}
	os.Exit(code)
}
