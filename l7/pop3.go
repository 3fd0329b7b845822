package l7

// POP3 (RFC 1939, RFC 2449). The server greets with "+OK"; the client
// sends command lines (USER, PASS, STAT, LIST, RETR, DELE, QUIT, CAPA,
// STLS, AUTH…); each reply starts with "+OK" or "-ERR", and the positive
// replies to CAPA, RETR, TOP and argument-less LIST and UIDL go on over
// more lines up to a line with a single ".". During AUTH the server sends
// "+ " challenges and the client bare responses. After STLS is accepted
// both directions are TLS: the parser notes "STLS" and stops.
//
// Request: Command the verb in upper case; User the USER argument.
// Response: each reply (the greeting too), Status 0 for +OK and 1 for
// -ERR.

func init() {
	register(&Protocol{
		App:         POP3,
		Transport:   TCP,
		ServerFirst: true,
		Ports:       []uint16{110},
		Detect:      detectPOP3,
		New:         appNew[pop3Parser],
	})
}

// pop3Openers are the commands a client may open with ("USER" is shared
// with FTP: the port breaks that tie; "AUTH" would be ambiguous with more).
var pop3Openers = []string{"CAPA", "USER", "APOP", "STLS"}

func detectPOP3(dir Dir, data []byte) Match {
	if dir == FromServer {
		m := appDetectPrefix(data, "+OK")
		if m == Matched && len(data) > 3 && data[3] != ' ' && data[3] != '\r' && data[3] != '\n' {
			return NoMatch
		}
		if m == Matched && len(data) == 3 {
			return NeedMore
		}
		return m
	}
	return appDetectVerb(data, pop3Openers)
}

// pop3Summary is the "pop3" object of analyze's flow JSON.
type pop3Summary struct {
	Greeting string   `json:"greeting,omitempty"`
	User     string   `json:"user,omitempty"`
	Commands []string `json:"commands,omitempty"`
	STLS     bool     `json:"stls,omitempty"`
}

const pop3Pipeline = 16

type pop3Parser struct {
	t       appTextSession
	greeted bool
	// pending is a ring of the commands awaiting a reply: whether the
	// positive reply is multi-line.
	pending [pop3Pipeline]bool
	head, n int
	multi   bool // inside a multi-line reply
	auth    bool // inside an AUTH exchange
	stls    bool
	user    string
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *pop3Parser) Reset(cfg *ParserConfig) {
	*p = pop3Parser{t: newAppTextSession(cfg)}
}

func (p *pop3Parser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	return p.t.run(dir, data, sink, p)
}

func (p *pop3Parser) line(dir Dir, line []byte, sink Sink) error {
	if dir == FromServer {
		return p.serverLine(line, sink)
	}
	if p.auth || len(line) == 0 {
		return nil // SASL responses
	}
	verb, args := appFirstWord(line)
	cmd := p.t.command(POP3, verb, sink)
	multi := false
	switch cmd {
	case "CAPA", "RETR", "TOP":
		multi = true
	case "LIST", "UIDL":
		multi = len(args) == 0
	case "USER":
		p.t.req.User = bstr(args)
		if p.t.cmds.on {
			p.user = string(args)
		}
	case "AUTH":
		p.auth = len(args) > 0
	case "STLS":
		p.t.upgrade = true
	}
	if p.n < pop3Pipeline {
		p.pending[(p.head+p.n)%pop3Pipeline] = multi
		p.n++
	}
	p.t.send(sink)
	return nil
}

func (p *pop3Parser) serverLine(line []byte, sink Sink) error {
	if p.multi {
		if len(line) == 1 && line[0] == '.' {
			p.multi = false
		}
		return nil
	}
	ok := len(line) >= 3 && string(line[:3]) == "+OK"
	if !ok && !(len(line) >= 4 && string(line[:4]) == "-ERR") {
		return nil // "+ " SASL challenges and stray lines
	}
	if !p.greeted {
		p.greeted = true
		p.t.setGreeting(line)
		p.t.reply(POP3, pop3Status(ok), sink)
		return nil
	}
	multi := false
	if p.n > 0 {
		multi = p.pending[p.head]
		p.head = (p.head + 1) % pop3Pipeline
		p.n--
	}
	p.auth = false
	p.t.reply(POP3, pop3Status(ok), sink)
	switch {
	case p.t.upgrade && ok:
		p.stls = true
		p.t.upgraded("STLS", sink)
	case p.t.upgrade:
		p.t.upgrade = false
	case ok && multi:
		p.multi = true
	}
	return nil
}

func pop3Status(ok bool) int {
	if ok {
		return 0
	}
	return 1
}

func (p *pop3Parser) Summary() any {
	if !p.t.cmds.on || (!p.greeted && len(p.t.cmds.list) == 0) {
		return nil
	}
	return &pop3Summary{Greeting: p.t.greeting, User: p.user, Commands: p.t.cmds.list, STLS: p.stls}
}
