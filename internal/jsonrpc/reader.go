package jsonrpc

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// readBufferSize is the size of the Reader's buffer: the capacity of a pipe
// on Linux, so one read system call usually fills it.
const readBufferSize = 64 << 10

// Frame is one message line read by a [Reader].
type Frame struct {
	// Data is the line without its line ending (LF or CRLF). It is nil when
	// the line was longer than the Reader's maximum. The Reader never
	// reuses it.
	Data []byte
	// Size is the length of the line in bytes without its line ending.
	Size int64
	// TooLong reports that the line exceeded the maximum message size and
	// was discarded.
	TooLong bool
	// ID is, for a line that was too long, the raw JSON of its top-level id
	// when one was found, or nil.
	ID []byte
	// HasMethod and HasResult report, for a line that was too long, whether
	// a top-level method, or a top-level result or error, was seen.
	HasMethod, HasResult bool
}

// Reader reads newline-delimited messages. It accepts LF and CRLF line
// endings, skips lines that hold only whitespace, and returns an unterminated
// last line at the end of the stream. A line longer than the maximum is
// discarded while it streams past, so it never occupies more than the
// maximum in memory, and reading resumes at the next line.
type Reader struct {
	br  *bufio.Reader
	max int64
}

// NewReader returns a Reader of r that accepts lines of at most max bytes,
// not counting the line ending. max must be positive.
func NewReader(r io.Reader, max int64) *Reader {
	if max <= 0 {
		panic("jsonrpc: NewReader with a non-positive maximum message size")
	}
	return &Reader{br: bufio.NewReaderSize(r, readBufferSize), max: max}
}

// Read returns the next non-blank line. At the end of the stream it returns
// io.EOF; any other error is the underlying reader's.
func (r *Reader) Read() (Frame, error) {
	for {
		f, err := r.readLine()
		if err != nil {
			return Frame{}, err
		}
		if f.TooLong || !isBlank(f.Data) {
			return f, nil
		}
	}
}

// readLine reads one line, blank or not.
func (r *Reader) readLine() (Frame, error) {
	var chunks [][]byte
	var size int64 // bytes of the line read so far, line ending included
	for {
		chunk, err := r.br.ReadSlice('\n')
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			if len(chunk) == 0 && len(chunks) == 0 {
				return Frame{}, io.EOF
			}
		default:
			return Frame{}, err
		}
		size += int64(len(chunk))

		// Until its end is seen, a line may still end in CRLF, so it is
		// known to be too long once it passes the maximum by two bytes.
		if size > r.max+2 {
			return r.discard(chunks, chunk, err)
		}
		chunks = append(chunks, bytes.Clone(chunk))
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}

		line := trimEOL(join(chunks, size))
		if int64(len(line)) > r.max {
			var s idScanner
			s.write(line)
			return s.frame(int64(len(line))), nil
		}
		return Frame{Data: line, Size: int64(len(line))}, nil
	}
}

// discard skips the rest of a line that is too long, scanning it for its
// top-level members, and returns a Frame that describes it.
func (r *Reader) discard(chunks [][]byte, chunk []byte, err error) (Frame, error) {
	var s idScanner
	var size int64
	var last, beforeLast byte
	consume := func(p []byte) {
		s.write(p)
		size += int64(len(p))
		for _, c := range p[max(0, len(p)-2):] {
			beforeLast, last = last, c
		}
	}
	for _, c := range chunks {
		consume(c)
	}
	consume(chunk)
	for errors.Is(err, bufio.ErrBufferFull) {
		chunk, err = r.br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, io.EOF) {
			return Frame{}, err
		}
		consume(chunk)
	}
	// Like trimEOL: an LF, a CRLF, or a CR that ends the stream.
	switch {
	case last == '\n' && beforeLast == '\r':
		size -= 2
	case last == '\n', last == '\r':
		size--
	}
	return s.frame(size), nil
}

func join(chunks [][]byte, size int64) []byte {
	if len(chunks) == 1 {
		return chunks[0]
	}
	out := make([]byte, 0, size)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out
}

func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

