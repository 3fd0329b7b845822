package l7

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// engineCase is a conversation fed to the full engine (every registered
// protocol) with what the sink must see and, optionally, the Summary.
type engineCase struct {
	name    string
	port    uint16
	noSYN   bool
	segs    []seg
	want    []string
	app     App
	summary string // JSON of Flow.Summary with Summaries on; "" to skip
}

func runEngineCases(t *testing.T, cases []engineCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEngine(Config{Parser: ParserConfig{Summaries: true}})
			port := tc.port
			if port == 0 {
				port = 80
			}
			got, f := runTCP(t, e, port, tc.noSYN, tc.segs...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if tc.app != Unknown && f.App() != tc.app {
				t.Errorf("app %v, want %v", f.App(), tc.app)
			}
			if tc.summary != "" {
				b, err := json.Marshal(f.Summary())
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(canonJSON(t, tc.summary), canonJSON(t, string(b))); diff != "" {
					t.Errorf("summary (-want +got):\n%s", diff)
				}
			}
			f.Release()
		})
	}
}

func canonJSON(t testing.TB, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON %s: %v", s, err)
	}
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// bytewise splits data into one segment per byte in direction dir.
func bytewise(dir Dir, data string) []seg {
	var out []seg
	for i := range len(data) {
		out = append(out, seg{dir: dir, off: auto, data: data[i : i+1]})
	}
	return out
}

const (
	get1 = "GET /one?q=1 HTTP/1.1\r\nHost: api.example\r\nUser-Agent: curl/8.0\r\n\r\n"
	get2 = "GET /two HTTP/1.1\r\nHost: api.example\r\n\r\n"
	ok5  = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
)

