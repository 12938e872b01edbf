#!/usr/bin/env bash
# Runs the official MCP TypeScript SDK (scripts/e2e) against joai-bridge in
# front of joai-mock, both built from this checkout, and exits non-zero if
# any check fails. Extra arguments go to joai-mock, for example --sessions
# or --sse.
set -euo pipefail

usage() {
	echo "usage: scripts/e2e.sh [JOAI-MOCK FLAGS...]" >&2
	echo "  needs go, node and npm; installs scripts/e2e/node_modules with npm ci if missing" >&2
}
case "${1:-}" in -h | --help) usage; exit 0 ;; esac

cd "$(dirname "$0")/.."
work=$(mktemp -d)
mock_pid=""
cleanup() {
	if [ -n "$mock_pid" ]; then kill "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

if [ ! -d scripts/e2e/node_modules/@modelcontextprotocol/sdk ]; then
	npm ci --prefix scripts/e2e --no-audit --no-fund --loglevel=error
fi
go build -o "$work/joai-bridge" ./cmd/joai-bridge
go build -o "$work/joai-mock" ./cmd/joai-mock

# joai-mock prints one JSON line with its URL, agent and token once it listens.
"$work/joai-mock" --listen 127.0.0.1:0 --log-level warn "$@" >"$work/info" &
mock_pid=$!
for _ in $(seq 100); do
	if [ -s "$work/info" ]; then break; fi
	if ! kill -0 "$mock_pid" 2>/dev/null; then echo "joai-mock exited before listening" >&2; exit 1; fi
	sleep 0.1
done
read -r info <"$work/info" || { echo "joai-mock printed no address within 10s" >&2; exit 1; }
field() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$info" "$1"; }
url=$(field url)
agent=$(field agent_uuid)
token=$(field token)

cd scripts/e2e
JOAI_API_TOKEN="$token" node client.mjs "$work/joai-bridge" --url "$url/mcp/agents/$agent" --log-level warn
