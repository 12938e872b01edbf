#!/usr/bin/env bash
# The project's test command: formatting, vet, and every test under the race
# detector. Tests that need Node or Chromium skip when those are missing,
# unless JOAI_REQUIRE_E2E=1 or JOAI_REQUIRE_CHROMIUM=1 is set.
set -euo pipefail
cd "$(dirname "$0")/.."

unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
	echo "gofmt would change these files:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
go test -race -count=1 ./...
