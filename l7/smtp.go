package l7

import "fmt"

// SMTP (RFC 5321) and its submission variant. The server greets with a
// "220" reply; the client sends command lines (EHLO, MAIL, RCPT, DATA,
// BDAT, STARTTLS, AUTH, QUIT…); every reply is one or more "NNN-text"
// lines ended by "NNN text". After DATA is accepted (354) the client sends
// the message until a line with a single "."; BDAT announces a chunk of
// that many bytes. After STARTTLS is accepted (220) both directions are
// TLS: the parser notes "STARTTLS" and stops.
//
// Request: Command the verb in upper case ("EHLO", "MAIL", "RCPT").
// Response: each complete reply, Status its code (250, 354, 550…).

func init() {
	register(&Protocol{
		App:         SMTP,
		Transport:   TCP,
		ServerFirst: true,
		Ports:       []uint16{25, 465, 587, 2525},
		Detect:      detectSMTP,
		New:         appNew[smtpParser],
	})
}

var smtpOpeners = []string{"EHLO", "HELO", "LHLO"}

func detectSMTP(dir Dir, data []byte) Match {
	if dir == FromServer {
		return appDetectGreeting(data, "SMTP")
	}
	return appDetectVerb(data, smtpOpeners)
}

// smtpSummary is the "smtp" object of analyze's flow JSON.
type smtpSummary struct {
	Greeting string   `json:"greeting,omitempty"`
	Helo     string   `json:"helo,omitempty"`
	Commands []string `json:"commands,omitempty"`
	StartTLS bool     `json:"starttls,omitempty"`
}

type smtpParser struct {
	t appTextSession
	// data is set while the client sends a message body (after 354).
	data     bool
	greeted  bool
	helo     string
	startTLS bool
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *smtpParser) Reset(cfg *ParserConfig) {
	*p = smtpParser{t: newAppTextSession(cfg)}
}

func (p *smtpParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	return p.t.run(dir, data, sink, p)
}

func (p *smtpParser) line(dir Dir, line []byte, sink Sink) error {
	if dir == FromServer {
		code, more, ok := appReplyCode(line)
		if !ok {
			return fmt.Errorf("smtp: reply line %.40q has no status code", line)
		}
		if !p.greeted {
			p.greeted = true
			p.t.setGreeting(line)
		}
		if more {
			return nil
		}
		p.t.reply(SMTP, code, sink)
		switch {
		case code == 354:
			p.data = true
		case p.t.upgrade && code == 220:
			p.startTLS = true
			p.t.upgraded("STARTTLS", sink)
		case p.t.upgrade:
			p.t.upgrade = false
		}
		return nil
	}
	if p.data {
		if len(line) == 1 && line[0] == '.' {
			p.data = false
		}
		return nil
	}
	if len(line) == 0 {
		return nil
	}
	verb, args := appFirstWord(line)
	cmd := p.t.command(SMTP, verb, sink)
	switch cmd {
	case "STARTTLS":
		p.t.upgrade = true
	case "BDAT":
		size, _ := appFirstWord(args)
		n, ok := memcachedSize(size)
		if !ok {
			return fmt.Errorf("smtp: BDAT with bad size %.20q", size)
		}
		p.t.skip[FromClient] = appSkip(n)
	case "EHLO", "HELO", "LHLO":
		if p.t.cmds.on && p.helo == "" {
			p.helo = string(args)
		}
	}
	p.t.send(sink)
	return nil
}

func (p *smtpParser) Summary() any {
	if !p.t.cmds.on || (!p.greeted && len(p.t.cmds.list) == 0) {
		return nil
	}
	return &smtpSummary{Greeting: p.t.greeting, Helo: p.helo, Commands: p.t.cmds.list, StartTLS: p.startTLS}
}
