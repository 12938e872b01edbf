package jsonrpc

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name     string
		msg      string
		want     Header
		wantCode int
	}{
		{
			name: "request",
			msg:  `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			want: Header{Kind: KindRequest, ID: []byte("1"), IDOffset: 22, Method: "tools/list"},
		},
		{
			name: "request-big-id",
			msg:  `{"jsonrpc":"2.0","method":"ping","id":9007199254740993}`,
			want: Header{Kind: KindRequest, ID: []byte("9007199254740993"), IDOffset: 38, Method: "ping"},
		},
		{
			name: "request-string-id",
			msg:  `{"id":"a\"b","method":"m"}`,
			want: Header{Kind: KindRequest, ID: []byte(`"a\"b"`), IDOffset: 6, Method: "m"},
		},
		{
			name: "request-zero-id",
			msg:  `{"id":0,"method":"initialize"}`,
			want: Header{Kind: KindRequest, ID: []byte("0"), IDOffset: 6, Method: "initialize"},
		},
		{
			name: "notification",
			msg:  `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			want: Header{Kind: KindNotification, Method: "notifications/initialized"},
		},
		{
			name: "response-result",
			msg:  `{"jsonrpc":"2.0","id":"s-1","result":{}}`,
			want: Header{Kind: KindResponse, ID: []byte(`"s-1"`), IDOffset: 22},
		},
		{
			name: "response-error",
			msg:  `{"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"x"}}`,
			want: Header{Kind: KindResponse, ID: []byte("3"), IDOffset: 22, IsError: true},
		},
		{name: "batch", msg: `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, wantCode: CodeInvalidRequest},
		{name: "empty-batch", msg: `[]`, wantCode: CodeInvalidRequest},
		{name: "invalid-json", msg: `{"id":1,`, wantCode: CodeParseError},
		{name: "broken-array", msg: `[1,`, wantCode: CodeParseError},
		{name: "scalar", msg: `42`, wantCode: CodeInvalidRequest},
		{name: "no-method-no-result", msg: `{"id":1}`, wantCode: CodeInvalidRequest},
		{name: "result-without-id", msg: `{"result":{}}`, wantCode: CodeInvalidRequest},
		{name: "method-not-string", msg: `{"id":1,"method":5}`, wantCode: CodeInvalidRequest},
		{name: "object-id", msg: `{"id":{},"method":"m"}`, wantCode: CodeInvalidRequest},
		{name: "bool-id", msg: `{"id":true,"method":"m"}`, wantCode: CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Classify([]byte(tt.msg))
			if tt.wantCode != 0 {
				if CodeOf(err) != tt.wantCode {
					t.Fatalf("Classify(%s) error = %v (code %d), want code %d", tt.msg, err, CodeOf(err), tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("Classify(%s) error = %v", tt.msg, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Classify(%s) mismatch (-want +got):\n%s", tt.msg, diff)
			}
		})
	}
}

func TestReplaceID(t *testing.T) {
	msg := []byte(`{"jsonrpc":"2.0","id":  "host-1" ,"method":"m","params":{"id":2}}`)
	h, err := Classify(msg)
	if err != nil {
		t.Fatal(err)
	}
	parts := ReplaceID(msg, h, []byte("17"))
	got := bytes.Join(parts[:], nil)
	want := `{"jsonrpc":"2.0","id":  17 ,"method":"m","params":{"id":2}}`
	if string(got) != want {
		t.Errorf("ReplaceID() = %s, want %s", got, want)
	}
}

func TestErrorResponse(t *testing.T) {
	got := ErrorResponse([]byte(`"x"`), -32029, "rate <limited>", map[string]any{"httpStatus": 429})
	want := `{"jsonrpc":"2.0","id":"x","error":{"code":-32029,"message":"rate <limited>","data":{"httpStatus":429}}}`
	if string(got) != want {
		t.Errorf("ErrorResponse() = %s, want %s", got, want)
	}
	got = ErrorResponse(nil, CodeParseError, "parse error", nil)
	want = `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}`
	if string(got) != want {
		t.Errorf("ErrorResponse(nil id) = %s, want %s", got, want)
	}
	got = ErrorResponse([]byte("1"), -1, "m", func() {})
	want = `{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"m"}}`
	if string(got) != want {
		t.Errorf("ErrorResponse(unencodable data) = %s, want %s", got, want)
	}
}

func TestResultResponse(t *testing.T) {
	got := ResultResponse([]byte("9007199254740993"), []byte(`{}`))
	want := `{"jsonrpc":"2.0","id":9007199254740993,"result":{}}`
	if string(got) != want {
		t.Errorf("ResultResponse() = %s, want %s", got, want)
	}
}

func TestStripLineBreaks(t *testing.T) {
	in := []byte("{\r\n  \"a\": [1,\n2],\n\"b\":\"x\\ny\"\n}")
	got := StripLineBreaks(in)
	if !json.Valid(got) || bytes.ContainsAny(got, "\r\n") {
		t.Fatalf("StripLineBreaks() = %q, want one valid line", got)
	}
	var a, b any
	if err := json.Unmarshal(in, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("StripLineBreaks changed the value (-before +after):\n%s", diff)
	}
	one := []byte(`{"a":1}`)
	if got := StripLineBreaks(one); &got[0] != &one[0] {
		t.Errorf("StripLineBreaks copied a message without line breaks")
	}
}

func FuzzClassify(f *testing.F) {
	f.Add([]byte(`{"jsonrpc":"2.0","id":1,"method":"m","params":{}}`))
	f.Add([]byte(`{"id":"x","result":null}`))
	f.Add([]byte(`[{"id":1}]`))
	f.Add([]byte(`{"id":1e400,"method":"m"}`))
	f.Add([]byte("{\"a\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		h, err := Classify(msg)
		if err != nil {
			if CodeOf(err) == CodeParseError && json.Valid(msg) {
				t.Fatalf("Classify(%q) = parse error, but encoding/json accepts it", msg)
			}
			return
		}
		if !json.Valid(msg) {
			t.Fatalf("Classify(%q) accepted JSON that encoding/json rejects", msg)
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(msg, &members); err != nil {
			t.Fatalf("Classify(%q) accepted a message that is not an object: %v", msg, err)
		}
		raw, hasID := members["id"]
		if hasID != (h.ID != nil) {
			t.Fatalf("Classify(%q) ID = %q, encoding/json sees id %v", msg, h.ID, hasID)
		}
		if hasID && !bytes.Equal(bytes.TrimSpace(raw), h.ID) {
			t.Fatalf("Classify(%q) ID = %q, encoding/json id = %q", msg, h.ID, raw)
		}
		if hasID {
			parts := ReplaceID(msg, h, []byte(`"new"`))
			var replaced map[string]json.RawMessage
			if err := json.Unmarshal(bytes.Join(parts[:], nil), &replaced); err != nil || string(replaced["id"]) != `"new"` {
				t.Fatalf("ReplaceID on %q gave id %q, err %v", msg, replaced["id"], err)
			}
		}
	})
}
