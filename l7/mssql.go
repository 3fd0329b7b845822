package l7

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Microsoft SQL Server, TDS 7.x. Every packet has an 8-byte header: type,
// status (bit 0 = end of message), big-endian length including the
// header, SPID, packet id and window. The client opens with a PRELOGIN
// (type 0x12) message: option tokens (token, offset, length) ended by
// 0xFF, then their data; VERSION (token 0) is the client library version
// and ENCRYPTION (token 1) its encryption choice. The server answers with
// a PRELOGIN response in a type 0x04 packet. When encryption is on, the
// TLS handshake follows inside PRELOGIN packets and LOGIN7 is encrypted;
// when both sides say ENCRYPT_NOT_SUP, LOGIN7 (type 0x10) is in clear and
// its user name and database are read. TDS 8.0 starts with TLS directly
// and is the "tls" app.
//
// Request: Command "PRELOGIN" (Version the client version
// "major.minor.build"), "LOGIN" (User, Database, ClientID the application
// name), and "SQL_BATCH", "RPC", "ATTENTION", "TRANSACTION_MANAGER",
// "BULK_LOAD" for later messages.
// Response: the server's PRELOGIN answer (Status -1, Version the server
// version).

func init() {
	register(&Protocol{
		App:       MSSQL,
		Transport: TCP,
		Ports:     []uint16{1433},
		Detect:    detectMSSQL,
		New:       appNew[mssqlParser],
	})
}

const (
	tdsSQLBatch  = 0x01
	tdsRPC       = 0x03
	tdsResponse  = 0x04
	tdsAttention = 0x06
	tdsBulkLoad  = 0x07
	tdsTransMgr  = 0x0e
	tdsLogin7    = 0x10
	tdsPrelogin  = 0x12
)

var tdsEncryption = [...]string{"off", "on", "not_supported", "required"}

func detectMSSQL(dir Dir, data []byte) Match {
	want := byte(tdsPrelogin)
	if dir == FromServer {
		want = tdsResponse
	}
	if len(data) == 0 {
		return NeedMore
	}
	if data[0] != want {
		return NoMatch
	}
	if len(data) < 8+5 {
		if len(data) >= 2 && data[1] != 1 {
			return NoMatch
		}
		return NeedMore
	}
	n := int(binary.BigEndian.Uint16(data[2:]))
	if data[1] != 1 || n < 8+6 || n > 4096 || data[7] != 0 {
		return NoMatch
	}
	// The first option is VERSION (token 0) with 6 bytes of data, whose
	// offset lies within the message.
	off := int(binary.BigEndian.Uint16(data[9:]))
	if data[8] != 0 || off < 6 || off > n-8 || binary.BigEndian.Uint16(data[11:]) != 6 {
		return NoMatch
	}
	return Matched
}

// mssqlSummary is the "mssql" object of analyze's flow JSON.
type mssqlSummary struct {
	ClientVersion    string   `json:"client_version,omitempty"`
	ServerVersion    string   `json:"server_version,omitempty"`
	ClientEncryption string   `json:"client_encryption,omitempty"`
	ServerEncryption string   `json:"server_encryption,omitempty"`
	User             string   `json:"user,omitempty"`
	Database         string   `json:"database,omitempty"`
	AppName          string   `json:"app_name,omitempty"`
	Messages         []string `json:"messages,omitempty"`
}

type mssqlParser struct {
	skip [2]appSkip
	// inMsg is set while a message continues over more packets.
	inMsg [2]bool
	// clientEnc is the client's ENCRYPTION option ("" before PRELOGIN).
	clientEnc string
	opaque    bool
	req       Request
	resp      Response
	buf       appBuf
	recs      appRecords[string]
	sum       mssqlSummary
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *mssqlParser) Reset(cfg *ParserConfig) {
	*p = mssqlParser{recs: newAppRecords[string](appCfg(cfg))}
}

func (p *mssqlParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	return appFrames(dir, data, &p.skip[dir], p, sink)
}

func (p *mssqlParser) frameLen(dir Dir, rest []byte) (int64, error) {
	if p.opaque {
		return 0, ErrDone
	}
	if len(rest) < 8 {
		return 0, nil
	}
	n := int64(binary.BigEndian.Uint16(rest[2:]))
	if n < 8 {
		return 0, fmt.Errorf("mssql: %v packet length %d shorter than its header", dir, n)
	}
	return n, nil
}

func (p *mssqlParser) frame(dir Dir, msg []byte, sink Sink) error {
	first := !p.inMsg[dir]
	p.inMsg[dir] = msg[1]&1 == 0
	if first {
		p.message(dir, msg[0], msg[8:], sink)
	}
	return nil
}

