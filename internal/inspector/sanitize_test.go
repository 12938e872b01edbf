package inspector

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testToken = "jt_live_4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"

func TestSanitize(t *testing.T) {
	tests := []struct {
		name string
		in   Event
		want Event
	}{
		{
			name: "bearer-in-request",
			in:   Event{Request: json.RawMessage(`{"headers":{"Authorization":"Bearer ` + testToken + `"}}`)},
			want: Event{Request: json.RawMessage(`{"headers":{"Authorization":"Bearer …6b5c"}}`)},
		},
		{
			name: "bearer-any-case-and-reuse-elsewhere",
			in: Event{
				Request:  json.RawMessage(`{"text":"use bearer ` + testToken + `"}`),
				Response: json.RawMessage(`{"echo":"` + testToken + `"}`),
				Note:     "sent " + testToken,
			},
			want: Event{
				Request:  json.RawMessage(`{"text":"use bearer …6b5c"}`),
				Response: json.RawMessage(`{"echo":"…6b5c"}`),
				Note:     "sent …6b5c",
			},
		},
		{
			name: "url-encoded-bearer-in-path",
			in:   Event{Path: "/x?auth=Bearer%20" + testToken},
			want: Event{Path: "/x?auth=Bearer%20…6b5c"},
		},
		{
			name: "short-credential-hidden-entirely",
			in:   Event{Note: "Bearer abc and abc"},
			want: Event{Note: "Bearer … and abc"},
		},
		{
			name: "already-redacted",
			in:   Event{Request: json.RawMessage(`{"a":"Bearer …6b5c"}`), Token: "…6b5c"},
			want: Event{Request: json.RawMessage(`{"a":"Bearer …6b5c"}`), Token: "…6b5c"},
		},
		{
			name: "token-field-not-redacted",
			in:   Event{Token: testToken},
			want: Event{Token: "…6b5c"},
		},
		{
			name: "no-bearer-unchanged",
			in:   Event{Method: "tools/call", ID: `"a"`, Request: json.RawMessage(`{"bearer":1}`)},
			want: Event{Method: "tools/call", ID: `"a"`, Request: json.RawMessage(`{"bearer":1}`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in
			sanitize(&got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("sanitize (-want +got):\n%s", diff)
			}
		})
	}
}

// The encoded feed message never contains the token, whatever field of
// the event carried it.
func TestEncodeEntryHidesBearerToken(t *testing.T) {
	ev := Event{
		Method:   "tools/call",
		Token:    testToken,
		Request:  json.RawMessage(`{"params":{"arguments":{"message":"Authorization: Bearer ` + testToken + `"}}}`),
		Response: json.RawMessage(`not json ` + testToken),
		Note:     "Bearer " + testToken,
	}
	b := encodeEntry(7, &ev)
	if strings.Contains(string(b), testToken) || strings.Contains(string(b), testToken[:12]) {
		t.Errorf("encoded event %s contains the token", b)
	}
	if !json.Valid(b) {
		t.Errorf("encoded event %s is not valid JSON", b)
	}
}

func TestEncodeEntryInvalidJSONBecomesText(t *testing.T) {
	ev := Event{Method: "tools/call", Request: json.RawMessage(`{"jsonrpc":`), Response: json.RawMessage("data: {}\n\n\xff")}
	b := encodeEntry(1, &ev)
	var got struct {
		Event struct {
			Request  string `json:"request"`
			Response string `json:"response"`
			Method   string `json:"method"`
		} `json:"event"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("encoded event %s does not decode with text messages: %v", b, err)
	}
	if got.Event.Request != `{"jsonrpc":` || got.Event.Response != "data: {}\n\n\uFFFD" || got.Event.Method != "tools/call" {
		t.Errorf("decoded event = %+v, want the messages as text and the method kept", got.Event)
	}
}

func TestContainsBearer(t *testing.T) {
	tests := map[string]bool{
		"": false, "bearer": true, "xxBEARER yy": true, "BeArEr": true, "bear": false,
		"b": false, "abcb": false, "bbearer": true, "…bearer": true,
	}
	for in, want := range tests {
		if got := containsBearer([]byte(in)); got != want {
			t.Errorf("containsBearer(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	tests := map[int]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 3 << 20: "3.0 MiB"}
	for n, want := range tests {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
