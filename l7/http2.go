package l7

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// HTTP/2 (RFC 9113) with prior knowledge (the client opens with the
// connection preface) or after an h2c upgrade from HTTP/1.1 (http.go), and
// gRPC over it.
//
// Header blocks (HEADERS, CONTINUATION, PUSH_PROMISE) are gathered whole
// (up to h2MaxBlock) and HPACK-decoded (hpack.go, allocation-free): every
// block is decoded, in order, to keep the dynamic table in step with the
// peers'. The table may grow to what the receiving peer allowed in its
// SETTINGS, but never beyond h2MaxTable, and header strings beyond
// h2MaxString are refused: a connection that needs more stops being
// inspected (with a note). The values the parser reports are copied from
// the block as it is decoded. Other frames are skipped as they stream by;
// only header-carrying and SETTINGS frames are buffered whole.
//
// Request: Method, Host (:authority, else host), Path (normalised),
// UserAgent; with content-type application/grpc the App is GRPC and
// GRPCService, GRPCMethod come from the path "/package.Service/Method".
// Response: Status (:status; 1xx and trailers are not reported).

func init() {
	register(&Protocol{
		App:       HTTP2,
		Transport: TCP,
		Ports:     []uint16{80, 8080, 50051},
		Detect:    detectHTTP2,
		New:       func(cfg *ParserConfig) Parser { return newHTTP2Parser(cfg) },
	})
}

const (
	h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	// h2MaxTable bounds the HPACK dynamic table per direction.
	h2MaxTable = 64 << 10
	// h2MaxString bounds one decoded header name or value.
	h2MaxString = 16 << 10
	// h2MaxBlock bounds a header block gathered over CONTINUATION frames.
	h2MaxBlock = 64 << 10
	// h2Streams is how many streams the parser remembers to pair
	// responses with requests.
	h2Streams = 64
)

// Frame types and flags.
const (
	h2Data         = 0x0
	h2Headers      = 0x1
	h2Settings     = 0x4
	h2PushPromise  = 0x5
	h2Continuation = 0x9

	h2FlagEndHeaders = 0x4
	h2FlagPadded     = 0x8
	h2FlagPriority   = 0x20
	h2FlagAck        = 0x1
)

func detectHTTP2(dir Dir, data []byte) Match {
	if dir != FromClient {
		return NoMatch
	}
	return appDetectPrefix(data, h2Preface)
}

// http2Parser is the Parser of a prior-knowledge HTTP/2 connection.
type http2Parser struct {
	log httpLog
	c   *h2Conn
}

func newHTTP2Parser(cfg *ParserConfig) *http2Parser {
	p := &http2Parser{c: newH2Conn()}
	p.Reset(cfg)
	return p
}

// Reset implements Resetter.
func (p *http2Parser) Reset(cfg *ParserConfig) {
	p.log.init(cfg)
	p.c.reset(&p.log)
}

// Parse implements Parser.
func (p *http2Parser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	return p.c.parse(dir, data, sink)
}

// Summary implements Parser.
func (p *http2Parser) Summary() any { return p.log.summary() }

// h2Side is the state of one direction.
type h2Side struct {
	dec         hpackDecoder
	prefaceLeft int    // client: preface bytes still expected
	skip        int    // bytes of the current frame still to pass over
	cont        uint32 // stream whose header block continues, 0 if none
	contPush    bool   // the continued block is a PUSH_PROMISE's
	hdr         []byte // the header block gathered so far
	blk         h2Block
}

// The header fields a block keeps (h2Block.at).
const (
	h2Method = iota
	h2Path
	h2Authority
	h2Host
	h2Status
	h2CType
	h2UA
	h2Fields
)

// h2Block collects the fields of the header block being decoded: their
// values are copied into buf, back to back.
type h2Block struct {
	buf    []byte
	at     [h2Fields]struct{ off, n int32 }
	stream uint32
	emit   bool
}

// start prepares b for a new header block, keeping its buffer.
func (b *h2Block) start(stream uint32, emit bool) {
	*b = h2Block{buf: b.buf[:0], stream: stream, emit: emit}
}

// get returns the value of field k ("" when absent). It aliases b.buf.
func (b *h2Block) get(k int) string {
	a := b.at[k]
	return bstr(b.buf[a.off : a.off+a.n])
}

type h2Stream struct {
	id   uint32
	rec  int32
	grpc bool
}

