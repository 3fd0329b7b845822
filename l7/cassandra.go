package l7

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Cassandra CQL native protocol, versions 1 to 5. A frame header is the
// version byte (high bit set on responses), flags, a stream id (1 byte up
// to v2, 2 bytes from v3), the opcode and an int32 body length. From v5
// frames are wrapped in checksummed segments once STARTUP is done; those
// are noted and not parsed further.
//
// Request: Command the opcode name ("STARTUP", "OPTIONS", "QUERY",
// "PREPARE", "EXECUTE", "BATCH", "REGISTER", "AUTH_RESPONSE"), Version the
// protocol version. The summary adds the statement kind of QUERY and
// PREPARE ("SELECT"…).
// Response: each response frame, Status 0, or the error code of an ERROR.

func init() {
	register(&Protocol{
		App:       Cassandra,
		Transport: TCP,
		Ports:     []uint16{9042},
		Detect:    detectCassandra,
		New:       appNew[cassandraParser],
	})
}

const cqlMaxBody = 256 << 20

var cqlOpcodes = [...]string{
	0x00: "ERROR", 0x01: "STARTUP", 0x02: "READY", 0x03: "AUTHENTICATE",
	0x05: "OPTIONS", 0x06: "SUPPORTED", 0x07: "QUERY", 0x08: "RESULT",
	0x09: "PREPARE", 0x0a: "EXECUTE", 0x0b: "REGISTER", 0x0c: "EVENT",
	0x0d: "BATCH", 0x0e: "AUTH_CHALLENGE", 0x0f: "AUTH_RESPONSE",
	0x10: "AUTH_SUCCESS",
}

// cqlRequest reports whether op is sent by clients.
func cqlRequest(op byte) bool {
	switch op {
	case 0x01, 0x05, 0x07, 0x09, 0x0a, 0x0b, 0x0d, 0x0f:
		return true
	}
	return false
}

func detectCassandra(dir Dir, data []byte) Match {
	if len(data) == 0 {
		return NeedMore
	}
	v := data[0]
	if dir == FromServer {
		if v&0x80 == 0 {
			return NoMatch
		}
		v &^= 0x80
	}
	// Versions 1 and 2 are long gone; their 8-byte header would also
	// claim memcached's binary responses.
	if v < 3 || v > 6 {
		return NoMatch
	}
	hdr := 9
	if len(data) >= 2 && data[1]&^0x1f != 0 {
		return NoMatch
	}
	if len(data) < hdr {
		return NeedMore
	}
	op := data[hdr-5]
	n := binary.BigEndian.Uint32(data[hdr-4:])
	if int(op) >= len(cqlOpcodes) || cqlOpcodes[op] == "" || cqlRequest(op) != (dir == FromClient) || n > cqlMaxBody {
		return NoMatch
	}
	if dir == FromClient && op != 0x05 && op != 0x01 {
		return NoMatch // a connection starts with OPTIONS or STARTUP
	}
	return Matched
}

// cassandraSummary is the "cassandra" object of analyze's flow JSON.
type cassandraSummary struct {
	Version  int           `json:"version"`
	Requests []cqlSumEntry `json:"requests,omitempty"`
}

type cqlSumEntry struct {
	Opcode    string `json:"opcode"`
	Statement string `json:"statement,omitempty"`
}

type cassandraParser struct {
	version byte
	opaque  bool
	skip    [2]appSkip
	req     Request
	resp    Response
	buf     appBuf
	recs    appRecords[cqlSumEntry]
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *cassandraParser) Reset(cfg *ParserConfig) {
	*p = cassandraParser{recs: newAppRecords[cqlSumEntry](appCfg(cfg))}
}

func (p *cassandraParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	return appFrames(dir, data, &p.skip[dir], p, sink)
}

// cqlHeader returns the header size of a frame of version v.
func cqlHeader(v byte) int {
	if v <= 2 {
		return 8
	}
	return 9
}

func (p *cassandraParser) frameLen(dir Dir, rest []byte) (int64, error) {
	if p.opaque {
		return 0, ErrDone
	}
	v := rest[0] &^ 0x80
	if v < 1 || v > 6 || (rest[0]&0x80 != 0) != (dir == FromServer) {
		return 0, fmt.Errorf("cassandra: %v frame with version byte %#x", dir, rest[0])
	}
	hdr := cqlHeader(v)
	if len(rest) < hdr {
		return 0, nil
	}
	n := int64(binary.BigEndian.Uint32(rest[hdr-4:]))
	if n > cqlMaxBody {
		return 0, fmt.Errorf("cassandra: %v frame body of %d bytes exceeds %d", dir, n, cqlMaxBody)
	}
	return int64(hdr) + n, nil
}

func (p *cassandraParser) frame(dir Dir, msg []byte, sink Sink) error {
	v := msg[0] &^ 0x80
	hdr := cqlHeader(v)
	op := msg[hdr-5]
	name := "UNKNOWN"
	if int(op) < len(cqlOpcodes) && cqlOpcodes[op] != "" {
		name = cqlOpcodes[op]
	}
	body := msg[hdr:]
	if dir == FromClient {
		p.version = v
		p.request(name, op, body, sink)
		return nil
	}
	status := 0
	if op == 0x00 && len(body) >= 4 {
		status = int(int32(binary.BigEndian.Uint32(body)))
	}
	p.resp = Response{App: Cassandra, Status: status, Version: appItoa(int(v))}
	sink.Response(&p.resp)
	// From v5, READY and AUTHENTICATE switch both sides to segments.
	if v >= 5 && (op == 0x02 || op == 0x03) {
		sink.Note("CQL v5 framing")
		p.opaque = true
	}
	return nil
}

func (p *cassandraParser) request(name string, op byte, body []byte, sink Sink) {
	p.req = Request{App: Cassandra, Command: name, Version: appItoa(int(p.version))}
	sink.Request(&p.req)
	if !p.recs.on {
		return
	}
	e := cqlSumEntry{Opcode: name}
	if (op == 0x07 || op == 0x09) && len(body) >= 4 { // [long string] query
		q := body[4:]
		if n := int(binary.BigEndian.Uint32(body)); n >= 0 && n < len(q) {
			q = q[:n]
		}
		p.buf.reset()
		if kind := appSQLKind(q); kind != nil {
			e.Statement = strings.Clone(p.buf.upper(kind))
		}
	}
	p.recs.add(sink, e)
}

func (p *cassandraParser) Summary() any {
	if !p.recs.on || p.version == 0 {
		return nil
	}
	return &cassandraSummary{Version: int(p.version), Requests: p.recs.list}
}
