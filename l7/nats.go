package l7

import (
	"fmt"
	"strings"
)

// NATS client protocol. The server speaks first with "INFO {json}"; the
// client answers "CONNECT {json}" and then sends PUB/HPUB (subject,
// optional reply subject, sizes, then a payload of that size and CR LF),
// SUB (subject, optional queue group, sid), UNSUB, PING and PONG. The
// server sends MSG/HMSG deliveries (with payloads), PING/PONG, +OK and
// -ERR.
//
// Request: Command the verb ("CONNECT", "PUB", "HPUB", "SUB", "UNSUB",
// "PING", "PONG"); Topic the subject of PUB, HPUB and SUB; for CONNECT,
// User the "user" and ClientID the "name" of the JSON options, Version the
// client "version".
// Response: "-ERR" with Status 1 (the text is in the summary), INFO with
// Status -1 and Version the server "version".

func init() {
	register(&Protocol{
		App:         NATS,
		Transport:   TCP,
		ServerFirst: true,
		Ports:       []uint16{4222},
		Detect:      detectNATS,
		New:         appNew[natsParser],
	})
}

const natsMaxPayload = 64 << 20

func detectNATS(dir Dir, data []byte) Match {
	if dir == FromServer {
		return appDetectPrefix(data, "INFO {")
	}
	return appDetectPrefix(data, "CONNECT {")
}

// natsSummary is the "nats" object of analyze's flow JSON.
type natsSummary struct {
	ServerName    string         `json:"server_name,omitempty"`
	ServerVersion string         `json:"server_version,omitempty"`
	ClientName    string         `json:"client_name,omitempty"`
	ClientLang    string         `json:"client_lang,omitempty"`
	ClientVersion string         `json:"client_version,omitempty"`
	User          string         `json:"user,omitempty"`
	Commands      []natsSumEntry `json:"commands,omitempty"`
	Errors        []string       `json:"errors,omitempty"`
}

type natsSumEntry struct {
	Command string `json:"command"`
	Subject string `json:"subject,omitempty"`
}

type natsParser struct {
	lines [2]appLineReader
	skip  [2]appSkip
	req   Request
	resp  Response
	buf   appBuf
	recs  appRecords[natsSumEntry]
	sum   natsSummary
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *natsParser) Reset(cfg *ParserConfig) {
	*p = natsParser{recs: newAppRecords[natsSumEntry](appCfg(cfg))}
}

func (p *natsParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	off := 0
	for off < len(data) {
		if p.skip[dir] > 0 {
			off += p.skip[dir].take(data[off:])
			continue
		}
		line, used, ok := p.lines[dir].next(data[off:])
		if used == 0 {
			break
		}
		off += used
		if !ok || len(line) == 0 {
			continue
		}
		verb, args := appFirstWord(line)
		p.buf.reset()
		v := p.buf.upper(verb)
		var err error
		if dir == FromClient {
			err = p.client(v, args, sink)
		} else {
			err = p.server(v, args, sink)
		}
		if err != nil {
			return off, err
		}
	}
	return off, nil
}

// natsPayload returns the payload size of a PUB/HPUB/MSG/HMSG line: its
// last argument.
func natsPayload(args []byte) (int64, error) {
	last := args
	for len(args) > 0 {
		last, args = appFirstWord(args)
	}
	n, ok := memcachedSize(last)
	if !ok || n > natsMaxPayload {
		return 0, fmt.Errorf("nats: bad payload size %.20q", last)
	}
	return n, nil
}

func (p *natsParser) client(verb string, args []byte, sink Sink) error {
	var subject []byte
	switch verb {
	case "CONNECT":
		user := appJSONString(args, "user")
		name := appJSONString(args, "name")
		ver := appJSONString(args, "version")
		p.req = Request{App: NATS, Command: verb, User: bstr(user), ClientID: bstr(name), Version: bstr(ver)}
		sink.Request(&p.req)
		if p.recs.on {
			p.sum.User, p.sum.ClientName, p.sum.ClientVersion = string(user), string(name), string(ver)
			p.sum.ClientLang = string(appJSONString(args, "lang"))
			p.recs.add(sink, natsSumEntry{Command: "CONNECT"})
		}
		return nil
	case "PUB", "HPUB":
		n, err := natsPayload(args)
		if err != nil {
			return err
		}
		p.skip[FromClient] = appSkip(n + 2)
		subject, _ = appFirstWord(args)
	case "SUB":
		subject, _ = appFirstWord(args)
	case "UNSUB", "PING", "PONG":
	default:
		return fmt.Errorf("nats: unknown client verb %.20q", verb)
	}
	p.req = Request{App: NATS, Command: verb, Topic: bstr(subject)}
	sink.Request(&p.req)
	if p.recs.on {
		p.recs.add(sink, natsSumEntry{Command: strings.Clone(verb), Subject: string(subject)})
	}
	return nil
}

func (p *natsParser) server(verb string, args []byte, sink Sink) error {
	switch verb {
	case "INFO":
		ver := appJSONString(args, "version")
		p.resp = Response{App: NATS, Status: -1, Version: bstr(ver)}
		sink.Response(&p.resp)
		if p.recs.on {
			p.sum.ServerVersion = string(ver)
			p.sum.ServerName = string(appJSONString(args, "server_name"))
		}
	case "MSG", "HMSG":
		n, err := natsPayload(args)
		if err != nil {
			return err
		}
		p.skip[FromServer] = appSkip(n + 2)
	case "-ERR":
		p.resp = Response{App: NATS, Status: 1}
		sink.Response(&p.resp)
		if p.recs.on && len(p.sum.Errors) < 16 {
			p.sum.Errors = append(p.sum.Errors, string(args))
		}
	}
	return nil
}

func (p *natsParser) Summary() any {
	if !p.recs.on || (len(p.recs.list) == 0 && p.sum.ServerVersion == "" && len(p.sum.Errors) == 0) {
		return nil
	}
	s := p.sum // a copy: Reset must leave what Summary returned alone
	s.Commands = p.recs.list
	return &s
}
