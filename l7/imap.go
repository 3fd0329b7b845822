package l7

import "bytes"

// IMAP4rev1/rev2 (RFC 3501, RFC 9051). The server greets with an untagged
// "* OK" (or "* PREAUTH", "* BYE"); the client sends tagged commands
// ("a1 LOGIN …"); the server sends untagged data ("* …"), continuation
// requests ("+ …") and a tagged completion ("a1 OK|NO|BAD …"). A line
// ending in a literal "{n}" or "{n+}" is followed by n bytes of data and
// the rest of the same command or response; literals are skipped. During
// AUTHENTICATE and IDLE the client's lines are not commands. After
// STARTTLS is accepted both directions are TLS: the parser notes
// "STARTTLS" and stops.
//
// Request: Command the command in upper case ("LOGIN", "SELECT", "UID
// FETCH"); User the LOGIN user name (when not a literal).
// Response: the greeting and each tagged completion, Status 0 for OK
// (and PREAUTH), 1 for NO (and BYE), 2 for BAD.

func init() {
	register(&Protocol{
		App:         IMAP,
		Transport:   TCP,
		ServerFirst: true,
		Ports:       []uint16{143},
		Detect:      detectIMAP,
		New:         appNew[imapParser],
	})
}

var imapOpeners = []string{"CAPABILITY", "LOGIN", "AUTHENTICATE", "STARTTLS", "ID", "NOOP", "ENABLE"}

func detectIMAP(dir Dir, data []byte) Match {
	if dir == FromServer {
		for _, g := range []string{"* OK", "* PREAUTH", "* BYE"} {
			if m := appDetectPrefix(data, g); m != NoMatch {
				return m
			}
		}
		return NoMatch
	}
	// A tag (letters, digits, '.', at most 16), a space, a command.
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == ' ' {
			if i == 0 {
				return NoMatch
			}
			return appDetectVerb(data[i+1:], imapOpeners)
		}
		if i >= 16 || !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.') {
			return NoMatch
		}
	}
	return NeedMore
}

// imapSummary is the "imap" object of analyze's flow JSON.
type imapSummary struct {
	Greeting string   `json:"greeting,omitempty"`
	User     string   `json:"user,omitempty"`
	Commands []string `json:"commands,omitempty"`
	StartTLS bool     `json:"starttls,omitempty"`
}

type imapParser struct {
	t       appTextSession
	greeted bool
	// cont is set per direction while the next line continues a command
	// or response after a literal.
	cont [2]bool
	// quiet is set while client lines are not commands (AUTHENTICATE, IDLE).
	quiet    bool
	tlsTag   [16]byte
	tlsTagN  int
	startTLS bool
	user     string
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *imapParser) Reset(cfg *ParserConfig) {
	*p = imapParser{t: newAppTextSession(cfg)}
}

func (p *imapParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	return p.t.run(dir, data, sink, p)
}

// imapLiteral returns the size of a literal announced at the end of line.
func imapLiteral(line []byte) (int64, bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	num := bytes.TrimSuffix(line[i+1:len(line)-1], []byte("+"))
	n, ok := memcachedSize(num)
	return n, ok
}

func (p *imapParser) line(dir Dir, line []byte, sink Sink) error {
	cont := p.cont[dir]
	n, lit := imapLiteral(line)
	p.cont[dir] = lit
	if lit {
		p.t.skip[dir] = appSkip(n)
	}
	if dir == FromServer {
		if !cont {
			p.serverLine(line, sink)
		}
		return nil
	}
	if cont || p.quiet || len(line) == 0 {
		if p.quiet && appEqualFold(line, "DONE") {
			p.quiet = false // end of IDLE
		}
		return nil
	}
	tag, rest := appFirstWord(line)
	verb, args := appFirstWord(rest)
	if len(verb) == 0 {
		return nil
	}
	cmd := p.t.command(IMAP, verb, sink)
	switch cmd {
	case "UID":
		sub, _ := appFirstWord(args)
		if appIsLetters(sub) && len(sub) <= 16 {
			p.t.buf.reset()
			p.t.req.Command = p.t.buf.upper(rest[:len(verb)+1+len(sub)])
		}
	case "LOGIN":
		user, _ := appFirstWord(args)
		if !lit || len(user) > 0 && user[0] != '{' {
			user = bytes.Trim(user, `"`)
			p.t.req.User = bstr(user)
			if p.t.cmds.on {
				p.user = string(user)
			}
		}
	case "AUTHENTICATE", "IDLE":
		p.quiet = true
	case "STARTTLS":
		p.t.upgrade = true
		p.tlsTagN = copy(p.tlsTag[:], tag)
	}
	p.t.send(sink)
	return nil
}

func (p *imapParser) serverLine(line []byte, sink Sink) {
	tag, rest := appFirstWord(line)
	status, _ := appFirstWord(rest)
	if len(tag) == 1 && tag[0] == '+' {
		return // continuation request
	}
	if len(tag) == 1 && tag[0] == '*' {
		if p.greeted {
			return // untagged data
		}
		p.greeted = true
		p.t.setGreeting(line)
		code := -1
		switch {
		case appEqualFold(status, "OK"), appEqualFold(status, "PREAUTH"):
			code = 0
		case appEqualFold(status, "BYE"):
			code = 1
		}
		p.t.reply(IMAP, code, sink)
		return
	}
	code := -1
	switch {
	case appEqualFold(status, "OK"):
		code = 0
	case appEqualFold(status, "NO"):
		code = 1
	case appEqualFold(status, "BAD"):
		code = 2
	}
	if code < 0 {
		return
	}
	p.quiet = false
	p.t.reply(IMAP, code, sink)
	if p.t.upgrade && bytes.Equal(tag, p.tlsTag[:p.tlsTagN]) {
		if code == 0 {
			p.startTLS = true
			p.t.upgraded("STARTTLS", sink)
			return
		}
		p.t.upgrade = false
	}
}

func (p *imapParser) Summary() any {
	if !p.t.cmds.on || (!p.greeted && len(p.t.cmds.list) == 0) {
		return nil
	}
	return &imapSummary{Greeting: p.t.greeting, User: p.user, Commands: p.t.cmds.list, StartTLS: p.startTLS}
}
