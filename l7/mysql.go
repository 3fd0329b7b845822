package l7

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// MySQL and MariaDB client/server protocol. Every packet is a 3-byte
// little-endian payload length, a sequence number and the payload. The
// server speaks first with a Handshake v10 packet (protocol 10, server
// version); the client answers with a HandshakeResponse41 (user, database)
// or an SSLRequest, after which both directions are TLS. Then each command
// is a packet with sequence number 0 whose first byte is the command; the
// response starts with the packet of sequence number 1.
//
// Request: Command "CONNECT" for the handshake response (User, Database);
// for COM_QUERY and COM_STMT_PREPARE the statement kind ("SELECT",
// "INSERT"…, "QUERY" when the text has none); for other commands their name
// without "COM_" ("INIT_DB", "PING", "QUIT"…). User and Database are those
// of the connection (Database follows COM_INIT_DB).
// Response: the server handshake (Status -1, Version the server version),
// the authentication result and the first packet of each command's
// response: Status 0 for OK or a result set, the error number for ERR.

func init() {
	register(&Protocol{
		App:         MySQL,
		Transport:   TCP,
		ServerFirst: true,
		Ports:       []uint16{3306},
		Detect:      detectMySQL,
		New:         appNew[mysqlParser],
	})
}

const (
	mysqlCapConnectWithDB    = 0x00000008
	mysqlCapCompress         = 0x00000020
	mysqlCapProtocol41       = 0x00000200
	mysqlCapSSL              = 0x00000800
	mysqlCapSecureConn       = 0x00008000
	mysqlCapPluginAuthLenenc = 0x00200000

	mysqlMaxPayload = 0xffffff
	mysqlNameMax    = 64
)

var mysqlCommands = [...]string{
	0x00: "SLEEP", 0x01: "QUIT", 0x02: "INIT_DB", 0x03: "QUERY", 0x04: "FIELD_LIST",
	0x05: "CREATE_DB", 0x06: "DROP_DB", 0x07: "REFRESH", 0x08: "SHUTDOWN",
	0x09: "STATISTICS", 0x0a: "PROCESS_INFO", 0x0b: "CONNECT", 0x0c: "PROCESS_KILL",
	0x0d: "DEBUG", 0x0e: "PING", 0x0f: "TIME", 0x10: "DELAYED_INSERT",
	0x11: "CHANGE_USER", 0x12: "BINLOG_DUMP", 0x13: "TABLE_DUMP", 0x14: "CONNECT_OUT",
	0x15: "REGISTER_SLAVE", 0x16: "STMT_PREPARE", 0x17: "STMT_EXECUTE",
	0x18: "STMT_SEND_LONG_DATA", 0x19: "STMT_CLOSE", 0x1a: "STMT_RESET",
	0x1b: "SET_OPTION", 0x1c: "STMT_FETCH", 0x1d: "DAEMON", 0x1e: "BINLOG_DUMP_GTID",
	0x1f: "RESET_CONNECTION",
}

func detectMySQL(dir Dir, data []byte) Match {
	if len(data) < 5 {
		return NeedMore
	}
	n := int(data[0]) | int(data[1])<<8 | int(data[2])<<16
	if dir == FromServer {
		if data[3] != 0 || n < 7 || n > 1024 {
			return NoMatch
		}
		switch data[4] {
		case 10: // Handshake v10: NUL-terminated version, starting with a digit.
			v := data[5:]
			for i, c := range v {
				switch {
				case c == 0:
					if i == 0 {
						return NoMatch
					}
					return Matched
				case i == 0 && (c < '0' || c > '9'), c < 0x20 || c > 0x7e, i >= 64:
					return NoMatch
				}
			}
			return NeedMore
		case 0xff: // ERR instead of a handshake (host not allowed…).
			if len(data) < 9 {
				return NeedMore
			}
			code := binary.LittleEndian.Uint16(data[5:])
			if code < 1000 || code >= 2000 || !appIsPrintable(data[7:9]) {
				return NoMatch
			}
			return Matched
		}
		return NoMatch
	}
	// HandshakeResponse41 or SSLRequest: sequence 1, CLIENT_PROTOCOL_41,
	// then max packet size, character set and a zero filler (19 bytes; the
	// last 4 of the 23 carry MariaDB's extended capabilities).
	if data[3] != 1 || n < 32 || n > 4096 {
		return NoMatch
	}
	if len(data) < 8 {
		return NeedMore
	}
	caps := binary.LittleEndian.Uint32(data[4:])
	if caps&mysqlCapProtocol41 == 0 {
		return NoMatch
	}
	for i := 13; i < 32 && i < len(data); i++ {
		if data[i] != 0 {
			return NoMatch
		}
	}
	if len(data) < 32 {
		return NeedMore
	}
	return Matched
}

