package l7

import "fmt"

// FTP control connection (RFC 959, RFC 4217). The server greets with a
// "220" reply; the client sends command lines (USER, PASS, CWD, RETR…);
// replies are "NNN text" or multi-line "NNN-…" ended by "NNN text". After
// "AUTH TLS" (or "AUTH SSL") is accepted with 234 the control connection is
// TLS: the parser notes "AUTH TLS" and stops. Data connections are flows
// of their own and are not FTP.
//
// Request: Command the verb in upper case ("USER", "RETR", "STOR"); User
// the USER argument; Path the argument of file and directory commands
// (RETR, STOR, CWD, LIST…).
// Response: each complete reply, Status its code (220, 230, 530…).

func init() {
	register(&Protocol{
		App:         FTP,
		Transport:   TCP,
		ServerFirst: true,
		Ports:       []uint16{21},
		Detect:      detectFTP,
		New:         appNew[ftpParser],
	})
}

// ftpOpeners are the commands a client may open with ("USER" is shared
// with POP3: the port breaks that tie).
var ftpOpeners = []string{"USER", "AUTH", "FEAT", "SYST", "OPTS", "HOST"}

func detectFTP(dir Dir, data []byte) Match {
	if dir == FromServer {
		return appDetectGreeting(data, "FTP")
	}
	m := appDetectVerb(data, ftpOpeners)
	if m == Matched && appHasPrefixFold(data, "AUTH") {
		// Only "AUTH TLS"/"AUTH SSL" open an FTP session.
		if len(data) < 8 {
			return NeedMore
		}
		if !appHasPrefixFold(data[5:], "TLS") && !appHasPrefixFold(data[5:], "SSL") {
			return NoMatch
		}
	}
	return m
}

// ftpPathVerbs take a path argument.
var ftpPathVerbs = []string{
	"RETR", "STOR", "STOU", "APPE", "DELE", "CWD", "XCWD", "MKD", "XMKD", "RMD",
	"XRMD", "LIST", "NLST", "MLSD", "MLST", "SIZE", "MDTM", "RNFR", "RNTO", "STAT",
}

// ftpSummary is the "ftp" object of analyze's flow JSON.
type ftpSummary struct {
	Greeting string   `json:"greeting,omitempty"`
	User     string   `json:"user,omitempty"`
	Commands []string `json:"commands,omitempty"`
	AuthTLS  bool     `json:"auth_tls,omitempty"`
}

type ftpParser struct {
	t       appTextSession
	greeted bool
	authTLS bool
	user    string
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *ftpParser) Reset(cfg *ParserConfig) {
	*p = ftpParser{t: newAppTextSession(cfg)}
}

func (p *ftpParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	return p.t.run(dir, data, sink, p)
}

func (p *ftpParser) line(dir Dir, line []byte, sink Sink) error {
	if dir == FromServer {
		code, more, ok := appReplyCode(line)
		if !ok {
			// Lines inside a multi-line reply need not start with a code.
			return nil
		}
		if !p.greeted {
			p.greeted = true
			p.t.setGreeting(line)
		}
		if more {
			return nil
		}
		p.t.reply(FTP, code, sink)
		switch {
		case p.t.upgrade && code == 234:
			p.authTLS = true
			p.t.upgraded("AUTH TLS", sink)
		case p.t.upgrade:
			p.t.upgrade = false
		}
		return nil
	}
	if len(line) == 0 {
		return nil
	}
	verb, args := appFirstWord(line)
	cmd := p.t.command(FTP, verb, sink)
	switch cmd {
	case "UNKNOWN":
		if !appIsPrintable(line) {
			return fmt.Errorf("ftp: command line %.40q is not text", line)
		}
	case "USER":
		p.t.req.User = bstr(args)
		if p.t.cmds.on {
			p.user = string(args)
		}
	case "AUTH":
		if appEqualFold(args, "TLS") || appEqualFold(args, "SSL") || appEqualFold(args, "TLS-C") {
			p.t.upgrade = true
		}
	default:
		for _, v := range ftpPathVerbs {
			if cmd == v {
				p.t.req.Path = bstr(args)
				break
			}
		}
	}
	p.t.send(sink)
	return nil
}

func (p *ftpParser) Summary() any {
	if !p.t.cmds.on || (!p.greeted && len(p.t.cmds.list) == 0) {
		return nil
	}
	return &ftpSummary{Greeting: p.t.greeting, User: p.user, Commands: p.t.cmds.list, AuthTLS: p.authTLS}
}
