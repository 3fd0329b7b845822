package scenario

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAppendCommand(t *testing.T) {
	got := string(AppendCommand(nil, "SET", "user:42", "", "a\r\nb"))
	want := "*4\r\n$3\r\nSET\r\n$7\r\nuser:42\r\n$0\r\n\r\n$4\r\na\r\nb\r\n"
	if got != want {
		t.Errorf("AppendCommand = %q, want %q", got, want)
	}
}

func TestReadReply(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     Reply
		str      string
	}{
		{"simple", "+PONG\r\n", Reply{Kind: '+', Str: "PONG"}, "PONG"},
		{"error", "-ERR unknown command\r\n", Reply{Kind: '-', Str: "ERR unknown command"}, "(error) ERR unknown command"},
		{"integer", ":-7\r\n", Reply{Kind: ':', Int: -7}, "(integer) -7"},
		{"bulk", "$5\r\nhe\r\no\r\n", Reply{Kind: '$', Str: "he\r\no"}, `"he\r\no"`},
		{"empty bulk", "$0\r\n\r\n", Reply{Kind: '$'}, `""`},
		{"null bulk", "$-1\r\n", Reply{Kind: '$', Nil: true}, "(nil)"},
		{"null array", "*-1\r\n", Reply{Kind: '*', Nil: true}, "(nil)"},
		{"array", "*3\r\n:1\r\n$1\r\nx\r\n*1\r\n+OK\r\n", Reply{Kind: '*', Elems: []Reply{
			{Kind: ':', Int: 1}, {Kind: '$', Str: "x"}, {Kind: '*', Elems: []Reply{{Kind: '+', Str: "OK"}}},
		}}, `[(integer) 1, "x", [OK]]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadReply(bufio.NewReader(strings.NewReader(tt.in)))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ReadReply(%q) (-want +got):\n%s", tt.in, d)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
		})
	}
}

func TestReadReplyErrors(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"eof", "", "EOF"},
		{"truncated line", "+PON", "unexpected EOF"},
		{"no CR", "+PONG\n", "does not end with CRLF"},
		{"empty line", "\r\n", "empty reply line"},
		{"unknown type", "!x\r\n", "unknown reply type"},
		{"bad integer", ":x\r\n", "bad integer"},
		{"bulk too long", "$2000000\r\n", "out of range"},
		{"bulk negative", "$-2\r\n", "out of range"},
		{"bulk short", "$5\r\nab", "bulk string of 5 bytes"},
		{"bulk no CRLF", "$2\r\nabcd", "not followed by CRLF"},
		{"array too long", "*5000\r\n", "out of range"},
		{"array element", "*2\r\n:1\r\n", "array element 1"},
		{"too deep", strings.Repeat("*1\r\n", 20) + ":1\r\n", "nested deeper"},
		{"line too long", "+" + strings.Repeat("a", 70<<10) + "\r\n", "longer than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadReply(bufio.NewReader(strings.NewReader(tt.in)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReadReply(%.40q) = %v, want an error containing %q", tt.in, err, tt.want)
			}
		})
	}
}

// FuzzReadReply checks that any input decodes or fails cleanly, and that a
// decoded reply, encoded again, decodes to the same reply.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"+PONG\r\n", "-ERR x\r\n", ":42\r\n", "$3\r\nabc\r\n", "$-1\r\n", "*2\r\n$1\r\na\r\n:1\r\n", "*-1\r\n", "*1\r\n*1\r\n+OK\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ReadReply(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		_ = r.String()
		again, err := ReadReply(bufio.NewReader(bytes.NewReader(encodeReply(nil, r))))
		if err != nil {
			t.Fatalf("re-encoded reply does not decode: %v", err)
		}
		if d := cmp.Diff(r, again); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}

// encodeReply is the server side of RESP2, for the round trip.
func encodeReply(b []byte, r Reply) []byte {
	switch {
	case r.Nil:
		return append(b, string(r.Kind)+"-1\r\n"...)
	case r.Kind == '+', r.Kind == '-':
		return append(b, string(r.Kind)+r.Str+"\r\n"...)
	case r.Kind == ':':
		return append(b, ":"+itoa(r.Int)+"\r\n"...)
	case r.Kind == '$':
		return append(b, "$"+itoa(int64(len(r.Str)))+"\r\n"+r.Str+"\r\n"...)
	}
	b = append(b, "*"+itoa(int64(len(r.Elems)))+"\r\n"...)
	for _, e := range r.Elems {
		b = encodeReply(b, e)
	}
	return b
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
