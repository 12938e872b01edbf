// Package jsonrpc frames and classifies newline-delimited JSON-RPC 2.0
// messages on raw bytes, as the MCP stdio transport carries them. Messages are
// never decoded into Go values, so ids, unknown fields and numbers of any size
// cross unchanged.
//
//	r := jsonrpc.NewReader(os.Stdin, 64<<20)
//	w := jsonrpc.NewWriter(os.Stdout)
//	for {
//		f, err := r.Read()
//		if err != nil {
//			break // io.EOF at the end of the stream
//		}
//		h, err := jsonrpc.Classify(f.Data)
//		if err != nil {
//			w.Write(jsonrpc.ErrorResponse(nil, jsonrpc.CodeOf(err), err.Error(), nil))
//			continue
//		}
//		if h.Kind == jsonrpc.KindRequest && h.Method == "ping" {
//			w.Write(jsonrpc.ResultResponse(h.ID, []byte("{}")))
//		}
//	}
package jsonrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tidwall/gjson"
)

// Standard JSON-RPC 2.0 error codes.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603
)

// Error is a JSON-RPC error: a code and a message, with optional data that
// is encoded as JSON.
type Error struct {
	// Code is the JSON-RPC error code.
	Code int
	// Message is the error message.
	Message string
	// Data is encoded as the error's data member; nil omits it.
	Data any
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// CodeOf returns the code of the first *Error in err's chain, or
// CodeInternalError when there is none.
func CodeOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternalError
}

// Kind is the type of a message, determined by the members it has.
type Kind int

// The kinds of valid messages.
const (
	// KindRequest has a method and an id.
	KindRequest Kind = iota + 1
	// KindNotification has a method and no id.
	KindNotification
	// KindResponse has an id and a result or an error, and no method.
	KindResponse
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindNotification:
		return "notification"
	case KindResponse:
		return "response"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Header is the summary of a message that Classify reads without decoding
// the message.
type Header struct {
	// Kind is the message's kind.
	Kind Kind
	// ID is the raw JSON of the id member exactly as it appears in the
	// message (a string with its quotes, a number, or null), or nil when
	// the message has none.
	ID []byte
	// IDOffset is the byte offset of ID in the message; it is meaningful
	// only when ID is not nil.
	IDOffset int
	// Method is the decoded method, or "" for a response.
	Method string
	// IsError reports whether a response has an error member.
	IsError bool
}

// Classify validates msg as one JSON-RPC message and returns its header.
// Invalid JSON is rejected with CodeParseError. A batch (a JSON array) is
// rejected with CodeInvalidRequest, because MCP 2025-06-18 removed batching.
// Anything else that is not a request, notification or response is rejected
// with CodeInvalidRequest too, as is a jsonrpc, id, method, params, result
// or error member that appears twice. The returned error is an *Error, and the
// header returned with it carries the id when one could be read.
func Classify(msg []byte) (Header, error) {
	trimmed := bytes.TrimLeft(msg, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' && gjson.ValidBytes(msg) {
		return Header{}, &Error{Code: CodeInvalidRequest, Message: "batch requests are not supported: send one JSON-RPC message per line"}
	}
	if !gjson.ValidBytes(msg) {
		return Header{}, &Error{Code: CodeParseError, Message: "parse error: the line is not valid JSON"}
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Header{}, &Error{Code: CodeInvalidRequest, Message: "invalid request: a JSON-RPC message must be a JSON object"}
	}

	var h Header
	var method []byte
	var hasMethod, hasResult bool
	// seen has a bit per member of the JSON-RPC object, so that a second
	// "id" cannot silently replace the first. Other members are not checked.
	var seen uint8
	duplicate := ""
	eachMember(msg, func(key []byte, start, end int) {
		name := memberName(key)
		if bit := memberBit(name); bit != 0 {
			if seen&bit != 0 && duplicate == "" {
				duplicate = name
			}
			seen |= bit
		}
		switch name {
		case "id":
			h.ID = bytes.Clone(msg[start:end])
			h.IDOffset = start
		case "method":
			method, hasMethod = msg[start:end], true
		case "result":
			hasResult = true
		case "error":
			hasResult = true
			h.IsError = true
		}
	})

	if duplicate != "" {
		return Header{}, &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("invalid request: the member %q appears more than once: send each member once", duplicate)}
	}
	if h.ID != nil {
		if !validID(h.ID) {
			return Header{}, &Error{Code: CodeInvalidRequest, Message: "invalid request: the id must be a string, a number or null"}
		}
		if h.IDOffset <= 0 || !bytes.Equal(msg[h.IDOffset:h.IDOffset+len(h.ID)], h.ID) {
			return Header{}, &Error{Code: CodeInvalidRequest, Message: "invalid request: the id could not be located"}
		}
	}
	switch {
	case hasMethod:
		name, ok := decodeString(method)
		if !ok {
			return Header{ID: h.ID, IDOffset: h.IDOffset}, &Error{Code: CodeInvalidRequest, Message: "invalid request: the method must be a string"}
		}
		h.Method = name
		h.Kind = KindNotification
		if h.ID != nil {
			h.Kind = KindRequest
		}
		h.IsError = false
	case hasResult && h.ID != nil:
		h.Kind = KindResponse
	default:
		return h, &Error{Code: CodeInvalidRequest, Message: "invalid request: the message has neither a method nor a result or error"}
	}
	return h, nil
}

