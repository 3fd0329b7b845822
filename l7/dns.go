package l7

import (
	"encoding/binary"
	"errors"
	"strings"

	"github.com/miekg/dns"
)

// DNS over UDP (one message per datagram) and over TCP (messages prefixed
// by a two-byte length, RFC 1035 §4.2.2; several per segment or one split
// over several).
//
// The packet path decodes with the allocation-free decoder of dnswire.go.
// Summaries (analyze) also unpack each message with github.com/miekg/dns to
// give every answer in presentation format.
//
// Request (query): Host (query name, normalised), QType, DNSID; one Request
// per question (dnsMaxQuestions at most).
// Response: Status (rcode), DNSID, QName, QType, Answers (dnsMaxAnswers at
// most; Data is set for A, AAAA, CNAME, NS, PTR and DNAME).

func init() {
	register(&Protocol{
		App:       DNS,
		Transport: UDP,
		Ports:     []uint16{53, 5353, 5355},
		Detect:    detectDNSUDP,
		New:       func(cfg *ParserConfig) Parser { return newDNSParser(cfg, false) },
	})
	register(&Protocol{
		App:       DNS,
		Transport: TCP,
		Ports:     []uint16{53},
		Detect:    detectDNSTCP,
		New:       func(cfg *ParserConfig) Parser { return newDNSParser(cfg, true) },
	})
}

func detectDNSUDP(dir Dir, data []byte) Match {
	if m := dnsLooksLike(data, dir == FromServer); m == Matched {
		return Matched
	}
	return NoMatch
}

func detectDNSTCP(dir Dir, data []byte) Match {
	if len(data) < 2 {
		return NeedMore
	}
	n := int(binary.BigEndian.Uint16(data))
	if n < 12 {
		return NoMatch
	}
	msg := data[2:]
	if len(msg) > n {
		msg = msg[:n]
	}
	m := dnsLooksLike(msg, dir == FromServer)
	if m == NeedMore && len(msg) == n {
		return NoMatch // the message ended inside its question
	}
	return m
}

// dnsRecord is one entry of the "dns" list in flow JSON: a query and its
// response, or either alone.
type dnsRecord struct {
	ID      uint16          `json:"id"`
	QName   string          `json:"qname"`
	QType   string          `json:"qtype"`
	RCode   string          `json:"rcode,omitempty"`
	Answers []dnsAnswerJSON `json:"answers,omitempty"`
	pending bool            // a query awaiting its response
}

type dnsAnswerJSON struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Data string `json:"data"`
	TTL  uint32 `json:"ttl"`
}

type dnsParser struct {
	tcp  bool
	msg  dnsMsg
	req  Request
	resp Response
	recs appRecords[dnsRecord]
}

func newDNSParser(cfg *ParserConfig, tcp bool) *dnsParser {
	p := &dnsParser{tcp: tcp}
	p.Reset(cfg)
	return p
}

// Reset implements Resetter. The message decoder keeps its scratch space.
func (p *dnsParser) Reset(cfg *ParserConfig) {
	p.recs = newAppRecords[dnsRecord](appCfg(cfg))
}

// Summary implements Parser.
func (p *dnsParser) Summary() any {
	if len(p.recs.list) == 0 {
		return nil
	}
	return p.recs.list
}

// Parse implements Parser.
func (p *dnsParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	if !p.tcp {
		return len(data), p.message(dir, data, sink)
	}
	total := 0
	for len(data)-total >= 2 {
		n := int(binary.BigEndian.Uint16(data[total:]))
		if len(data)-total < 2+n {
			break
		}
		if err := p.message(dir, data[total+2:total+2+n], sink); err != nil {
			return total + 2 + n, err
		}
		total += 2 + n
	}
	return total, nil
}

var errDNSDirection = errors.New("dns: query sent by the server or response by the client")