func isBlank(line []byte) bool {
	for _, c := range line {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// maxScannedID is the longest id the scanner keeps; a longer one is
// treated as absent.
const maxScannedID = 1024

// idScanner finds the top-level id, method and result or error members of
// a JSON object that streams past in pieces, keeping only the id. It does not
// validate the JSON; on malformed input it may report nothing.
type idScanner struct {
	depth    int
	inString bool
	escape   bool
	// state is the scanner's position in the top-level object.
	state scanState
	// key holds the first bytes of the top-level key being read, and
	// keyLen its full length so far.
	key    [8]byte
	keyLen int
	// current is the top-level key whose value is being read.
	current string
	// value collects the id's raw value while it is read.
	value     []byte
	found     []byte
	overflow  bool
	hasMethod bool
	hasResult bool
}

type scanState int

const (
	scanStart       scanState = iota // before the opening brace
	scanExpectKey                    // after '{' or ','
	scanInKey                        // inside a top-level key string
	scanExpectColon                  // after a key
	scanExpectValue                  // after ':'
	scanInValue                      // inside a top-level value
	scanDone                         // after the closing brace, or on malformed input
)

func (s *idScanner) write(p []byte) {
	for _, c := range p {
		if s.state == scanDone {
			return
		}
		s.step(c)
	}
}

func (s *idScanner) step(c byte) {
	if s.inString {
		s.stringByte(c)
		return
	}
	switch s.state {
	case scanStart:
		if c == '{' {
			s.depth = 1
			s.state = scanExpectKey
		} else if !isSpace(c) {
			s.state = scanDone
		}
	case scanExpectKey:
		switch {
		case c == '"':
			s.inString, s.keyLen = true, 0
			s.state = scanInKey
		case c == '}':
			s.state = scanDone
		case !isSpace(c):
			s.state = scanDone
		}
	case scanExpectColon:
		if c == ':' {
			s.current = s.keyName()
			s.state = scanExpectValue
		} else if !isSpace(c) {
			s.state = scanDone
		}
	case scanExpectValue:
		if isSpace(c) {
			return
		}
		s.state = scanInValue
		s.value = s.value[:0]
		s.overflow = false
		s.valueByte(c)
	case scanInValue:
		s.valueByte(c)
	}
}

// stringByte handles a byte inside a string, a key or a value.
func (s *idScanner) stringByte(c byte) {
	if s.state == scanInKey {
		switch {
		case s.escape:
			s.escape = false
			s.keyLen = len(s.key) + 1 // escaped keys never match
		case c == '\\':
			s.escape = true
		case c == '"':
			s.inString = false
			s.state = scanExpectColon
		default:
			if s.keyLen < len(s.key) {
				s.key[s.keyLen] = c
			}
			s.keyLen++
		}
		return
	}
	s.keep(c)
	switch {
	case s.escape:
		s.escape = false
	case c == '\\':
		s.escape = true
	case c == '"':
		s.inString = false
		if s.depth == 1 {
			s.endValue()
		}
	}
}

// valueByte handles a byte of a top-level value outside any string.
func (s *idScanner) valueByte(c byte) {
	switch c {
	case '"':
		s.keep(c)
		s.inString = true
	case '{', '[':
		s.depth++
		s.overflow = true // an object or array is not a valid id
	case '}', ']':
		s.depth--
		if s.depth == 0 {
			s.endValue()
			s.state = scanDone
		} else if s.depth == 1 {
			s.endValue()
			s.state = scanInValue
			s.afterValue()
		}
	case ',':
		if s.depth == 1 {
			s.endValue()
			s.state = scanExpectKey
		}
	default:
		if isSpace(c) {
			if s.depth == 1 && len(s.value) > 0 {
				s.endValue()
			}
			return
		}
		s.keep(c)
	}
}

// afterValue waits for the comma or brace after a nested value.
func (s *idScanner) afterValue() {
	s.current = ""
}

// keep appends c to the value when the value is the id's.
func (s *idScanner) keep(c byte) {
	if s.current != "id" || s.overflow {
		return
	}
	if len(s.value) >= maxScannedID {
		s.overflow = true
		return
	}
	s.value = append(s.value, c)
}

// endValue records the value of the current top-level key.
func (s *idScanner) endValue() {
	switch s.current {
	case "id":
		if !s.overflow && len(s.value) > 0 && validID(s.value) {
			s.found = bytes.Clone(s.value)
		}
	case "method":
		s.hasMethod = true
	case "result", "error":
		s.hasResult = true
	}
	s.current = ""
}

func (s *idScanner) keyName() string {
	if s.keyLen > len(s.key) {
		return ""
	}
	return string(s.key[:s.keyLen])
}

// frame returns the Frame of a discarded line of size bytes.
func (s *idScanner) frame(size int64) Frame {
	return Frame{Size: size, TooLong: true, ID: s.found, HasMethod: s.hasMethod, HasResult: s.hasResult}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}