// mysqlSummary is the "mysql" object of analyze's flow JSON.
type mysqlSummary struct {
	ServerVersion string          `json:"server_version,omitempty"`
	User          string          `json:"user,omitempty"`
	Database      string          `json:"database,omitempty"`
	SSL           bool            `json:"ssl,omitempty"`
	Commands      []mysqlSumEntry `json:"commands,omitempty"`
}

type mysqlSumEntry struct {
	Command   string `json:"command"`
	Statement string `json:"statement,omitempty"`
	Database  string `json:"database,omitempty"`
	Error     int    `json:"error,omitempty"`
}

type mysqlPhase uint8

const (
	mysqlHandshake mysqlPhase = iota // waiting for the client's handshake response
	mysqlAuth                        // until the server's OK or ERR
	mysqlCommand
	mysqlOpaque // TLS or compression: nothing more to parse
)

type mysqlParser struct {
	phase mysqlPhase
	skip  [2]appSkip
	// cont is set while the next packet in that direction continues one of
	// maximum size.
	cont    [2]bool
	user    [mysqlNameMax]byte
	userLen int
	db      [mysqlNameMax]byte
	dbLen   int
	req     Request
	resp    Response
	buf     appBuf
	sum     mysqlSummary
	cmds    appRecords[mysqlSumEntry]
	summary bool
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *mysqlParser) Reset(cfg *ParserConfig) {
	c := appCfg(cfg)
	*p = mysqlParser{cmds: newAppRecords[mysqlSumEntry](c), summary: c.Summaries}
}

func (p *mysqlParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	return appFrames(dir, data, &p.skip[dir], p, sink)
}

func (p *mysqlParser) frameLen(_ Dir, rest []byte) (int64, error) {
	if p.phase == mysqlOpaque {
		return 0, ErrDone
	}
	if len(rest) < 4 {
		return 0, nil
	}
	return 4 + (int64(rest[0]) | int64(rest[1])<<8 | int64(rest[2])<<16), nil
}

func (p *mysqlParser) frame(dir Dir, msg []byte, sink Sink) error {
	cont := p.cont[dir]
	p.cont[dir] = int(msg[0])|int(msg[1])<<8|int(msg[2])<<16 == mysqlMaxPayload
	if cont {
		return nil
	}
	if dir == FromClient {
		return p.client(msg[3], msg[4:], sink)
	}
	p.server(msg[3], msg[4:], sink)
	return nil
}

func (p *mysqlParser) client(seq byte, pl []byte, sink Sink) error {
	switch p.phase {
	case mysqlHandshake:
		if len(pl) < 32 {
			return fmt.Errorf("mysql: handshake response of %d bytes, want at least 32", len(pl))
		}
		caps := binary.LittleEndian.Uint32(pl)
		if caps&mysqlCapProtocol41 == 0 {
			return fmt.Errorf("mysql: client capabilities %#x lack CLIENT_PROTOCOL_41", caps)
		}
		if len(pl) == 32 && caps&mysqlCapSSL != 0 {
			sink.Note("SSLRequest")
			p.sum.SSL = true
			p.phase = mysqlOpaque
			return nil
		}
		p.handshakeResponse(caps, pl[32:], sink)
		p.phase = mysqlAuth
		if caps&mysqlCapCompress != 0 {
			sink.Note("compressed")
			p.phase = mysqlOpaque
		}
		return nil
	case mysqlAuth:
		return nil // auth switch responses and more auth data
	}
	if seq != 0 || len(pl) == 0 {
		return nil
	}
	cmd := pl[0]
	name := "UNKNOWN"
	if int(cmd) < len(mysqlCommands) {
		name = mysqlCommands[cmd]
	}
	p.buf.reset()
	entry := mysqlSumEntry{Command: name}
	command := name
	switch cmd {
	case 0x03, 0x16: // COM_QUERY, COM_STMT_PREPARE
		kind := appSQLKind(pl[1:])
		command = "QUERY"
		if kind != nil {
			command = p.buf.upper(kind)
		}
		entry.Statement = command
	case 0x02: // COM_INIT_DB
		p.dbLen = copy(p.db[:], pl[1:])
		if p.cmds.on {
			entry.Database = string(p.db[:p.dbLen])
		}
	}
	p.req = Request{App: MySQL, Command: command, User: bstr(p.user[:p.userLen]), Database: bstr(p.db[:p.dbLen])}
	sink.Request(&p.req)
	if p.cmds.on {
		entry.Statement = strings.Clone(entry.Statement)
		p.cmds.add(sink, entry)
	}
	return nil
}

