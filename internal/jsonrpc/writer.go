package jsonrpc

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// ErrLineBreak is returned by [Writer.Write] for a message that contains a
// CR or LF byte, which would split it across lines.
var ErrLineBreak = errors.New("jsonrpc: message contains a line break")

// coalesceLimit is the message size up to which Writer copies the parts into
// one buffer so that the message goes out in a single write.
const coalesceLimit = 64 << 10

// Writer writes messages, one per line, and is safe for concurrent use: it
// is the single owner of its stream, so lines never interleave. After a
// write fails, every later Write returns the same error.
type Writer struct {
	// mu guards w, err and buf.
	mu  sync.Mutex
	w   io.Writer
	err error
	buf []byte
}

// NewWriter returns a Writer that writes to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// Write writes the concatenation of parts followed by a newline, as one
// message. It rejects a message containing a line break with ErrLineBreak
// and writes nothing then.
func (w *Writer) Write(parts ...[]byte) error {
	total := 0
	for _, p := range parts {
		if bytes.IndexByte(p, '\n') >= 0 || bytes.IndexByte(p, '\r') >= 0 {
			return ErrLineBreak
		}
		total += len(p)
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if total < coalesceLimit {
		w.buf = w.buf[:0]
		for _, p := range parts {
			w.buf = append(w.buf, p...)
		}
		w.buf = append(w.buf, '\n')
		_, w.err = w.w.Write(w.buf)
		return w.err
	}
	for _, p := range parts {
		if _, w.err = w.w.Write(p); w.err != nil {
			return w.err
		}
	}
	_, w.err = w.w.Write([]byte{'\n'})
	return w.err
}

// Err returns the error of the first write that failed, or nil.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
