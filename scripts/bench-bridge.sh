#!/usr/bin/env bash
# Benchmarks joai-bridge against a direct HTTP client on loopback, side by
# side against the same mock server, and prints a Markdown table: spawn to
# initialize, added latency per tools/call, throughput with 16 in flight,
# an 8 MiB round trip and the bridge's peak RSS. Flags go to the benchmark
# program (scripts/bench-bridge/main.go), for example -calls 5000.
set -euo pipefail

usage() {
	echo "usage: scripts/bench-bridge.sh [-spawns N] [-calls N] [-duration D] [-in-flight N] [-big-runs N]" >&2
}
case "${1:-}" in -h | --help) usage; exit 0 ;; esac

cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go build -o "$work/joai-bridge" ./cmd/joai-bridge
go build -o "$work/bench-bridge" ./scripts/bench-bridge
"$work/bench-bridge" -bridge "$work/joai-bridge" "$@"
