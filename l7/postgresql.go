package l7

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// PostgreSQL frontend/backend protocol 3.0 (and 3.2). The client opens with
// an untyped message, int32 length then int32 code: a StartupMessage
// (protocol 196608 for 3.0, then NUL-terminated parameter pairs: user,
// database, application_name…), an SSLRequest or GSSENCRequest (the server
// answers one byte, 'S' to go on in TLS or 'N' to go on in clear), or a
// CancelRequest. Every later message is a type byte and an int32 length
// that counts itself.
//
// Request: Command "STARTUP" (User, Database, ClientID the
// application_name), "CANCEL" for a CancelRequest, and for each simple
// Query ('Q') or extended-protocol Parse ('P') the statement kind
// ("SELECT"…, "QUERY" when the text has none). User and Database are the
// connection's.
// Response: the authentication result (Status 0 for AuthenticationOk,
// 1 for ErrorResponse), then for each CommandComplete Status 0 and for each
// ErrorResponse Status 1.

func init() {
	register(&Protocol{
		App:       PostgreSQL,
		Transport: TCP,
		Ports:     []uint16{5432},
		Detect:    detectPostgreSQL,
		New:       appNew[pgParser],
	})
}

const (
	pgProto30      = 196608   // 3.0
	pgProto32      = 196610   // 3.2
	pgSSLRequest   = 80877103 // 1234.5679
	pgGSSENC       = 80877104 // 1234.5680
	pgCancel       = 80877102 // 1234.5678
	pgMaxStartup   = 10000
	pgMaxMessage   = 1 << 30
	pgNameMax      = 64
	pgAuthOK       = 0
	pgStatusOK     = 0
	pgStatusFailed = 1
)

func detectPostgreSQL(dir Dir, data []byte) Match {
	if dir == FromServer {
		// An Authentication request: 'R', length 8..1024, a known code.
		if len(data) == 0 {
			return NeedMore
		}
		if data[0] != 'R' {
			return NoMatch
		}
		if len(data) < 9 {
			return NeedMore
		}
		n := binary.BigEndian.Uint32(data[1:])
		code := binary.BigEndian.Uint32(data[5:])
		if n < 8 || n > 1024 || code > 12 || code == 1 || code == 4 || code == 6 {
			return NoMatch
		}
		return Matched
	}
	if len(data) < 8 {
		if len(data) > 0 && data[0] != 0 {
			return NoMatch
		}
		return NeedMore
	}
	n := binary.BigEndian.Uint32(data)
	switch code := binary.BigEndian.Uint32(data[4:]); code {
	case pgSSLRequest, pgGSSENC:
		if n == 8 {
			return Matched
		}
	case pgCancel:
		if n == 16 {
			return Matched
		}
	case pgProto30, pgProto32:
		// Parameters: the first name is a lower-case word.
		if n < 9 || n > pgMaxStartup {
			return NoMatch
		}
		if len(data) == 8 {
			return NeedMore
		}
		if c := data[8]; c < 'a' || c > 'z' {
			return NoMatch
		}
		return Matched
	}
	return NoMatch
}

// postgresqlSummary is the "postgresql" object of analyze's flow JSON.
type postgresqlSummary struct {
	User            string           `json:"user,omitempty"`
	Database        string           `json:"database,omitempty"`
	ApplicationName string           `json:"application_name,omitempty"`
	SSLRequest      bool             `json:"ssl_request,omitempty"`
	SSL             bool             `json:"ssl,omitempty"`
	ServerVersion   string           `json:"server_version,omitempty"`
	Queries         []pgSummaryQuery `json:"queries,omitempty"`
	Errors          int              `json:"errors,omitempty"`
}

type pgSummaryQuery struct {
	// Protocol is "simple" (Query) or "extended" (Parse).
	Protocol  string `json:"protocol"`
	Statement string `json:"statement"`
}

type pgParser struct {
	// startup is set while the client's next message is untyped.
	startup bool
	// sslAsked is set between an SSLRequest/GSSENCRequest and the server's
	// one-byte answer.
	sslAsked bool
	opaque   bool
	authDone bool
	skip     [2]appSkip
	user     [pgNameMax]byte
	userLen  int
	db       [pgNameMax]byte
	dbLen    int
	app      [pgNameMax]byte
	appLen   int
	req      Request
	resp     Response
	buf      appBuf
	summary  bool
	sum      postgresqlSummary
	queries  appRecords[pgSummaryQuery]
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *pgParser) Reset(cfg *ParserConfig) {
	c := appCfg(cfg)
	*p = pgParser{startup: true, summary: c.Summaries, queries: newAppRecords[pgSummaryQuery](c)}
}

func (p *pgParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	return appFrames(dir, data, &p.skip[dir], p, sink)
}

