package l7

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// MongoDB wire protocol. Every message starts with a 16-byte header:
// int32 messageLength, requestID, responseTo and opCode, little endian.
// Drivers send commands as OP_MSG (2013): flagBits, then sections; the
// kind-0 section is one BSON document whose first element names the command
// ("find", "insert", "hello") and whose "$db" element names the database.
// The legacy OP_QUERY (2004) is still used for the first "isMaster"/"hello"
// of a connection: flags, "db.$cmd", skip, return, then the command
// document (possibly wrapped in {$query: …}).
//
// Request: Command is the command name in upper case ("FIND", "HELLO";
// "QUERY" for an OP_QUERY on a collection), Database the "$db" (or the
// database of the OP_QUERY namespace).
// Response: OP_MSG or OP_REPLY answers, Status 0 when the reply document
// has "ok": 1, 1 otherwise (when it is within the inspected window).

func init() {
	register(&Protocol{
		App:       MongoDB,
		Transport: TCP,
		Ports:     []uint16{27017},
		Detect:    detectMongoDB,
		New:       appNew[mongoParser],
	})
}

const (
	mongoOpReply      = 1
	mongoOpQuery      = 2004
	mongoOpCompressed = 2012
	mongoOpMsg        = 2013
	mongoMaxMessage   = 48 << 20
	mongoNameMax      = 64
)

func detectMongoDB(dir Dir, data []byte) Match {
	if len(data) < 16 {
		// The length is small and little endian: its top byte is zero.
		if len(data) >= 4 && (data[3] != 0 || binary.LittleEndian.Uint32(data) < 21) {
			return NoMatch
		}
		return NeedMore
	}
	n := binary.LittleEndian.Uint32(data)
	responseTo := binary.LittleEndian.Uint32(data[8:])
	op := binary.LittleEndian.Uint32(data[12:])
	if n < 21 || n > mongoMaxMessage {
		return NoMatch
	}
	if dir == FromClient {
		if responseTo != 0 {
			return NoMatch
		}
		switch op {
		case mongoOpMsg:
			return mongoDetectMsg(data[16:])
		case mongoOpQuery:
			// flags (only bits 1..7 defined), then a "db.collection" name.
			if len(data) < 21 {
				return NeedMore
			}
			if binary.LittleEndian.Uint32(data[16:])&^0xfe != 0 {
				return NoMatch
			}
			return mongoDetectNamespace(data[20:])
		case mongoOpCompressed:
			return Matched
		}
		return NoMatch
	}
	switch op {
	case mongoOpMsg:
		return mongoDetectMsg(data[16:])
	case mongoOpReply:
		// responseFlags (bits 0..3), cursorID, startingFrom, numberReturned.
		if len(data) < 20 {
			return NeedMore
		}
		if binary.LittleEndian.Uint32(data[16:])&^0xf != 0 {
			return NoMatch
		}
		return Matched
	}
	return NoMatch
}

// mongoDetectMsg checks OP_MSG flagBits (bits 0, 1 and 16 only) and the
// kind of the first section.
func mongoDetectMsg(b []byte) Match {
	if len(b) < 5 {
		return NeedMore
	}
	if binary.LittleEndian.Uint32(b)&^0x10003 != 0 || b[4] > 2 {
		return NoMatch
	}
	return Matched
}

func mongoDetectNamespace(b []byte) Match {
	for i, c := range b {
		switch {
		case c == 0:
			return NoMatch
		case c == '.' && i > 0:
			return Matched
		case c < 0x21 || c > 0x7e || i > 64:
			return NoMatch
		}
	}
	return NeedMore
}

// mongoSummary is one entry of the "mongodb" list of analyze's flow JSON.
type mongoSummary struct {
	Command  string `json:"command"`
	Database string `json:"database,omitempty"`
	// Op is the wire opcode: "OP_MSG", "OP_QUERY" or "OP_COMPRESSED".
	Op string `json:"op"`
}

