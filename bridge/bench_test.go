package bridge_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/joai-ai/joai-mcp/bridge"
	"github.com/joai-ai/joai-mcp/mockserver"
)

// BenchmarkRelayToolsCall relays tools/call requests to the mock with 16 in
// flight, the load of scripts/bench-bridge's throughput run, so that
// -cpuprofile and -memprofile show the bridge's cost per request. The mock
// runs in the same process; filter its frames out of the profile.
func BenchmarkRelayToolsCall(b *testing.B) {
	const inFlight = 16
	srv := mockserver.NewServer(&mockserver.Options{Limits: mockserver.Limits{RequestsPerMinute: -1, Concurrent: -1}})
	b.Cleanup(srv.Close)
	info := srv.Info()
	br, err := bridge.New(&bridge.Options{
		URL:    srv.AgentURL(info.AgentUUID),
		Token:  bridge.StaticToken{Value: info.Token, Source: "the benchmark token"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	if err != nil {
		b.Fatalf("New() error = %v", err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := br.Run(context.Background(), inR, outW)
		outW.Close()
		done <- err
	}()
	b.Cleanup(func() {
		inW.Close()
		if err := <-done; err != nil {
			b.Errorf("Run() error = %v", err)
		}
		inR.Close()
	})
	out := bufio.NewReaderSize(outR, 1<<20)
	send := func(line string) {
		if _, err := io.WriteString(inW, line+"\n"); err != nil {
			b.Fatalf("writing to the bridge: %v", err)
		}
	}
	send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`)
	if line, err := out.ReadBytes('\n'); err != nil || !gjson.GetBytes(line, "result").Exists() {
		b.Fatalf("initialize: %v %.300s", err, line)
	}
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)

	slots := make(chan struct{}, inFlight)
	readErr := make(chan error, 1)
	b.ResetTimer()
	go func() {
		for range b.N {
			line, err := out.ReadBytes('\n')
			if err != nil {
				readErr <- err
				return
			}
			if !gjson.GetBytes(line, "result").Exists() {
				readErr <- &unexpectedLine{line: line}
				return
			}
			<-slots
		}
		readErr <- nil
	}()
	for i := range b.N {
		slots <- struct{}{}
		send(`{"jsonrpc":"2.0","id":` + strconv.Itoa(i+1) + `,"method":"tools/call","params":{"name":"prompt_agent","arguments":{"message":"Hello from API!"}}}`)
	}
	if err := <-readErr; err != nil {
		b.Fatal(err)
	}
}

type unexpectedLine struct{ line []byte }

func (e *unexpectedLine) Error() string { return "unexpected line: " + string(e.line) }
