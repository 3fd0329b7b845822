package l7

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Writer builds one direction of an HTTP/2 connection with x/net's
// framer and HPACK encoder.
type h2Writer struct {
	buf bytes.Buffer
	fr  *http2.Framer
	enc *hpack.Encoder
	hb  bytes.Buffer
}

func newH2Writer(client bool) *h2Writer {
	w := &h2Writer{}
	if client {
		w.buf.WriteString(http2.ClientPreface)
	}
	w.fr = http2.NewFramer(&w.buf, nil)
	w.enc = hpack.NewEncoder(&w.hb)
	return w
}

// block encodes header fields (name, value pairs).
func (w *h2Writer) block(kv ...string) []byte {
	w.hb.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		_ = w.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return append([]byte(nil), w.hb.Bytes()...)
}

func (w *h2Writer) headers(stream uint32, end bool, kv ...string) {
	_ = w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: w.block(kv...), EndHeaders: true, EndStream: end})
}

// headersSplit sends a header block as HEADERS plus CONTINUATION frames,
// padded and with priority.
func (w *h2Writer) headersSplit(stream uint32, kv ...string) {
	b := w.block(kv...)
	cut := len(b) / 2
	_ = w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: b[:cut], PadLength: 3,
		Priority: http2.PriorityParam{StreamDep: 0, Weight: 15}})
	_ = w.fr.WriteContinuation(stream, true, b[cut:])
}

func (w *h2Writer) String() string { return w.buf.String() }

func TestHTTP2(t *testing.T) {
	cl := newH2Writer(true)
	_ = cl.fr.WriteSettings(http2.Setting{ID: http2.SettingHeaderTableSize, Val: 8192})
	cl.headers(1, true, ":method", "GET", ":scheme", "http", ":path", "/v2/items?x=1", ":authority", "API.Example:8080", "user-agent", "test/1")
	cl.headersSplit(3, ":method", "POST", ":scheme", "http", ":path", "/orders.v1.Orders/Create", ":authority", "orders:50051",
		"content-type", "application/grpc+proto", "te", "trailers")
	_ = cl.fr.WriteData(3, true, bytes.Repeat([]byte{0}, 300))
	cl.headers(5, true, ":method", "GET", ":scheme", "http", ":path", "/v2/items", ":authority", "api.example:8080", "user-agent", "test/1")
	sv := newH2Writer(false)
	_ = sv.fr.WriteSettings()
	_ = sv.fr.WriteSettingsAck()
	sv.headers(3, false, ":status", "200", "content-type", "application/grpc")
	_ = sv.fr.WriteData(3, false, []byte("\x00\x00\x00\x00\x00"))
	sv.headers(3, true, "grpc-status", "0")
	sv.headers(1, false, ":status", "404")
	_ = sv.fr.WriteData(1, true, bytes.Repeat([]byte("x"), 5000))
	sv.headers(5, true, ":status", "100")
	sv.headers(5, true, ":status", "204")
	want := []string{
		`req http2 Method="GET" Host="api.example" Path="/v2/items" UserAgent="test/1"`,
		`req grpc Method="POST" Host="orders" Path="/orders.v1.Orders/Create" GRPCService="orders.v1.Orders" GRPCMethod="Create"`,
		`req http2 Method="GET" Host="api.example" Path="/v2/items" UserAgent="test/1"`,
		`resp grpc Status=200`,
		`resp http2 Status=404`,
		`resp http2 Status=204`,
	}
	summary := `{"http":[
		{"method":"GET","host":"api.example","path":"/v2/items","status":404,"user_agent":"test/1"},
		{"method":"POST","host":"orders","path":"/orders.v1.Orders/Create","status":200},
		{"method":"GET","host":"api.example","path":"/v2/items","status":204,"user_agent":"test/1"}],
		"grpc":[{"service":"orders.v1.Orders","method":"Create"}]}`
	// Each request and response carries its own app; the flow's app becomes
	// grpc at the first gRPC call and stays so.
	runEngineCases(t, []engineCase{{
		name: "requests and responses", segs: []seg{cseg(cl.String()), sseg(sv.String())},
		want: want, app: GRPC, summary: summary,
	}, {
		name: "byte by byte", segs: append(bytewise(FromClient, cl.String()), bytewise(FromServer, sv.String())...),
		want: want, app: GRPC, summary: summary,
	}})
}

// h2cUpgrade is an h2c upgrade in four pieces: the client's HTTP/1.1
// request asking for it, the server's 101 with its SETTINGS and its answer
// on stream 1, the client's preface, SETTINGS and a request on stream 3,
// and the server's answer on stream 3.
func h2cUpgrade() (up, switched, client, second string) {
	up = "GET /first HTTP/1.1\r\nHost: up.example\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
	cl := newH2Writer(true)
	_ = cl.fr.WriteSettings()
	cl.headers(3, true, ":method", "GET", ":scheme", "http", ":path", "/second", ":authority", "up.example")
	sv := newH2Writer(false)
	_ = sv.fr.WriteSettings()
	sv.headers(1, true, ":status", "200")
	first := sv.String()
	sv.headers(3, true, ":status", "200")
	return up, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n" + first, cl.String(), sv.String()[len(first):]
}