// memberBit returns the bit of a JSON-RPC object member for Classify's
// duplicate check, or 0 for another member.
func memberBit(name string) uint8 {
	switch name {
	case "jsonrpc":
		return 1
	case "id":
		return 2
	case "method":
		return 4
	case "params":
		return 8
	case "result":
		return 16
	case "error":
		return 32
	}
	return 0
}

// eachMember calls visit with the raw key and the value's byte range of
// each top-level member of the JSON object msg, which must be valid JSON.
func eachMember(msg []byte, visit func(key []byte, start, end int)) {
	i := skipSpace(msg, 0)
	if i >= len(msg) || msg[i] != '{' {
		return
	}
	i++
	for {
		i = skipSpace(msg, i)
		if i >= len(msg) || msg[i] != '"' {
			return // the closing brace of an empty object
		}
		keyEnd := skipString(msg, i)
		key := msg[i+1 : keyEnd-1]
		i = skipSpace(msg, keyEnd) + 1 // past the colon
		start := skipSpace(msg, i)
		end := skipValue(msg, start)
		visit(key, start, end)
		i = skipSpace(msg, end)
		if i >= len(msg) || msg[i] != ',' {
			return
		}
		i++
	}
}

func skipSpace(msg []byte, i int) int {
	for i < len(msg) && isSpace(msg[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at msg[i].
func skipString(msg []byte, i int) int {
	i++
	for {
		j := bytes.IndexByte(msg[i:], '"')
		if j < 0 {
			return len(msg)
		}
		i += j
		// The quote is escaped if an odd number of backslashes precede it.
		n := 0
		for k := i - 1; k >= 0 && msg[k] == '\\'; k-- {
			n++
		}
		i++
		if n%2 == 0 {
			return i
		}
	}
}

// skipValue returns the index after the value that starts at msg[i].
func skipValue(msg []byte, i int) int {
	switch msg[i] {
	case '"':
		return skipString(msg, i)
	case '{', '[':
		depth := 0
		for i < len(msg) {
			switch msg[i] {
			case '"':
				i = skipString(msg, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(msg) && !isSpace(msg[i]) && msg[i] != ',' && msg[i] != '}' && msg[i] != ']' {
		i++
	}
	return i
}

// memberName returns a raw key decoded, decoding escapes only when there
// are any.
func memberName(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	name, _ := decodeString(append(append([]byte{'"'}, raw...), '"'))
	return name
}

// decodeString decodes a raw JSON string, reporting false for any other
// value.
func decodeString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// validID reports whether raw is a JSON string, number or null.
func validID(raw []byte) bool {
	switch raw[0] {
	case '"', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return true
	}
	return false
}

// ReplaceID returns msg with the id member's value replaced by id, as the
// three parts to write one after the other. The parts alias msg and id;
// nothing is copied. h must be msg's header and h.ID must not be nil.
func ReplaceID(msg []byte, h Header, id []byte) [3][]byte {
	return [3][]byte{msg[:h.IDOffset], id, msg[h.IDOffset+len(h.ID):]}
}

// ResultResponse returns a response with the given raw id and raw result.
func ResultResponse(id, result []byte) []byte {
	b := make([]byte, 0, len(id)+len(result)+32)
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, idOrNull(id)...)
	b = append(b, `,"result":`...)
	b = append(b, result...)
	return append(b, '}')
}

// ErrorResponse returns an error response with the given raw id; a nil id is
// written as null. data is encoded with encoding/json without HTML escaping,
// and omitted when nil or when it cannot be encoded.
func ErrorResponse(id []byte, code int, message string, data any) []byte {
	type errorObject struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}
	type response struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   errorObject     `json:"error"`
	}
	r := response{JSONRPC: "2.0", ID: idOrNull(id), Error: errorObject{Code: code, Message: message, Data: data}}
	b, err := marshal(r)
	if err != nil {
		r.Error.Data = nil
		b, _ = marshal(r)
	}
	return b
}

// Marshal encodes v as compact JSON without HTML escaping and without a
// trailing newline.
func Marshal(v any) ([]byte, error) {
	return marshal(v)
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func idOrNull(id []byte) []byte {
	if id == nil {
		return []byte("null")
	}
	return id
}

// StripLineBreaks returns msg without CR and LF bytes. In valid JSON those
// bytes can only be insignificant whitespace, because a string may not
// contain them unescaped, so the result is the same JSON value on one line.
// It returns msg itself when there is nothing to strip.
func StripLineBreaks(msg []byte) []byte {
	if bytes.IndexByte(msg, '\n') < 0 && bytes.IndexByte(msg, '\r') < 0 {
		return msg
	}
	out := make([]byte, 0, len(msg))
	for _, c := range msg {
		if c != '\n' && c != '\r' {
			out = append(out, c)
		}
	}
	return out
}