// handshakeResponse reads user and database from a HandshakeResponse41
// after its fixed 32 bytes.
func (p *mysqlParser) handshakeResponse(caps uint32, b []byte, sink Sink) {
	user, b := mysqlCString(b)
	p.userLen = copy(p.user[:], user)
	switch {
	case caps&mysqlCapPluginAuthLenenc != 0:
		n, w := mysqlLenenc(b)
		if w == 0 || n > uint64(len(b)-w) {
			b = nil
		} else {
			b = b[w+int(n):]
		}
	case caps&mysqlCapSecureConn != 0:
		if len(b) == 0 || int(b[0]) > len(b)-1 {
			b = nil
		} else {
			b = b[1+int(b[0]):]
		}
	default:
		_, b = mysqlCString(b)
	}
	if caps&mysqlCapConnectWithDB != 0 {
		db, _ := mysqlCString(b)
		p.dbLen = copy(p.db[:], db)
	}
	p.req = Request{App: MySQL, Command: "CONNECT", User: bstr(p.user[:p.userLen]), Database: bstr(p.db[:p.dbLen])}
	sink.Request(&p.req)
	if p.summary {
		p.sum.User = string(p.user[:p.userLen])
		p.sum.Database = string(p.db[:p.dbLen])
	}
}

func (p *mysqlParser) server(seq byte, pl []byte, sink Sink) {
	if len(pl) == 0 {
		return
	}
	status := 0
	if pl[0] == 0xff {
		status = -1
		if len(pl) >= 3 {
			status = int(binary.LittleEndian.Uint16(pl[1:]))
		}
	}
	switch {
	case p.phase == mysqlHandshake && seq == 0:
		if pl[0] == 10 {
			v, _ := mysqlCString(pl[1:])
			p.resp = Response{App: MySQL, Status: -1, Version: bstr(v)}
			sink.Response(&p.resp)
			if p.summary {
				p.sum.ServerVersion = string(v)
			}
			return
		}
	case p.phase == mysqlAuth:
		if pl[0] != 0x00 && pl[0] != 0xff {
			return // auth switch request or more auth data
		}
		p.phase = mysqlCommand
	case p.phase == mysqlCommand && seq == 1:
		if n := len(p.cmds.list); status > 0 && n > 0 && p.cmds.list[n-1].Error == 0 {
			p.cmds.list[n-1].Error = status
		}
	default:
		return
	}
	p.resp = Response{App: MySQL, Status: status}
	sink.Response(&p.resp)
}

// mysqlCString splits a NUL-terminated string (or all of b without a NUL)
// from b.
func mysqlCString(b []byte) (s, rest []byte) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i+1:]
}

// mysqlLenenc decodes a length-encoded integer; w is its width, 0 when b is
// too short or starts with a marker that is not an integer.
func mysqlLenenc(b []byte) (n uint64, w int) {
	if len(b) == 0 {
		return 0, 0
	}
	switch c := b[0]; {
	case c < 0xfb:
		return uint64(c), 1
	case c == 0xfc && len(b) >= 3:
		return uint64(binary.LittleEndian.Uint16(b[1:])), 3
	case c == 0xfd && len(b) >= 4:
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4
	case c == 0xfe && len(b) >= 9:
		return binary.LittleEndian.Uint64(b[1:]), 9
	}
	return 0, 0
}

func (p *mysqlParser) Summary() any {
	if !p.summary {
		return nil
	}
	s := p.sum // a copy: Reset must leave what Summary returned alone
	s.Commands = p.cmds.list
	if s.ServerVersion == "" && s.User == "" && !s.SSL && len(s.Commands) == 0 {
		return nil
	}
	return &s
}
