package jsonrpc

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// chunkRecorder records each Write call separately.
type chunkRecorder struct {
	mu     sync.Mutex
	writes [][]byte
}

func (c *chunkRecorder) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func TestWriterConcurrentLinesIntact(t *testing.T) {
	var out bytes.Buffer
	var rec chunkRecorder
	w := NewWriter(&lockedWriter{w: &out, also: &rec})
	big := strings.Repeat("b", 3*coalesceLimit)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				body := fmt.Sprintf(`{"g":%d,"i":%d,"pad":"`, g, i)
				pad := "s"
				if i%10 == 0 {
					pad = big
				}
				if err := w.Write([]byte(body), []byte(pad), []byte(`"}`)); err != nil {
					t.Errorf("Write() error = %v", err)
				}
			}
		})
	}
	wg.Wait()

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 400 {
		t.Fatalf("got %d lines, want 400", len(lines))
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, `{"g":`) || !strings.HasSuffix(line, `"}`) {
			t.Fatalf("line interleaved with another: %.80q", line)
		}
	}
}

// lockedWriter writes to w, and records each write in also.
type lockedWriter struct {
	w    *bytes.Buffer
	also *chunkRecorder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.also.Write(p)
	return l.w.Write(p)
}

func TestWriterSmallMessageOneWrite(t *testing.T) {
	var rec chunkRecorder
	w := NewWriter(&rec)
	if err := w.Write([]byte(`{"a":`), []byte("1"), []byte("}")); err != nil {
		t.Fatal(err)
	}
	if len(rec.writes) != 1 || string(rec.writes[0]) != "{\"a\":1}\n" {
		t.Errorf("writes = %q, want one write of the whole line", rec.writes)
	}
}

func TestWriterRejectsLineBreak(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	for _, msg := range []string{"{\"a\":\n1}", "{}\r"} {
		if err := w.Write([]byte(msg)); !errors.Is(err, ErrLineBreak) {
			t.Errorf("Write(%q) error = %v, want ErrLineBreak", msg, err)
		}
	}
	if out.Len() != 0 {
		t.Errorf("Write wrote %q for rejected messages", out.String())
	}
	if err := w.Write([]byte("{}")); err != nil {
		t.Errorf("Write after a rejected message: %v", err)
	}
}

func TestWriterErrorSticks(t *testing.T) {
	boom := errors.New("boom")
	w := NewWriter(iotest.TruncateWriter(&failAfter{n: 1, err: boom}, 1<<20))
	if err := w.Write([]byte("{}")); err != nil {
		t.Fatalf("first Write() error = %v", err)
	}
	if err := w.Write([]byte("{}")); !errors.Is(err, boom) {
		t.Fatalf("second Write() error = %v, want %v", err, boom)
	}
	if err := w.Write([]byte("{}")); !errors.Is(err, boom) {
		t.Errorf("third Write() error = %v, want the first error again", err)
	}
	if !errors.Is(w.Err(), boom) {
		t.Errorf("Err() = %v, want %v", w.Err(), boom)
	}
}

// failAfter accepts n writes and then fails.
type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	f.n--
	return len(p), nil
}
