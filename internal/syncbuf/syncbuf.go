// Package syncbuf provides a byte buffer that is safe for concurrent use,
// for tests that read a program's output while the program still writes it.
//
//	var stderr syncbuf.Buffer
//	logger := slog.New(slog.NewTextHandler(&stderr, nil))
//	// ... later, from the test goroutine:
//	strings.Contains(stderr.String(), "level=WARN")
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer whose Write and String may be called from
// several goroutines at once. The zero value is an empty buffer.
type Buffer struct {
	// mu guards buf.
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns a copy of what has been written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