func (p *mssqlParser) message(dir Dir, typ byte, body []byte, sink Sink) {
	p.buf.reset()
	if dir == FromServer {
		if typ == tdsResponse && p.sum.ServerVersion == "" && p.sum.ServerEncryption == "" {
			ver, enc := p.prelogin(body)
			p.resp = Response{App: MSSQL, Status: -1, Version: ver}
			sink.Response(&p.resp)
			if p.recs.on {
				p.sum.ServerVersion, p.sum.ServerEncryption = strings.Clone(ver), enc
			}
			// Unless one side does not support encryption (and the other
			// does not require it), a TLS handshake follows and at least
			// LOGIN7 is encrypted.
			clear := enc == "not_supported" || (p.clientEnc == "not_supported" && enc != "required")
			if enc != "" && !clear {
				sink.Note("TLS")
				p.opaque = true
			}
		}
		return
	}
	var cmd string
	var user, db, app []byte
	switch typ {
	case tdsPrelogin:
		if p.clientEnc != "" {
			return // TLS handshake records carried in PRELOGIN packets
		}
		ver, enc := p.prelogin(body)
		p.clientEnc = enc
		cmd = "PRELOGIN"
		p.req = Request{App: MSSQL, Command: cmd, Version: ver}
		sink.Request(&p.req)
		if p.recs.on {
			p.sum.ClientVersion, p.sum.ClientEncryption = strings.Clone(ver), enc
			p.recs.add(sink, cmd)
		}
		return
	case tdsLogin7:
		cmd = "LOGIN"
		user, db, app = p.login7(body)
	case tdsSQLBatch:
		cmd = "SQL_BATCH"
	case tdsRPC:
		cmd = "RPC"
	case tdsAttention:
		cmd = "ATTENTION"
	case tdsTransMgr:
		cmd = "TRANSACTION_MANAGER"
	case tdsBulkLoad:
		cmd = "BULK_LOAD"
	default:
		cmd = "UNKNOWN"
	}
	p.req = Request{App: MSSQL, Command: cmd, User: bstr(user), Database: bstr(db), ClientID: bstr(app)}
	sink.Request(&p.req)
	if p.recs.on {
		if typ == tdsLogin7 {
			p.sum.User, p.sum.Database, p.sum.AppName = string(user), string(db), string(app)
		}
		p.recs.add(sink, cmd)
	}
}

// prelogin reads the VERSION and ENCRYPTION options of a PRELOGIN body.
func (p *mssqlParser) prelogin(b []byte) (version string, encryption string) {
	for i := 0; i+5 <= len(b) && i < 5*16 && b[i] != 0xff; i += 5 {
		tok := b[i]
		off, n := int(binary.BigEndian.Uint16(b[i+1:])), int(binary.BigEndian.Uint16(b[i+3:]))
		if off+n > len(b) {
			continue
		}
		v := b[off : off+n]
		switch {
		case tok == 0 && n >= 4:
			start := p.buf.n
			p.buf.itoa(int64(v[0]))
			p.buf.join([]byte{'.'})
			p.buf.itoa(int64(v[1]))
			p.buf.join([]byte{'.'})
			p.buf.itoa(int64(binary.BigEndian.Uint16(v[2:])))
			version = bstr(p.buf.b[start:p.buf.n])
		case tok == 1 && n >= 1 && int(v[0]) < len(tdsEncryption):
			encryption = tdsEncryption[v[0]]
		}
	}
	return version, encryption
}

// login7 reads user name, database and application name (UTF-16LE) from
// a LOGIN7 body: a fixed part with (offset, length in characters) pairs
// starting at byte 36 (HostName, UserName, Password, AppName, ServerName,
// Extension, CltIntName, Language, Database).
func (p *mssqlParser) login7(b []byte) (user, db, app []byte) {
	field := func(i int) []byte {
		at := 36 + 4*i
		if at+4 > len(b) {
			return nil
		}
		off, n := int(binary.LittleEndian.Uint16(b[at:])), int(binary.LittleEndian.Uint16(b[at+2:]))
		if off+2*n > len(b) || n > 128 {
			return nil
		}
		start := p.buf.n
		for j := 0; j < n && p.buf.n < len(p.buf.b); j++ {
			c := b[off+2*j]
			if b[off+2*j+1] != 0 || c < 0x20 || c > 0x7e {
				c = '?'
			}
			p.buf.b[p.buf.n] = c
			p.buf.n++
		}
		return p.buf.b[start:p.buf.n]
	}
	return field(1), field(8), field(3)
}

func (p *mssqlParser) Summary() any {
	if !p.recs.on || (len(p.recs.list) == 0 && p.sum.ServerVersion == "") {
		return nil
	}
	s := p.sum // a copy: Reset must leave what Summary returned alone
	s.Messages = p.recs.list
	return &s
}