type mongoParser struct {
	skip [2]appSkip
	req  Request
	resp Response
	buf  appBuf
	recs appRecords[mongoSummary]
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *mongoParser) Reset(cfg *ParserConfig) {
	*p = mongoParser{recs: newAppRecords[mongoSummary](appCfg(cfg))}
}

func (p *mongoParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	return appFrames(dir, data, &p.skip[dir], p, sink)
}

func (p *mongoParser) frameLen(dir Dir, rest []byte) (int64, error) {
	if len(rest) < 16 {
		return 0, nil
	}
	n := int64(binary.LittleEndian.Uint32(rest))
	if n < 16 || n > mongoMaxMessage {
		return 0, fmt.Errorf("mongodb: %v message length %d out of range 16..%d", dir, n, mongoMaxMessage)
	}
	return n, nil
}

func (p *mongoParser) frame(dir Dir, msg []byte, sink Sink) error {
	op := binary.LittleEndian.Uint32(msg[12:])
	if dir == FromClient {
		p.request(op, msg[16:], sink)
	} else {
		p.response(op, msg[16:], sink)
	}
	return nil
}

func (p *mongoParser) request(op uint32, body []byte, sink Sink) {
	var cmd, db []byte
	var opName string
	switch op {
	case mongoOpMsg:
		opName = "OP_MSG"
		doc := mongoMsgBody(body)
		cmd = bsonFirstName(doc)
		db = bsonString(doc, "$db")
	case mongoOpQuery:
		opName = "OP_QUERY"
		if len(body) < 4 {
			return
		}
		ns, rest := mysqlCString(body[4:])
		coll := []byte(nil)
		if i := bytes.IndexByte(ns, '.'); i >= 0 {
			db, coll = ns[:i], ns[i+1:]
		}
		if len(rest) < 8 {
			return
		}
		doc := rest[8:]
		if bytes.Equal(coll, []byte("$cmd")) {
			cmd = bsonFirstName(doc)
			if bytes.Equal(cmd, []byte("$query")) || bytes.Equal(cmd, []byte("query")) {
				cmd = bsonFirstName(bsonDoc(doc, string(cmd)))
			}
		} else {
			cmd = []byte("query")
		}
	case mongoOpCompressed:
		opName = "OP_COMPRESSED"
		cmd = []byte("compressed")
	default:
		return
	}
	p.buf.reset()
	command := "UNKNOWN"
	if len(cmd) > 0 && len(cmd) <= mongoNameMax {
		command = p.buf.upper(cmd)
	}
	if len(db) > mongoNameMax {
		db = db[:mongoNameMax]
	}
	p.req = Request{App: MongoDB, Command: command, Database: bstr(db)}
	sink.Request(&p.req)
	if p.recs.on {
		p.recs.add(sink, mongoSummary{Command: strings.Clone(command), Database: string(db), Op: opName})
	}
}

func (p *mongoParser) response(op uint32, body []byte, sink Sink) {
	var doc []byte
	switch op {
	case mongoOpMsg:
		doc = mongoMsgBody(body)
	case mongoOpReply:
		if len(body) >= 20 {
			doc = body[20:]
		}
	default:
		return
	}
	status := 1
	if bsonOK(doc) {
		status = 0
	}
	p.resp = Response{App: MongoDB, Status: status}
	sink.Response(&p.resp)
}

// mongoMsgBody returns the document of the kind-0 section of an OP_MSG
// body (flagBits, then sections).
func mongoMsgBody(b []byte) []byte {
	if len(b) < 4 {
		return nil
	}
	b = b[4:]
	for len(b) > 0 {
		kind := b[0]
		b = b[1:]
		if len(b) < 4 {
			return nil
		}
		size := int(binary.LittleEndian.Uint32(b))
		switch kind {
		case 0:
			return b
		case 1: // document sequence: skip it
			if size < 4 || size > len(b) {
				return nil
			}
			b = b[size:]
		default:
			return nil
		}
	}
	return nil
}

// BSON walking: a document is int32 size, elements, 0x00; an element is a
// type byte, a NUL-terminated name and a value whose size depends on the
// type. The walker tolerates a document cut short by the inspection window.