func (p *pgParser) frameLen(dir Dir, rest []byte) (int64, error) {
	switch {
	case p.opaque:
		return 0, ErrDone
	case dir == FromServer && p.sslAsked:
		return 1, nil // 'S' or 'N'
	case dir == FromClient && p.startup:
		if len(rest) < 8 {
			return 0, nil
		}
		n := int64(binary.BigEndian.Uint32(rest))
		if n < 8 || n > pgMaxStartup {
			return 0, fmt.Errorf("postgresql: startup message length %d out of range 8..%d", n, pgMaxStartup)
		}
		return n, nil
	}
	if len(rest) < 5 {
		return 0, nil
	}
	n := int64(binary.BigEndian.Uint32(rest[1:])) + 1
	if n < 5 || n > pgMaxMessage {
		return 0, fmt.Errorf("postgresql: %v message %q length %d out of range", dir, rest[0], n-1)
	}
	return n, nil
}

func (p *pgParser) frame(dir Dir, msg []byte, sink Sink) error {
	switch {
	case dir == FromServer && p.sslAsked:
		p.sslAsked = false
		switch msg[0] {
		case 'S':
			sink.Note("SSL accepted")
			p.sum.SSL = true
			p.opaque = true
		case 'N':
		default:
			return fmt.Errorf("postgresql: answer %#x to SSLRequest, want 'S' or 'N'", msg[0])
		}
		return nil
	case dir == FromClient && p.startup:
		return p.startupMessage(msg, sink)
	case dir == FromClient:
		p.clientMessage(msg[0], msg[5:], sink)
		return nil
	}
	p.serverMessage(msg[0], msg[5:], sink)
	return nil
}

func (p *pgParser) startupMessage(msg []byte, sink Sink) error {
	code := binary.BigEndian.Uint32(msg[4:])
	switch code {
	case pgSSLRequest, pgGSSENC:
		sink.Note("SSLRequest")
		p.sum.SSLRequest = true
		p.sslAsked = true
		return nil
	case pgCancel:
		p.startup = false
		p.report(sink, "CANCEL")
		return nil
	case pgProto30, pgProto32:
	default:
		return fmt.Errorf("postgresql: startup message with unknown code %d", code)
	}
	p.startup = false
	params := msg[8:]
	for len(params) > 1 {
		var k, v []byte
		k, params = mysqlCString(params)
		v, params = mysqlCString(params)
		switch string(k) {
		case "user":
			p.userLen = copy(p.user[:], v)
		case "database":
			p.dbLen = copy(p.db[:], v)
		case "application_name":
			p.appLen = copy(p.app[:], v)
		}
	}
	if p.dbLen == 0 { // the server defaults the database to the user name
		p.dbLen = copy(p.db[:], p.user[:p.userLen])
	}
	p.req = Request{App: PostgreSQL, Command: "STARTUP", User: bstr(p.user[:p.userLen]),
		Database: bstr(p.db[:p.dbLen]), ClientID: bstr(p.app[:p.appLen])}
	sink.Request(&p.req)
	if p.summary {
		p.sum.User = string(p.user[:p.userLen])
		p.sum.Database = string(p.db[:p.dbLen])
		p.sum.ApplicationName = string(p.app[:p.appLen])
	}
	return nil
}

func (p *pgParser) clientMessage(typ byte, body []byte, sink Sink) {
	var q []byte
	proto := "simple"
	switch typ {
	case 'Q':
		q = body
	case 'P': // Parse: statement name, query
		_, q = mysqlCString(body)
		proto = "extended"
	default:
		return
	}
	p.buf.reset()
	cmd := "QUERY"
	if kind := appSQLKind(q); kind != nil {
		cmd = p.buf.upper(kind)
	}
	p.report(sink, cmd)
	if p.queries.on {
		p.queries.add(sink, pgSummaryQuery{Protocol: proto, Statement: strings.Clone(cmd)})
	}
}

func (p *pgParser) report(sink Sink, cmd string) {
	p.req = Request{App: PostgreSQL, Command: cmd, User: bstr(p.user[:p.userLen]),
		Database: bstr(p.db[:p.dbLen]), ClientID: bstr(p.app[:p.appLen])}
	sink.Request(&p.req)
}

func (p *pgParser) serverMessage(typ byte, body []byte, sink Sink) {
	status := -2
	switch typ {
	case 'R':
		if !p.authDone && len(body) >= 4 && binary.BigEndian.Uint32(body) == pgAuthOK {
			p.authDone = true
			status = pgStatusOK
		}
	case 'C':
		status = pgStatusOK
	case 'E':
		status = pgStatusFailed
		p.sum.Errors++
	case 'S':
		if p.summary {
			k, rest := mysqlCString(body)
			if bytes.Equal(k, []byte("server_version")) {
				v, _ := mysqlCString(rest)
				p.sum.ServerVersion = string(v)
			}
		}
	}
	if status == -2 {
		return
	}
	p.resp = Response{App: PostgreSQL, Status: status}
	sink.Response(&p.resp)
}

func (p *pgParser) Summary() any {
	if !p.summary {
		return nil
	}
	s := p.sum // a copy: Reset must leave what Summary returned alone
	s.Queries = p.queries.list
	if s.User == "" && !s.SSLRequest && len(s.Queries) == 0 && s.ServerVersion == "" {
		return nil
	}
	return &s
}