func TestH2CUpgrade(t *testing.T) {
	up, switched, client, second := h2cUpgrade()
	runEngineCases(t, []engineCase{{
		name: "h2c upgrade",
		segs: []seg{cseg(up), sseg(switched), cseg(client), sseg(second)},
		want: []string{
			`req http Method="GET" Host="up.example" Path="/first"`,
			`resp http Status=101`,
			`resp http2 Status=200`,
			`req http2 Method="GET" Host="up.example" Path="/second"`,
			`resp http2 Status=200`,
		},
		app: HTTP2,
		summary: `{"http":[{"method":"GET","host":"up.example","path":"/first","status":200},
			{"method":"GET","host":"up.example","path":"/second","status":200}]}`,
	}, {
		name: "h2c upgrade declined",
		segs: []seg{cseg(up), sseg("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), cseg(get2)},
		want: []string{
			`req http Method="GET" Host="up.example" Path="/first"`,
			`resp http Status=200`,
			`req http Method="GET" Host="api.example" Path="/two"`,
		},
		app: HTTP,
	}})
}

func TestHTTP2Bounds(t *testing.T) {
	// A dynamic table size update beyond what SETTINGS allowed.
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	enc.SetMaxDynamicTableSizeLimit(1 << 20)
	enc.SetMaxDynamicTableSize(1 << 20)
	_ = enc.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"})
	var buf bytes.Buffer
	buf.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&buf, nil)
	_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true})
	// A header block interrupted by another frame.
	var bad bytes.Buffer
	bad.WriteString(http2.ClientPreface)
	fr2 := http2.NewFramer(&bad, nil)
	_ = fr2.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82}})
	_ = fr2.WritePing(false, [8]byte{})
	// A huge string.
	long := newH2Writer(true)
	long.headers(1, true, ":method", "GET", ":path", "/"+string(bytes.Repeat([]byte("a"), h2MaxString+10)))
	runEngineCases(t, []engineCase{{
		name: "table size beyond the bound",
		segs: []seg{cseg(buf.String())},
		want: []string{"note http2: decode header block: hpack: dynamic table size update to 1048576, beyond the 4096 allowed"},
	}, {
		name: "interrupted header block",
		segs: []seg{cseg(bad.String())},
		want: []string{"note http2: header block interrupted by another frame"},
	}, {
		name: "string beyond the bound",
		segs: []seg{cseg(long.String())},
		want: []string{"note http2: decode header block: hpack: string too long"},
	}, {
		name: "bad preface",
		segs: []seg{cseg("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), cseg("garbage")},
	}})
}

func TestGRPCNames(t *testing.T) {
	tests := []struct{ path, svc, method string }{
		{"/pkg.Svc/Method", "pkg.Svc", "Method"},
		{"/a.b.c.Svc/M", "a.b.c.Svc", "M"},
		{"/Svc/", "", ""},
		{"//M", "", ""},
		{"/x", "", ""},
		{"nopath", "", ""},
	}
	for _, tc := range tests {
		if s, m := grpcNames(tc.path); s != tc.svc || m != tc.method {
			t.Errorf("grpcNames(%q) = %q, %q", tc.path, s, m)
		}
	}
	for ct, want := range map[string]bool{
		"application/grpc": true, "application/grpc+proto": true, "application/grpc;charset=x": true,
		"Application/GRPC": true, "application/grpc-web": false, "application/json": false, "": false,
	} {
		if got := isGRPCContentType(ct); got != want {
			t.Errorf("isGRPCContentType(%q) = %v", ct, got)
		}
	}
}

// TestHTTP2Reuse: a pooled HTTP/2 parser starts its next connection with
// an empty HPACK table and no half-gathered header block.
func TestHTTP2Reuse(t *testing.T) {
	first := newH2Writer(true)
	first.headers(1, true, ":method", "GET", ":path", "/a", ":authority", "one.example", "x-big", "indexed-value")
	// A header block left unfinished: HEADERS without END_HEADERS.
	_ = first.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: first.block(":method", "GET", ":path", "/half")})
	second := newH2Writer(true)
	second.headers(1, true, ":method", "GET", ":path", "/b", ":authority", "two.example")
	p := newHTTP2Parser(&ParserConfig{})
	sink := &textSink{}
	if _, err := p.Parse(FromClient, []byte(first.String()), sink); err != nil {
		t.Fatal(err)
	}
	if s := &p.c.side[FromClient]; s.cont != 3 || len(s.hdr) == 0 || len(s.dec.ents) == 0 {
		t.Fatalf("after the first connection: cont %d, %d block bytes, %d table entries", s.cont, len(s.hdr), len(s.dec.ents))
	}
	p.Reset(&ParserConfig{})
	sink.lines = nil
	if _, err := p.Parse(FromClient, []byte(second.String()), sink); err != nil {
		t.Fatal(err)
	}
	want := []string{`req http2 Method="GET" Host="two.example" Path="/b"`}
	if len(sink.lines) != 1 || sink.lines[0] != want[0] {
		t.Errorf("after reuse: %q, want %q", sink.lines, want)
	}
}