// bsonNext splits the first element off the element list b. ok is false at
// the end of the document or when b is cut or malformed.
func bsonNext(b []byte) (typ byte, name, val, rest []byte, ok bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, nil, nil, nil, false
	}
	typ = b[0]
	i := bytes.IndexByte(b[1:], 0)
	if i < 0 {
		return 0, nil, nil, nil, false
	}
	name, b = b[1:1+i], b[2+i:]
	size := -1
	switch typ {
	case 0x01, 0x09, 0x11, 0x12: // double, datetime, timestamp, int64
		size = 8
	case 0x02, 0x0d, 0x0e: // string, JavaScript, symbol
		if len(b) >= 4 {
			size = 4 + int(int32(binary.LittleEndian.Uint32(b)))
		}
	case 0x03, 0x04, 0x0f: // document, array, code with scope
		if len(b) >= 4 {
			size = int(int32(binary.LittleEndian.Uint32(b)))
		}
	case 0x05: // binary
		if len(b) >= 4 {
			size = 5 + int(int32(binary.LittleEndian.Uint32(b)))
		}
	case 0x06, 0x0a, 0x7f, 0xff: // undefined, null, maxkey, minkey
		size = 0
	case 0x07: // ObjectId
		size = 12
	case 0x08: // bool
		size = 1
	case 0x0b: // regex: two cstrings
		if j := bytes.IndexByte(b, 0); j >= 0 {
			if k := bytes.IndexByte(b[j+1:], 0); k >= 0 {
				size = j + k + 2
			}
		}
	case 0x0c: // DBPointer: string, 12 bytes
		if len(b) >= 4 {
			size = 16 + int(int32(binary.LittleEndian.Uint32(b)))
		}
	case 0x10: // int32
		size = 4
	case 0x13: // decimal128
		size = 16
	}
	if size < 0 || size > len(b) {
		return 0, nil, nil, nil, false
	}
	return typ, name, b[:size], b[size:], true
}

// bsonElems returns the element list of the document doc.
func bsonElems(doc []byte) []byte {
	if len(doc) < 5 {
		return nil
	}
	return doc[4:]
}

// bsonFirstName returns the name of the first element of doc.
func bsonFirstName(doc []byte) []byte {
	b := bsonElems(doc)
	if len(b) < 2 || b[0] == 0 {
		return nil
	}
	i := bytes.IndexByte(b[1:], 0)
	if i < 0 {
		return nil
	}
	return b[1 : 1+i]
}

// bsonLookup returns the type and value of the top-level element key.
func bsonLookup(doc []byte, key string) (byte, []byte) {
	b := bsonElems(doc)
	for i := 0; i < 1024; i++ {
		typ, name, val, rest, ok := bsonNext(b)
		if !ok {
			return 0, nil
		}
		if string(name) == key {
			return typ, val
		}
		b = rest
	}
	return 0, nil
}

// bsonString returns the value of the top-level string element key.
func bsonString(doc []byte, key string) []byte {
	typ, v := bsonLookup(doc, key)
	if typ != 0x02 || len(v) < 5 {
		return nil
	}
	return v[4 : len(v)-1]
}

// bsonDoc returns the top-level document element key.
func bsonDoc(doc []byte, key string) []byte {
	if typ, v := bsonLookup(doc, key); typ == 0x03 {
		return v
	}
	return nil
}

// bsonOK reports whether doc has "ok" equal to 1 (double, int32, int64 or
// bool true).
func bsonOK(doc []byte) bool {
	typ, v := bsonLookup(doc, "ok")
	switch typ {
	case 0x01:
		return binary.LittleEndian.Uint64(v) == 0x3ff0000000000000
	case 0x10:
		return binary.LittleEndian.Uint32(v) == 1
	case 0x12:
		return binary.LittleEndian.Uint64(v) == 1
	case 0x08:
		return v[0] == 1
	}
	return false
}

func (p *mongoParser) Summary() any {
	if len(p.recs.list) == 0 {
		return nil
	}
	return p.recs.list
}
