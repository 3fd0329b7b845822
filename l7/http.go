package l7

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// HTTP/1.0 and HTTP/1.1 (RFC 9112).
//
// Every request of a keep-alive or pipelined connection is reported when its
// header block is complete; bodies are skipped as they stream by
// (Content-Length, chunked with trailers, or until close for a response
// with neither), so the next message is found without buffering the body.
// Responses pair with requests in order (pipelining); a response to HEAD,
// 1xx, 204 and 304 has no body. A CONNECT answered 2xx, or a 101 to an
// Upgrade other than h2c, makes the rest of the connection opaque. A 101 to
// "Upgrade: h2c" switches both directions to HTTP/2 (http2.go), whose
// requests are reported with App HTTP2 (or GRPC).
//
// Request: Method, Host (from the Host header, or an absolute-form target,
// normalised), Path (normalised, see Request), UserAgent.
// Response: Status.

func init() {
	register(&Protocol{
		App:       HTTP,
		Transport: TCP,
		Ports:     []uint16{80, 8080, 8000, 8008, 8081, 8888, 3128},
		Detect:    detectHTTP,
		New:       func(cfg *ParserConfig) Parser { return newHTTPParser(cfg) },
	})
}

// httpMethods are the methods detection accepts (the parser takes any
// token once the flow is HTTP).
var httpMethods = []string{
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT",
	"SEARCH", "MKCALENDAR", "PURGE",
}

const (
	// httpMaxLine bounds a chunk-size or trailer line.
	httpMaxLine = 4 << 10
	// httpMaxPending bounds the requests awaiting a response that the
	// parser remembers (for HEAD and CONNECT).
	httpMaxPending = 64
)

func detectHTTP(dir Dir, data []byte) Match {
	if dir == FromServer {
		return detectHTTPStatusLine(data)
	}
	sp := bytes.IndexByte(data[:min(len(data), 12)], ' ')
	if sp < 0 {
		if len(data) >= 12 {
			return NoMatch
		}
		for _, m := range httpMethods {
			if len(data) <= len(m) && string(data) == m[:len(data)] {
				return NeedMore
			}
		}
		return NoMatch
	}
	if !httpKnownMethod(data[:sp]) {
		return NoMatch
	}
	if m := detectHTTPTarget(data[:sp], data[sp+1:]); m != NeedMore {
		return m
	}
	i := sp + 1
	for i < len(data) && data[i] > ' ' && data[i] < 0x7f {
		i++
	}
	if i == len(data) {
		return NeedMore
	}
	if i == sp+1 || data[i] != ' ' {
		return NoMatch
	}
	return matchVersion(data[i+1:])
}

// detectHTTPTarget decides from the start of the request target, after a
// known method and a space, without waiting for the end of the line: a
// request line sent a byte per segment would otherwise outlast the
// detection budget, and the server would have the request before the
// engine knew it was HTTP. An origin-form target ("/…"), an absolute-form
// one with an http or https scheme, or a CONNECT authority (a name, an
// address or "[IPv6]") is HTTP. NeedMore leaves the decision to the rest of
// the line: other schemes and the asterisk form ("OPTIONS *", which RTSP
// shares) wait for the version, which such lines reach quickly.
func detectHTTPTarget(method, t []byte) Match {
	if len(t) == 0 {
		return NeedMore
	}
	switch c := t[0]; {
	case c == '/':
		return Matched
	case string(method) == "CONNECT":
		if isAlnum(c) || c == '[' {
			return Matched
		}
		return NeedMore
	}
	if appHasPrefixFold(t, "http://") || appHasPrefixFold(t, "https://") {
		return Matched
	}
	return NeedMore
}

// matchVersion matches "HTTP/1.0" or "HTTP/1.1" at the start of b.
func matchVersion(b []byte) Match {
	const v = "HTTP/1."
	if len(b) < len(v)+1 {
		if string(b) == (v + "1")[:len(b)] {
			return NeedMore
		}
		return NoMatch
	}
	if string(b[:len(v)]) == v && (b[len(v)] == '0' || b[len(v)] == '1') {
		return Matched
	}
	return NoMatch
}

