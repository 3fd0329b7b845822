package l7

import (
	"bytes"
	"fmt"
)

// SSH (RFC 4253): both sides open with an identification line
// "SSH-protoversion-softwareversion [comments]" of at most 255 bytes. A
// server may send other lines before it; a client may not. Everything
// after the banners is binary and encrypted after key exchange, so the
// parser reports the banners and then passes the stream over.
//
// Request: Command "BANNER", Version the protocol version ("2.0"),
// UserAgent the client's software and comments ("OpenSSH_9.2p1 Debian-2").
// Response: Status -1, Version the server's protocol version.

func init() {
	register(&Protocol{
		App:       SSH,
		Transport: TCP,
		Ports:     []uint16{22, 2222},
		Detect:    detectSSH,
		New:       appNew[sshParser],
	})
}

const sshMaxBanner = 255

func detectSSH(_ Dir, data []byte) Match {
	m := appDetectPrefix(data, "SSH-")
	if m != Matched {
		return m
	}
	// "SSH-2.0-" or "SSH-1.99-": a version of digits and dots, then '-'.
	for i := 4; i < len(data) && i < 12; i++ {
		c := data[i]
		switch {
		case c == '-':
			if i == 4 {
				return NoMatch
			}
			return Matched
		case '0' <= c && c <= '9' || c == '.':
		default:
			return NoMatch
		}
	}
	if len(data) >= 12 {
		return NoMatch
	}
	return NeedMore
}

// sshSummary is the "ssh" object of analyze's flow JSON.
type sshSummary struct {
	Client string `json:"client,omitempty"`
	Server string `json:"server,omitempty"`
}

type sshParser struct {
	cfg  ParserConfig
	done [2]bool
	// preBanner counts the server's lines before its banner.
	preBanner int
	req       Request
	resp      Response
	sum       sshSummary
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *sshParser) Reset(cfg *ParserConfig) {
	*p = sshParser{cfg: appCfg(cfg)}
}

func (p *sshParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	off := 0
	for !p.done[dir] {
		rest := data[off:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			if len(rest) > sshMaxBanner {
				return off, fmt.Errorf("ssh: %v identification line longer than %d bytes", dir, sshMaxBanner)
			}
			return off, nil
		}
		line := bytes.TrimSuffix(rest[:i], []byte("\r"))
		off += i + 1
		if !bytes.HasPrefix(line, []byte("SSH-")) {
			// RFC 4253 4.2: the server may send other lines first.
			if dir == FromServer && p.preBanner < 32 {
				p.preBanner++
				continue
			}
			return off, fmt.Errorf("ssh: %v identification line %.40q does not start with SSH-", dir, line)
		}
		p.done[dir] = true
		p.banner(dir, line, sink)
	}
	// The binary packet protocol follows; nothing more to learn.
	return len(data), ErrDone
}

func (p *sshParser) banner(dir Dir, line []byte, sink Sink) {
	proto, software := line[4:], []byte(nil)
	if i := bytes.IndexByte(proto, '-'); i >= 0 {
		proto, software = proto[:i], proto[i+1:]
	}
	if dir == FromClient {
		p.req = Request{App: SSH, Command: "BANNER", Version: bstr(proto), UserAgent: bstr(software)}
		sink.Request(&p.req)
		if p.cfg.Summaries {
			p.sum.Client = string(line)
		}
		return
	}
	p.resp = Response{App: SSH, Status: -1, Version: bstr(proto)}
	sink.Response(&p.resp)
	if p.cfg.Summaries {
		p.sum.Server = string(line)
	}
}

func (p *sshParser) Summary() any {
	if !p.cfg.Summaries || p.sum == (sshSummary{}) {
		return nil
	}
	s := p.sum // a copy: Reset must leave what Summary returned alone
	return &s
}