// h2Conn is an HTTP/2 connection seen from the middle.
type h2Conn struct {
	log     *httpLog
	side    [2]h2Side
	streams [h2Streams]h2Stream
	next    int // ring position for the next stream
	req     Request
	resp    Response
	scratch []byte
}

func newH2Conn() *h2Conn { return &h2Conn{} }

// reset prepares c for a new connection whose records go to log.
func (c *h2Conn) reset(log *httpLog) {
	c.log = log
	for i := range c.side {
		s := &c.side[i]
		s.prefaceLeft, s.skip, s.cont, s.contPush = 0, 0, 0, false
		s.hdr = s.hdr[:0]
		s.blk.start(0, false)
		s.dec.reset(h2MaxString)
	}
	c.side[FromClient].prefaceLeft = len(h2Preface)
	c.streams = [h2Streams]h2Stream{}
	c.next = 0
	c.scratch = c.scratch[:0]
}

// upgraded registers the h2c upgrade request (record rec) as stream 1.
func (c *h2Conn) upgraded(rec int) {
	c.remember(1, rec, false)
}

// serverUpgraded is called when the server's 101 switches it to HTTP/2.
func (c *h2Conn) serverUpgraded() {}

func (c *h2Conn) remember(id uint32, rec int, grpc bool) {
	c.streams[c.next] = h2Stream{id: id, rec: int32(rec), grpc: grpc}
	c.next = (c.next + 1) % h2Streams
}

func (c *h2Conn) lookup(id uint32) (h2Stream, bool) {
	for _, s := range c.streams {
		if s.id == id && id != 0 {
			return s, true
		}
	}
	return h2Stream{}, false
}

// field implements hpackSink: it keeps the values of the fields the
// parser reports (the last one of each name).
func (b *h2Block) field(name, value []byte) {
	if !b.emit {
		return
	}
	var k int
	switch string(name) {
	case ":method":
		k = h2Method
	case ":path":
		k = h2Path
	case ":authority":
		k = h2Authority
	case "host":
		k = h2Host
	case ":status":
		k = h2Status
	case "content-type":
		k = h2CType
	case "user-agent":
		k = h2UA
	default:
		return
	}
	b.at[k].off, b.at[k].n = int32(len(b.buf)), int32(len(value))
	b.buf = append(b.buf, value...)
}

var errH2Preface = errors.New("http2: bad connection preface")

// parse consumes frames sent in direction dir.
func (c *h2Conn) parse(dir Dir, data []byte, sink Sink) (int, error) {
	s := &c.side[dir&1]
	total := 0
	for total < len(data) {
		rest := data[total:]
		if s.prefaceLeft > 0 {
			want := h2Preface[len(h2Preface)-s.prefaceLeft:]
			n := min(len(want), len(rest))
			if string(rest[:n]) != want[:n] {
				return total, errH2Preface
			}
			s.prefaceLeft -= n
			total += n
			continue
		}
		if s.skip > 0 {
			n := min(s.skip, len(rest))
			s.skip -= n
			total += n
			continue
		}
		if len(rest) < 9 {
			break
		}
		length := int(rest[0])<<16 | int(rest[1])<<8 | int(rest[2])
		typ, flags := rest[3], rest[4]
		stream := binary.BigEndian.Uint32(rest[5:9]) & 0x7fffffff
		if s.cont != 0 && typ != h2Continuation {
			return total, errors.New("http2: header block interrupted by another frame")
		}
		switch typ {
		case h2Headers, h2PushPromise, h2Continuation, h2Settings:
			if len(rest) < 9+length {
				return total, nil // wait for the whole frame
			}
			if err := c.frame(dir, typ, flags, stream, rest[9:9+length], sink); err != nil {
				return total + 9 + length, err
			}
			total += 9 + length
		default:
			s.skip = length
			total += 9
		}
	}
	return total, nil
}