// message handles one DNS message.
func (p *dnsParser) message(dir Dir, msg []byte, sink Sink) error {
	m := &p.msg
	if err := m.decode(msg, dir == FromServer); err != nil {
		return err
	}
	if m.response() != (dir == FromServer) {
		return errDNSDirection
	}
	if dir == FromClient {
		for _, q := range m.questions {
			p.req = Request{App: DNS, Host: bstr(q.name), QType: q.qtype, DNSID: m.id}
			sink.Request(&p.req)
		}
		if p.recs.on {
			p.recordQuery(sink)
		}
		return nil
	}
	p.resp = Response{App: DNS, Status: m.rcode(), DNSID: m.id, Answers: m.answers}
	if len(m.questions) > 0 {
		p.resp.QName, p.resp.QType = bstr(m.questions[0].name), m.questions[0].qtype
	}
	sink.Response(&p.resp)
	if p.recs.on {
		p.recordResponse(msg, sink)
	}
	return nil
}

func (p *dnsParser) recordQuery(sink Sink) {
	m := &p.msg
	r := dnsRecord{ID: m.id, pending: true}
	if len(m.questions) > 0 {
		r.QName, r.QType = string(m.questions[0].name), dnsTypeName(m.questions[0].qtype)
	}
	p.recs.add(sink, r)
}

func (p *dnsParser) recordResponse(raw []byte, sink Sink) {
	m := &p.msg
	qname, qtype := "", ""
	if len(m.questions) > 0 {
		qname, qtype = string(m.questions[0].name), dnsTypeName(m.questions[0].qtype)
	}
	// Pair with the latest pending query of the same id and question.
	var r *dnsRecord
	list := p.recs.list
	for i := len(list) - 1; i >= 0 && i >= len(list)-64; i-- {
		q := &list[i]
		if q.pending && q.ID == m.id && q.QName == qname && q.QType == qtype {
			r = q
			break
		}
	}
	if r == nil {
		n := len(p.recs.list)
		if p.recs.add(sink, dnsRecord{ID: m.id, QName: qname, QType: qtype}); len(p.recs.list) == n {
			return // full: the truncation is noted
		}
		r = &p.recs.list[n]
	}
	r.pending = false
	r.RCode = dns.RcodeToString[m.rcode()]
	if r.RCode == "" {
		r.RCode = "RCODE" + appItoa(m.rcode())
	}
	r.Answers = dnsAnswers(raw, m)
}

// dnsAnswers presents the answer section with miekg/dns, falling back on
// what dnswire decoded when miekg/dns refuses the message.
func dnsAnswers(raw []byte, m *dnsMsg) []dnsAnswerJSON {
	var out []dnsAnswerJSON
	var msg dns.Msg
	if err := msg.Unpack(raw); err == nil {
		for i, rr := range msg.Answer {
			if i == dnsMaxAnswers {
				break
			}
			h := rr.Header()
			a := dnsAnswerJSON{
				Name: normDNSName(h.Name),
				Type: dnsTypeName(h.Rrtype),
				TTL:  h.Ttl,
			}
			switch v := rr.(type) {
			case *dns.CNAME:
				a.Data = normDNSName(v.Target)
			case *dns.NS:
				a.Data = normDNSName(v.Ns)
			case *dns.PTR:
				a.Data = normDNSName(v.Ptr)
			case *dns.DNAME:
				a.Data = normDNSName(v.Target)
			default:
				a.Data = strings.TrimPrefix(rr.String(), h.String())
			}
			out = append(out, a)
		}
		return out
	}
	for _, a := range m.answers {
		out = append(out, dnsAnswerJSON{Name: strings.Clone(a.Name), Type: dnsTypeName(a.Type), Data: strings.Clone(a.Data), TTL: a.TTL})
	}
	return out
}

// normDNSName lower-cases a presentation-format name and drops the
// trailing dot, as Request.Host is normalised.
func normDNSName(s string) string {
	s = strings.TrimSuffix(s, ".")
	return strings.ToLower(s)
}

// dnsTypeName is the mnemonic of a record type ("AAAA"), or "TYPE65534".
func dnsTypeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + appItoa(int(t))
}