func TestHTTP(t *testing.T) {
	chunked := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5;ext=1\r\nhello\r\n1A\r\n" + strings.Repeat("x", 26) + "\r\n0\r\nX-Trailer: 1\r\n\r\n"
	post := "POST /upload HTTP/1.1\r\nHost: api.example\r\nContent-Length: 11\r\n\r\nhello world"
	postChunked := "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	runEngineCases(t, []engineCase{{
		name: "keep-alive: requests, bodies and responses in order",
		segs: []seg{cseg(get1), sseg(ok5), cseg(post), sseg(chunked), cseg(postChunked + get2), sseg("HTTP/1.1 204 No Content\r\n\r\n"), sseg(ok5)},
		want: []string{
			`req http Method="GET" Host="api.example" Path="/one" UserAgent="curl/8.0"`,
			`resp http Status=200`,
			`req http Method="POST" Host="api.example" Path="/upload"`,
			`resp http Status=200`,
			`req http Method="POST" Host="h" Path="/c"`,
			`req http Method="GET" Host="api.example" Path="/two"`,
			`resp http Status=204`,
			`resp http Status=200`,
		},
		app: HTTP,
		summary: `{"http":[
			{"method":"GET","host":"api.example","path":"/one","status":200,"user_agent":"curl/8.0"},
			{"method":"POST","host":"api.example","path":"/upload","status":200},
			{"method":"POST","host":"h","path":"/c","status":204},
			{"method":"GET","host":"api.example","path":"/two","status":200}]}`,
	}, {
		name: "pipelined requests in one segment, responses in one",
		segs: []seg{cseg(get1 + get2 + get1), sseg(ok5 + ok5 + ok5)},
		want: []string{
			`req http Method="GET" Host="api.example" Path="/one" UserAgent="curl/8.0"`,
			`req http Method="GET" Host="api.example" Path="/two"`,
			`req http Method="GET" Host="api.example" Path="/one" UserAgent="curl/8.0"`,
			`resp http Status=200`, `resp http Status=200`, `resp http Status=200`,
		},
	}, {
		name: "request line split byte by byte",
		segs: bytewise(FromClient, get1+get2),
		want: []string{
			`req http Method="GET" Host="api.example" Path="/one" UserAgent="curl/8.0"`,
			`req http Method="GET" Host="api.example" Path="/two"`,
		},
	}, {
		// More bytes than the detection budget has segments (256) before
		// the version: the start of the target decides, and the server's
		// reply is not needed.
		name: "request line over 256 bytes split byte by byte, no reply",
		segs: bytewise(FromClient, "GET /"+strings.Repeat("a", 300)+" HTTP/1.1\r\nHost: api\r\n\r\n"),
		want: []string{`req http Method="GET" Host="api" Path="/` + strings.Repeat("a", 300) + `"`},
	}, {
		name: "absolute-form request line over 256 bytes split byte by byte, no reply",
		segs: bytewise(FromClient, "GET http://api/"+strings.Repeat("a", 300)+" HTTP/1.1\r\n\r\n"),
		want: []string{`req http Method="GET" Host="api" Path="/` + strings.Repeat("a", 300) + `"`},
	}, {
		name: "CONNECT to a long name split byte by byte, no reply",
		segs: bytewise(FromClient, "CONNECT "+strings.Repeat("a", 250)+".example:443 HTTP/1.1\r\n\r\n"),
		want: []string{`req http Method="CONNECT" Host="` + strings.Repeat("a", 250) + `.example"`},
	}, {
		name: "body split across segments, then the next request",
		segs: []seg{cseg(post[:len(post)-8]), cseg(post[len(post)-8:] + get2[:10]), cseg(get2[10:])},
		want: []string{
			`req http Method="POST" Host="api.example" Path="/upload"`,
			`req http Method="GET" Host="api.example" Path="/two"`,
		},
	}, {
		name: "out-of-order overlap with other bytes: the first received are kept",
		segs: []seg{
			at(FromClient, 4, "/admin HTTP/1.1\r\nHost: h\r\n\r\n"),
			at(FromClient, 0, "GET /public HTTP/1.1\r\nHost: h\r\n\r\n"),
		},
		want: []string{
			"note " + NoteConflictingOverlap,
			`req http Method="GET" Host="h" Path="/admin"`,
		},
	}, {
		name: "Host header in odd case with a port",
		segs: []seg{cseg("GET / HTTP/1.1\r\nhOsT: WWW.Example.COM.:8080\r\n\r\n")},
		want: []string{`req http Method="GET" Host="www.example.com" Path="/"`},
	}, {
		name: "IPv6 literal Host",
		segs: []seg{cseg("GET / HTTP/1.1\r\nHost: [2001:2::1]:80\r\n\r\n")},
		want: []string{`req http Method="GET" Host="2001:2::1" Path="/"`},
	}, {
		name: "absolute form overrides Host",
		segs: []seg{cseg("GET http://User@Proxy.Example:3128/x/y?z HTTP/1.1\r\nHost: other\r\n\r\n")},
		want: []string{`req http Method="GET" Host="proxy.example" Path="/x/y"`},
	}, {
		name: "path normalised",
		segs: []seg{cseg("GET /api/v1/../../%61dmin/./x%2fy%2E%2e/q?a=/.. HTTP/1.1\r\nHost: h\r\n\r\n")},
		want: []string{`req http Method="GET" Host="h" Path="/admin/x%2Fy../q"`},
	}, {
		name: "HTTP/1.0 without Host, response until close",
		segs: []seg{cseg("GET /old HTTP/1.0\r\n\r\n"), sseg("HTTP/1.0 200 OK\r\n\r\nbody until close GET / HTTP/1.1\r\n\r\n")},
		want: []string{`req http Method="GET" Path="/old"`, `resp http Status=200`},
	}, {
		name: "HEAD response has no body",
		segs: []seg{cseg("HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n" + get2), sseg("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + ok5)},
		want: []string{
			`req http Method="HEAD" Host="h" Path="/h"`,
			`req http Method="GET" Host="api.example" Path="/two"`,
			`resp http Status=200`, `resp http Status=200`,
		},
	}, {
		name: "100 Continue is interim",
		segs: []seg{cseg(post), sseg("HTTP/1.1 100 Continue\r\n\r\n"), sseg("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")},
		want: []string{`req http Method="POST" Host="api.example" Path="/upload"`, `resp http Status=201`},
	}, {
		name: "Transfer-Encoding and Content-Length together",
		segs: []seg{cseg("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + get2)},
		want: []string{
			`req http Method="POST" Host="h" Path="/"`,
			"note http: both Transfer-Encoding and Content-Length (possible request smuggling)",
			`req http Method="GET" Host="api.example" Path="/two"`,
		},
	}, {
		name: "conflicting Content-Length stops the direction",
		segs: []seg{cseg("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd" + get2)},
		want: []string{`note http: bad Content-Length "4"`},
	}, {
		name: "several Host headers",
		segs: []seg{cseg("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")},
		want: []string{"note http: several Host headers (the first is used)", `req http Method="GET" Host="a" Path="/"`},
	}, {
		name: "CONNECT tunnel",
		segs: []seg{cseg("CONNECT db.example:5432 HTTP/1.1\r\nHost: db.example:5432\r\n\r\n"), sseg("HTTP/1.1 200 OK\r\n\r\n"), cseg("\x16\x03\x01 anything"), sseg("more")},
		want: []string{
			`req http Method="CONNECT" Host="db.example"`,
			`resp http Status=200`,
			"note http: CONNECT tunnel, rest of connection not inspected",
		},
	}, {
		name: "websocket upgrade",
		segs: []seg{cseg("GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"), sseg("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello"), cseg("\x81\x85junk")},
		want: []string{
			`req http Method="GET" Host="h" Path="/ws"`,
			`resp http Status=101`,
			"note http: protocol upgrade, rest of connection not inspected",
		},
	}, {
		name:    "capture without the handshake, response seen first",
		noSYN:   true,
		segs:    []seg{cseg(ok5), sseg(get2)},
		want:    []string{`resp http Status=200`, `req http Method="GET" Host="api.example" Path="/two"`},
		summary: `{"http":[{"status":200},{"method":"GET","host":"api.example","path":"/two"}]}`,
	}, {
		name: "malformed request line",
		segs: []seg{cseg("GET /x HTTP/1.1 extra\r\n\r\n")},
		want: []string{`note http: unsupported version "HTTP/1.1 extra"`},
	}})
}

func TestDetectHTTP(t *testing.T) {
	tests := []struct {
		dir  Dir
		data string
		want Match
	}{
		{FromClient, "", NeedMore},
		{FromClient, "GE", NeedMore},
		{FromClient, "GET", NeedMore},
		{FromClient, "GET ", NeedMore},
		// The start of the target decides (a long request line sent byte
		// by byte must not outlast the detection budget).
		{FromClient, "GET /", Matched},
		{FromClient, "GET / HTTP/1", Matched},
		{FromClient, "GET / HTTP/1.1", Matched},
		{FromClient, "GET / HTTP/2.0", Matched}, // the parser refuses the version
		{FromClient, "GET http://", Matched},
		{FromClient, "GET HTTPS://", Matched},
		{FromClient, "GET http:/", NeedMore},
		{FromClient, "GET http://x/ RTSP/1.0", Matched},
		{FromClient, "GET rtsp://x/ HTTP/1.1", Matched},
		{FromClient, "GET rtsp://x/ RTSP/1.0", NoMatch},
		{FromClient, "CONNECT a", Matched},
		{FromClient, "CONNECT [2001:2::1]:443", Matched},
		{FromClient, "CONNECT api.example:443 HTTP/1.1", Matched},
		{FromClient, "CONNECT {\"verbose\":false}\r\n", NoMatch}, // NATS
		{FromClient, "CONNECT\r\naccept-version:1.2", NoMatch},   // STOMP
		{FromClient, "OPTIONS *", NeedMore},
		{FromClient, "OPTIONS * HTTP/1.1", Matched},
		{FromClient, "OPTIONS * RTSP/1.0", NoMatch},
		{FromClient, "get / HTTP/1.1", NoMatch},
		{FromClient, "GET key\r\n", NoMatch},
		{FromClient, "PRI * HTTP/2.0\r\n", NoMatch},
		{FromClient, "MKCALENDAR /c HTTP/1.1", Matched},
		{FromClient, "FOOBAR / HTTP/1.1", NoMatch},
		{FromClient, "GET  / HTTP/1.1", NoMatch},
		{FromServer, "HTTP/1.1 200 OK", Matched},
		{FromServer, "HTTP/1.1 2", NeedMore},
		{FromServer, "HTTP/1.1 OK", NoMatch},
		{FromServer, "GET / HTTP/1.1", NoMatch},
	}
	for _, tc := range tests {
		if got := detectHTTP(tc.dir, []byte(tc.data)); got != tc.want {
			t.Errorf("detectHTTP(%v, %q) = %v, want %v", tc.dir, tc.data, got, tc.want)
		}
	}
}

func TestNormPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"", ""},
		{"*", "*"},
		{"/a/b?c", "/a/b"},
		{"/a/b#frag", "/a/b"},
		{"/a/./b", "/a/b"},
		{"/a/../b", "/b"},
		{"/../../x", "/x"},
		{"/a/b/..", "/a/"},
		{"/a/.", "/a/"},
		{"/a/..", "/"},
		{"/%2e%2E/etc", "/etc"},
		{"/%7euser/%41%2f", "/~user/A%2F"},
		{"/%zz", "/%zz"},
		{"/a%", "/a%"},
		{"/a..b/.c/..d", "/a..b/.c/..d"},
		{"/a//b/../c", "/a//c"},
	}
	for _, tc := range tests {
		var scratch []byte
		if got := string(normPath([]byte(tc.in), &scratch)); got != tc.want {
			t.Errorf("normPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNormHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Example.COM", "example.com"},
		{"example.com.", "example.com"},
		{"example.com:443", "example.com"},
		{"[2001:2::1]:8080", "2001:2::1"},
		{"2001:2::1", "2001:2::1"},
		{" h ", "h"},
	}
	for _, tc := range tests {
		var scratch []byte
		if got := string(normHost([]byte(tc.in), &scratch)); got != tc.want {
			t.Errorf("normHost(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