func detectHTTPStatusLine(data []byte) Match {
	if m := matchVersion(data); m != Matched {
		return m
	}
	rest := data[8:]
	for i := 0; i < 4; i++ {
		if i == len(rest) {
			return NeedMore
		}
		switch c := rest[i]; {
		case i == 0 && c != ' ':
			return NoMatch
		case i > 0 && (c < '0' || c > '9'):
			return NoMatch
		}
	}
	return Matched
}

func httpKnownMethod(m []byte) bool {
	for _, k := range httpMethods {
		if string(m) == k {
			return true
		}
	}
	return false
}

// httpRecord is one request of the "http" list in flow JSON.
type httpRecord struct {
	Method    string `json:"method,omitempty"`
	Host      string `json:"host,omitempty"`
	Path      string `json:"path,omitempty"`
	Status    int    `json:"status,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
}

// grpcRecord is one call of the "grpc" list in flow JSON.
type grpcRecord struct {
	Service string `json:"service"`
	Method  string `json:"method"`
}

// httpLog keeps the records of an HTTP/1 or HTTP/2 connection for Summary.
type httpLog struct {
	on   bool
	max  int
	reqs []httpRecord
	grpc []grpcRecord
	full bool
}

func (l *httpLog) init(cfg *ParserConfig) {
	*l = httpLog{}
	if cfg != nil && cfg.Summaries {
		l.on = true
		l.max = cfg.MaxRecords
		if l.max <= 0 {
			l.max = appDefaultMaxRecords
		}
	}
}

// request records r and returns its index, -1 when not recorded.
func (l *httpLog) request(r *Request, sink Sink) int {
	if !l.on {
		return -1
	}
	if len(l.reqs) >= l.max {
		l.truncated(sink)
		return -1
	}
	l.reqs = append(l.reqs, httpRecord{
		Method: strings.Clone(r.Method), Host: strings.Clone(r.Host), Path: strings.Clone(r.Path),
		UserAgent: strings.Clone(r.UserAgent),
	})
	if r.App == GRPC {
		if len(l.grpc) < l.max {
			l.grpc = append(l.grpc, grpcRecord{Service: strings.Clone(r.GRPCService), Method: strings.Clone(r.GRPCMethod)})
		}
	}
	return len(l.reqs) - 1
}

func (l *httpLog) truncated(sink Sink) {
	if !l.full {
		l.full = true
		sink.Note(noteRecordsTruncated)
	}
}

// status records a response status for record i, or as a record of its own
// when there is no request to pair it with (a capture of one side).
func (l *httpLog) status(i, status int, sink Sink) {
	if !l.on {
		return
	}
	if i >= 0 && i < len(l.reqs) {
		l.reqs[i].Status = status
		return
	}
	if i == -2 {
		if len(l.reqs) >= l.max {
			l.truncated(sink)
			return
		}
		l.reqs = append(l.reqs, httpRecord{Status: status})
	}
}

func (l *httpLog) summary() any {
	if !l.on || len(l.reqs) == 0 && len(l.grpc) == 0 {
		return nil
	}
	s := Summaries{}
	if len(l.reqs) > 0 {
		s["http"] = l.reqs
	}
	if len(l.grpc) > 0 {
		s["grpc"] = l.grpc
	}
	return s
}

// HTTP/1 direction states.
const (
	hsHeaders   uint8 = iota // waiting for a request or status line
	hsBody                   // skipping remaining bytes of a body
	hsChunkSize              // reading a chunk-size line
	hsChunkData              // skipping chunk data
	hsChunkCRLF              // the CRLF after chunk data
	hsTrailers               // trailer lines after the last chunk
	hsOpaque                 // tunnel, websocket, body until close: ignore
	hsH2                     // HTTP/2 after an h2c upgrade
)

// Kinds of pending requests (what their response's framing depends on).
const (
	hkPlain uint8 = iota
	hkHead
	hkConnect
	hkUpgradeH2C
	hkUpgrade
)

type httpSide struct {
	state     uint8
	remaining int64
	// scanned is how far an incomplete header block at the start of the
	// unconsumed bytes was already searched for its end (a line start), so
	// that a head arriving a few bytes at a time is not searched again
	// from its first byte each time.
	scanned int
}

type httpParser struct {
	log     httpLog
	side    [2]httpSide
	pending [httpMaxPending]struct {
		kind uint8
		rec  int32
	}
	phead, plen int
	h2          *h2Conn // after an h2c upgrade
	spare       *h2Conn // kept from a previous flow for reuse
	req         Request
	resp        Response
	scratch     []byte
}

func newHTTPParser(cfg *ParserConfig) *httpParser {
	p := &httpParser{}
	p.Reset(cfg)
	return p
}

// Reset implements Resetter.
func (p *httpParser) Reset(cfg *ParserConfig) {
	scratch := p.scratch[:0]
	h2 := p.h2
	if h2 == nil {
		h2 = p.spare
	}
	*p = httpParser{scratch: scratch}
	p.log.init(cfg)
	p.spare = h2
}

// Summary implements Parser.
func (p *httpParser) Summary() any { return p.log.summary() }

var (
	errHTTPLine = errors.New("http: line too long")
	slash       = []byte("/")
)

// Parse implements Parser.
func (p *httpParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	sd := &p.side[dir&1]
	total := 0
	for total < len(data) {
		rest := data[total:]
		n := 0
		var err error
		state := sd.state
		switch state {
		case hsHeaders:
			if dir == FromClient {
				n, err = p.request(rest, sink)
			} else {
				n, err = p.response(rest, sink)
			}
		case hsBody, hsChunkData:
			n = int(min(int64(len(rest)), sd.remaining))
			sd.remaining -= int64(n)
			if sd.remaining == 0 {
				if sd.state == hsBody {
					sd.state = hsHeaders
				} else {
					sd.state = hsChunkCRLF
				}
			}
		case hsChunkSize:
			n, err = p.chunkSize(sd, rest)
		case hsChunkCRLF:
			switch {
			case rest[0] == '\n':
				n = 1
			case rest[0] != '\r':
				err = errors.New("http: missing CRLF after chunk data")
			case len(rest) < 2:
			case rest[1] != '\n':
				err = errors.New("http: missing CRLF after chunk data")
			default:
				n = 2
			}
			if n > 0 {
				sd.state = hsChunkSize
			}
		case hsTrailers:
			n, err = p.trailers(sd, rest)
		case hsOpaque:
			n = len(rest)
		case hsH2:
			n, err = p.h2.parse(dir, rest, sink)
			return total + n, err
		}
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 && sd.state == state {
			break
		}
	}
	return total, nil
}

// headerBlock returns the length of the header block at the start of b
// (through the empty line), or -1 when it is not complete. The search
// starts at *from, a line start already known not to end the block, and
// leaves there the start of the last incomplete line.
func headerBlock(b []byte, from *int) int {
	i := *from
	if i > len(b) {
		i = 0
	}
	for {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			*from = i
			return -1
		}
		line := b[i : i+j]
		i += j + 1
		if len(line) == 0 || len(line) == 1 && line[0] == '\r' {
			*from = 0
			return i
		}
	}
}

// httpHeaders walks the header lines of a block (after its first line).
type httpHeaders struct{ b []byte }

// next returns the next header's name and value (value trimmed); ok is
// false at the end of the block. bad reports a malformed line.
func (h *httpHeaders) next() (name, value []byte, ok, bad bool) {
	for len(h.b) > 0 {
		j := bytes.IndexByte(h.b, '\n')
		if j < 0 {
			j = len(h.b)
		}
		line := h.b[:j]
		h.b = h.b[min(j+1, len(h.b)):]
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return nil, nil, false, false
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // obsolete line folding: ignore the continuation
		}
		c := bytes.IndexByte(line, ':')
		if c <= 0 || bytes.ContainsAny(line[:c], " \t") {
			return nil, nil, false, true
		}
		return line[:c], bytes.Trim(line[c+1:], " \t"), true, false
	}
	return nil, nil, false, false
}

// bodyFraming collects the headers that frame a message body.
type bodyFraming struct {
	cl          int64 // Content-Length, -1 when absent
	te, chunked bool  // Transfer-Encoding present; its last coding is chunked
}

// nextFraming is next, which also takes in the framing headers: for those
// it returns a nil name.
func (h *httpHeaders) nextFraming(fr *bodyFraming) (name, value []byte, ok bool, err error) {
	name, value, ok, bad := h.next()
	switch {
	case bad:
		return nil, nil, false, errors.New("http: malformed header line")
	case !ok:
		return nil, nil, false, nil
	case appEqualFold(name, "content-length"):
		v, valid := parseContentLength(value)
		if !valid || fr.cl >= 0 && v != fr.cl {
			return nil, nil, false, fmt.Errorf("http: bad Content-Length %q", clip(value))
		}
		fr.cl = v
		return nil, nil, true, nil
	case appEqualFold(name, "transfer-encoding"):
		fr.te = true
		fr.chunked = lastCodingChunked(value)
		return nil, nil, true, nil
	}
	return name, value, true, nil
}

// firstLine splits off the first line of a header block.
func firstLine(b []byte) (line, rest []byte) {
	j := bytes.IndexByte(b, '\n')
	line, rest = b[:j], b[j+1:]
	return bytes.TrimSuffix(line, []byte("\r")), rest
}

// request parses one request head at the start of b.
func (p *httpParser) request(b []byte, sink Sink) (int, error) {
	// Empty lines before a request line are ignored (RFC 9112 §2.2).
	skip := 0
	for skip < len(b) && skip < 8 && (b[skip] == '\r' || b[skip] == '\n') {
		skip++
	}
	if skip > 0 {
		return skip, nil
	}
	if p.h2 != nil && bytes.HasPrefix(b, []byte(h2Preface[:min(len(b), len(h2Preface))])) {
		// The client speaks HTTP/2 after asking for h2c.
		p.side[FromClient].state = hsH2
		return 0, nil
	}
	end := headerBlock(b, &p.side[FromClient].scanned)
	if end < 0 {
		return 0, nil
	}
	line, hdrs := firstLine(b[:end])
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return end, fmt.Errorf("http: malformed request line %q", clip(line))
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 <= 0 {
		return end, fmt.Errorf("http: malformed request line %q", clip(line))
	}
	method, target, version := line[:sp1], line[sp1+1:sp1+1+sp2], line[sp1+2+sp2:]
	if string(version) != "HTTP/1.1" && string(version) != "HTTP/1.0" {
		return end, fmt.Errorf("http: unsupported version %q", clip(version))
	}
	for _, c := range method {
		if c <= ' ' || c >= 0x7f {
			return end, fmt.Errorf("http: malformed method %q", clip(method))
		}
	}
	p.scratch = p.scratch[:0]
	r := &p.req
	*r = Request{App: HTTP, Method: bstr(method)}
	kind := hkPlain
	switch string(method) {
	case "HEAD":
		kind = hkHead
	case "CONNECT":
		kind = hkConnect
	}
	var host []byte
	if kind == hkConnect {
		host = target // authority-form
	} else if i := bytes.Index(target, []byte("://")); i > 0 && target[0] != '/' {
		// absolute-form: the authority overrides Host.
		auth := target[i+3:]
		j := bytes.IndexAny(auth, "/?#")
		if j < 0 {
			j = len(auth)
		}
		host, target = auth[:j], auth[j:]
		if len(target) == 0 || target[0] != '/' {
			target = slash
		}
		if at := bytes.LastIndexByte(host, '@'); at >= 0 {
			host = host[at+1:]
		}
	}
	if kind != hkConnect {
		r.Path = bstr(normPath(target, &p.scratch))
	}
	var (
		fr       = bodyFraming{cl: -1}
		hosts    int
		upgrade  []byte
		connUpgr bool
	)
	h := httpHeaders{hdrs}
	for {
		name, value, ok, err := h.nextFraming(&fr)
		if err != nil {
			return end, err
		}
		if !ok {
			break
		}
		switch {
		case name == nil: // a framing header, handled
		case appEqualFold(name, "host"):
			hosts++
			if hosts == 1 && host == nil {
				host = value
			}
		case appEqualFold(name, "user-agent"):
			r.UserAgent = bstr(value)
		case appEqualFold(name, "upgrade"):
			upgrade = value
		case appEqualFold(name, "connection"):
			connUpgr = connUpgr || tokenListHas(value, "upgrade")
		}
	}
	if hosts > 1 {
		sink.Note("http: several Host headers (the first is used)")
	}
	if host != nil {
		r.Host = bstr(normHost(host, &p.scratch))
	}
	if connUpgr && len(upgrade) > 0 && kind == hkPlain {
		if tokenListHas(upgrade, "h2c") {
			kind = hkUpgradeH2C
		} else {
			kind = hkUpgrade
		}
	}
	rec := p.log.request(r, sink)
	sink.Request(r)
	p.push(kind, rec)
	sd := &p.side[FromClient]
	switch {
	case fr.te && fr.cl >= 0:
		sink.Note("http: both Transfer-Encoding and Content-Length (possible request smuggling)")
		fallthrough
	case fr.te:
		if !fr.chunked {
			return end, errors.New("http: request Transfer-Encoding without chunked")
		}
		sd.state = hsChunkSize
	case fr.cl > 0:
		sd.state, sd.remaining = hsBody, fr.cl
	}
	if kind == hkUpgradeH2C {
		p.startH2(rec)
	}
	return end, nil
}

// response parses one response head at the start of b.
func (p *httpParser) response(b []byte, sink Sink) (int, error) {
	end := headerBlock(b, &p.side[FromServer].scanned)
	if end < 0 {
		return 0, nil
	}
	line, hdrs := firstLine(b[:end])
	if len(line) < 12 || matchVersion(line) != Matched || line[8] != ' ' {
		return end, fmt.Errorf("http: malformed status line %q", clip(line))
	}
	status := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return end, fmt.Errorf("http: malformed status line %q", clip(line))
		}
		status = status*10 + int(c-'0')
	}
	if len(line) > 12 && line[12] != ' ' {
		return end, fmt.Errorf("http: malformed status line %q", clip(line))
	}
	fr := bodyFraming{cl: -1}
	h := httpHeaders{hdrs}
	for {
		_, _, ok, err := h.nextFraming(&fr)
		if err != nil {
			return end, err
		}
		if !ok {
			break
		}
	}
	cl, te, chunked := fr.cl, fr.te, fr.chunked
	sd := &p.side[FromServer]
	if status >= 100 && status < 200 && status != 101 {
		return end, nil // interim response: the final one follows
	}
	kind, rec, ok := p.pop()
	if !ok {
		rec = -2
	}
	p.log.status(int(rec), status, sink)
	p.resp = Response{App: HTTP, Status: status}
	sink.Response(&p.resp)
	switch {
	case status == 101 && kind == hkUpgradeH2C && p.h2 != nil:
		sd.state = hsH2
		if p.side[FromClient].state == hsHeaders {
			p.side[FromClient].state = hsH2
		}
		p.h2.serverUpgraded()
		return end, nil
	case status == 101:
		sink.Note("http: protocol upgrade, rest of connection not inspected")
		sd.state = hsOpaque
		p.side[FromClient].state = hsOpaque
		return end, nil
	case kind == hkConnect && status >= 200 && status < 300:
		sink.Note("http: CONNECT tunnel, rest of connection not inspected")
		sd.state = hsOpaque
		p.side[FromClient].state = hsOpaque
		return end, nil
	case kind == hkHead || status == 204 || status == 304:
	case te && chunked:
		sd.state = hsChunkSize
	case te:
		sd.state = hsOpaque
	case cl > 0:
		sd.state, sd.remaining = hsBody, cl
	case cl < 0:
		sd.state = hsOpaque // the body runs until the connection closes
	}
	if kind == hkUpgradeH2C && p.h2 != nil {
		// The server declined the upgrade: stay in HTTP/1.
		p.spare, p.h2 = p.h2, nil
	}
	return end, nil
}

// chunkSize reads a chunk-size line ("1a;ext=1\r\n").
func (p *httpParser) chunkSize(sd *httpSide, b []byte) (int, error) {
	j := bytes.IndexByte(b, '\n')
	if j < 0 {
		if len(b) > httpMaxLine {
			return 0, errHTTPLine
		}
		return 0, nil
	}
	var size int64
	digits := 0
	for _, c := range b[:j] {
		d, ok := unhex(c)
		if !ok {
			break
		}
		if digits == 15 {
			return j + 1, errors.New("http: chunk size too large")
		}
		size = size<<4 | int64(d)
		digits++
	}
	if digits == 0 {
		return j + 1, fmt.Errorf("http: malformed chunk size line %q", clip(b[:j]))
	}
	if size == 0 {
		sd.state = hsTrailers
	} else {
		sd.state, sd.remaining = hsChunkData, size
	}
	return j + 1, nil
}

// trailers consumes one trailer line; the empty line ends the message.
func (p *httpParser) trailers(sd *httpSide, b []byte) (int, error) {
	j := bytes.IndexByte(b, '\n')
	if j < 0 {
		if len(b) > httpMaxLine {
			return 0, errHTTPLine
		}
		return 0, nil
	}
	if j == 0 || j == 1 && b[0] == '\r' {
		sd.state = hsHeaders
	}
	return j + 1, nil
}

// push remembers a request awaiting its response.
func (p *httpParser) push(kind uint8, rec int) {
	if p.plen == httpMaxPending {
		// Forget the oldest: its response framing falls back to plain.
		p.phead = (p.phead + 1) % httpMaxPending
		p.plen--
	}
	e := &p.pending[(p.phead+p.plen)%httpMaxPending]
	e.kind, e.rec = kind, int32(rec)
	p.plen++
}

func (p *httpParser) pop() (kind uint8, rec int32, ok bool) {
	if p.plen == 0 {
		return hkPlain, -1, false
	}
	e := p.pending[p.phead]
	p.phead = (p.phead + 1) % httpMaxPending
	p.plen--
	return e.kind, e.rec, true
}

// startH2 prepares the HTTP/2 connection an h2c upgrade request asks for.
// The request becomes stream 1.
func (p *httpParser) startH2(rec int) {
	if p.h2 = p.spare; p.h2 == nil {
		p.h2 = newH2Conn()
	}
	p.spare = nil
	p.h2.reset(&p.log)
	p.h2.upgraded(rec)
}

func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// lastCodingChunked reports whether the last transfer coding is chunked.
func lastCodingChunked(v []byte) bool {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return appEqualFold(bytes.Trim(v, " \t"), "chunked")
}

// tokenListHas reports whether a comma-separated header value has token
// (case-insensitive).
func tokenListHas(v []byte, token string) bool {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var t []byte
		if i < 0 {
			t, v = v, nil
		} else {
			t, v = v[:i], v[i+1:]
		}
		if appEqualFold(bytes.Trim(t, " \t"), token) {
			return true
		}
	}
	return false
}

// clip shortens b for an error message.
func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}