// frame handles one complete header-carrying or SETTINGS frame.
func (c *h2Conn) frame(dir Dir, typ, flags uint8, stream uint32, p []byte, sink Sink) error {
	s := &c.side[dir&1]
	switch typ {
	case h2Settings:
		if flags&h2FlagAck != 0 {
			return nil
		}
		if len(p)%6 != 0 {
			return errors.New("http2: malformed SETTINGS frame")
		}
		for ; len(p) >= 6; p = p[6:] {
			if binary.BigEndian.Uint16(p) == 0x1 { // SETTINGS_HEADER_TABLE_SIZE
				v := min(binary.BigEndian.Uint32(p[2:]), h2MaxTable)
				// What this side accepts bounds the other side's encoder.
				c.side[dir^1].dec.setAllowed(int(v))
			}
		}
		return nil
	case h2Continuation:
		if s.cont == 0 || stream != s.cont {
			return errors.New("http2: unexpected CONTINUATION frame")
		}
		return c.fragment(dir, flags, p, s.contPush, sink)
	}
	if flags&h2FlagPadded != 0 {
		if len(p) < 1 || int(p[0]) > len(p)-1 {
			return errors.New("http2: bad padding")
		}
		p = p[1 : len(p)-int(p[0])]
	}
	push := typ == h2PushPromise
	if push {
		if len(p) < 4 {
			return errors.New("http2: short PUSH_PROMISE frame")
		}
		p = p[4:]
	} else if flags&h2FlagPriority != 0 {
		if len(p) < 5 {
			return errors.New("http2: short HEADERS frame")
		}
		p = p[5:]
	}
	if stream == 0 {
		return errors.New("http2: header block on stream 0")
	}
	s.blk.start(stream, !push)
	s.hdr = s.hdr[:0]
	s.cont = stream
	return c.fragment(dir, flags, p, push, sink)
}

// fragment adds a piece of a header block, and decodes the block when it
// ends. A block in one frame is decoded in place.
func (c *h2Conn) fragment(dir Dir, flags uint8, p []byte, push bool, sink Sink) error {
	s := &c.side[dir&1]
	s.contPush = push
	block := p
	if flags&h2FlagEndHeaders == 0 || len(s.hdr) > 0 {
		if len(s.hdr)+len(p) > h2MaxBlock {
			return errors.New("http2: header block larger than 64 KiB")
		}
		s.hdr = append(s.hdr, p...)
		block = s.hdr
	}
	if flags&h2FlagEndHeaders == 0 {
		return nil
	}
	s.cont = 0
	s.hdr = s.hdr[:0]
	if err := s.dec.decode(block, &s.blk); err != nil {
		return fmt.Errorf("http2: decode header block: %w", err)
	}
	if push {
		return nil
	}
	if dir == FromClient {
		c.request(&s.blk, sink)
	} else {
		c.response(&s.blk, sink)
	}
	s.blk.start(0, false)
	return nil
}

func (c *h2Conn) request(b *h2Block, sink Sink) {
	method := b.get(h2Method)
	if method == "" {
		return // trailers
	}
	c.scratch = c.scratch[:0]
	r := &c.req
	*r = Request{App: HTTP2, Method: method, UserAgent: b.get(h2UA)}
	host := b.get(h2Authority)
	if host == "" {
		host = b.get(h2Host)
	}
	r.Host = bstr(normHost(sbytes(host), &c.scratch))
	r.Path = bstr(normPath(sbytes(b.get(h2Path)), &c.scratch))
	grpc := isGRPCContentType(b.get(h2CType))
	if grpc {
		r.App = GRPC
		r.GRPCService, r.GRPCMethod = grpcNames(r.Path)
	}
	rec := c.log.request(r, sink)
	c.remember(b.stream, rec, grpc)
	sink.Request(r)
}

func (c *h2Conn) response(b *h2Block, sink Sink) {
	st := b.get(h2Status)
	if st == "" {
		return // trailers
	}
	status, err := strconv.Atoi(st)
	if err != nil || status < 200 || status > 999 {
		return // interim (1xx) or malformed
	}
	app := HTTP2
	rec := -2
	if st, ok := c.lookup(b.stream); ok {
		rec = int(st.rec)
		if st.grpc {
			app = GRPC
		}
	}
	c.log.status(rec, status, sink)
	c.resp = Response{App: app, Status: status}
	sink.Response(&c.resp)
}

// isGRPCContentType reports whether ct is application/grpc, alone or with
// a "+format" or parameters.
func isGRPCContentType(ct string) bool {
	const g = "application/grpc"
	if !appHasPrefixFold(sbytes(ct), g) {
		return false
	}
	return len(ct) == len(g) || ct[len(g)] == '+' || ct[len(g)] == ';'
}

// grpcNames splits "/package.Service/Method".
func grpcNames(path string) (service, method string) {
	if len(path) < 4 || path[0] != '/' {
		return "", ""
	}
	i := strings.LastIndexByte(path, '/')
	if i <= 1 || i == len(path)-1 {
		return "", ""
	}
	return path[1:i], path[i+1:]
}
