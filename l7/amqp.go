package l7

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// AMQP 0-9-1 (RabbitMQ). The client opens with the protocol header
// "AMQP\x00\x00\x09\x01"; then both sides exchange frames: type (1 method,
// 2 content header, 3 body, 8 heartbeat), channel, size, payload and the
// end octet 0xCE. A method payload is class id, method id and arguments.
// AMQP 1.0 ("AMQP\x00\x01\x00\x00", or "AMQP\x03…" for its SASL layer) is
// recognised and noted, not parsed further.
//
// Request: each client method, Command "CLASS.METHOD" in upper case
// ("BASIC.PUBLISH", "QUEUE.DECLARE"); Database the virtual host of
// connection.open; User the PLAIN user of connection.start-ok; Topic the
// routing key of basic.publish, the queue of basic.consume, basic.get and
// queue.* methods, the exchange of exchange.* methods.
// Response: connection.start (Status -1, Version the server's "version"
// property), and connection.close / channel.close from the server (Status
// the reply code).

func init() {
	register(&Protocol{
		App:       AMQP,
		Transport: TCP,
		Ports:     []uint16{5672},
		Detect:    detectAMQP,
		New:       appNew[amqpParser],
	})
}

const (
	amqpFrameMethod = 1
	amqpFrameEnd    = 0xce
	amqpMaxFrame    = 64 << 20
)

type amqpMethod struct {
	class, method uint16
	name          string
}

// amqpMethods lists the methods of AMQP 0-9-1 with RabbitMQ's extensions.
var amqpMethods = []amqpMethod{
	{10, 10, "connection.start"}, {10, 11, "connection.start-ok"},
	{10, 20, "connection.secure"}, {10, 21, "connection.secure-ok"},
	{10, 30, "connection.tune"}, {10, 31, "connection.tune-ok"},
	{10, 40, "connection.open"}, {10, 41, "connection.open-ok"},
	{10, 50, "connection.close"}, {10, 51, "connection.close-ok"},
	{10, 60, "connection.blocked"}, {10, 61, "connection.unblocked"},
	{10, 70, "connection.update-secret"}, {10, 71, "connection.update-secret-ok"},
	{20, 10, "channel.open"}, {20, 11, "channel.open-ok"},
	{20, 20, "channel.flow"}, {20, 21, "channel.flow-ok"},
	{20, 40, "channel.close"}, {20, 41, "channel.close-ok"},
	{40, 10, "exchange.declare"}, {40, 11, "exchange.declare-ok"},
	{40, 20, "exchange.delete"}, {40, 21, "exchange.delete-ok"},
	{40, 30, "exchange.bind"}, {40, 31, "exchange.bind-ok"},
	{40, 40, "exchange.unbind"}, {40, 51, "exchange.unbind-ok"},
	{50, 10, "queue.declare"}, {50, 11, "queue.declare-ok"},
	{50, 20, "queue.bind"}, {50, 21, "queue.bind-ok"},
	{50, 30, "queue.purge"}, {50, 31, "queue.purge-ok"},
	{50, 40, "queue.delete"}, {50, 41, "queue.delete-ok"},
	{50, 50, "queue.unbind"}, {50, 51, "queue.unbind-ok"},
	{60, 10, "basic.qos"}, {60, 11, "basic.qos-ok"},
	{60, 20, "basic.consume"}, {60, 21, "basic.consume-ok"},
	{60, 30, "basic.cancel"}, {60, 31, "basic.cancel-ok"},
	{60, 40, "basic.publish"}, {60, 50, "basic.return"}, {60, 60, "basic.deliver"},
	{60, 70, "basic.get"}, {60, 71, "basic.get-ok"}, {60, 72, "basic.get-empty"},
	{60, 80, "basic.ack"}, {60, 90, "basic.reject"},
	{60, 100, "basic.recover-async"}, {60, 110, "basic.recover"},
	{60, 111, "basic.recover-ok"}, {60, 120, "basic.nack"},
	{85, 10, "confirm.select"}, {85, 11, "confirm.select-ok"},
	{90, 10, "tx.select"}, {90, 11, "tx.select-ok"}, {90, 20, "tx.commit"},
	{90, 21, "tx.commit-ok"}, {90, 30, "tx.rollback"}, {90, 31, "tx.rollback-ok"},
}

// amqpUpper holds the upper-case names of amqpMethods, index for index.
var amqpUpper = func() []string {
	out := make([]string, len(amqpMethods))
	for i, m := range amqpMethods {
		out[i] = strings.ToUpper(m.name)
	}
	return out
}()

func amqpLookup(class, method uint16) int {
	for i, m := range amqpMethods {
		if m.class == class && m.method == method {
			return i
		}
	}
	return -1
}

func detectAMQP(dir Dir, data []byte) Match {
	if dir == FromServer {
		// connection.start on channel 0, version 0-9.
		m := appDetectPrefix(data, "\x01\x00\x00")
		if m != Matched {
			return m
		}
		if len(data) < 13 {
			return NeedMore
		}
		if string(data[7:13]) != "\x00\x0a\x00\x0a\x00\x09" {
			return NoMatch
		}
		return Matched
	}
	m := appDetectPrefix(data, "AMQP")
	if m != Matched {
		return m
	}
	if len(data) < 8 {
		return NeedMore
	}
	switch string(data[4:8]) {
	case "\x00\x00\x09\x01", "\x01\x01\x00\x09", "\x01\x01\x09\x01", "\x00\x00\x08\x00",
		"\x00\x01\x00\x00", "\x03\x01\x00\x00", "\x02\x01\x00\x00":
		return Matched
	}
	return NoMatch
}

// amqpSummary is the "amqp" object of analyze's flow JSON.
type amqpSummary struct {
	Version     string         `json:"version,omitempty"`
	ServerProd  string         `json:"server_product,omitempty"`
	ServerVer   string         `json:"server_version,omitempty"`
	User        string         `json:"user,omitempty"`
	VirtualHost string         `json:"vhost,omitempty"`
	Methods     []amqpSumEntry `json:"methods,omitempty"`
}

type amqpSumEntry struct {
	Method     string `json:"method"`
	Exchange   string `json:"exchange,omitempty"`
	RoutingKey string `json:"routing_key,omitempty"`
	Queue      string `json:"queue,omitempty"`
}

type amqpParser struct {
	header [2]bool // protocol header seen (or not expected) per direction
	opaque bool
	skip   [2]appSkip
	req    Request
	resp   Response
	recs   appRecords[amqpSumEntry]
	sum    amqpSummary
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *amqpParser) Reset(cfg *ParserConfig) {
	*p = amqpParser{recs: newAppRecords[amqpSumEntry](appCfg(cfg))}
}

func (p *amqpParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	return appFrames(dir, data, &p.skip[dir], p, sink)
}

// amqpHeaderLen is the size of the protocol header "AMQP" + 4 bytes.
const amqpHeaderLen = 8

func (p *amqpParser) frameLen(dir Dir, rest []byte) (int64, error) {
	if p.opaque {
		return 0, ErrDone
	}
	if !p.header[dir] && (dir == FromClient || rest[0] == 'A') {
		if len(rest) < amqpHeaderLen {
			return 0, nil
		}
		return amqpHeaderLen, nil
	}
	p.header[dir] = true
	if len(rest) < 7 {
		return 0, nil
	}
	n := int64(binary.BigEndian.Uint32(rest[3:]))
	if n > amqpMaxFrame {
		return 0, fmt.Errorf("amqp: %v frame size %d exceeds %d", dir, n, amqpMaxFrame)
	}
	return 7 + n + 1, nil
}

func (p *amqpParser) frame(dir Dir, msg []byte, sink Sink) error {
	if !p.header[dir] {
		if !bytes.HasPrefix(msg, []byte("AMQP")) {
			return fmt.Errorf("amqp: %v protocol header %q does not start with AMQP", dir, msg)
		}
		p.header[dir] = true
		if msg[4] != 0 || msg[5] != 0 || msg[6] != 9 {
			sink.Note("AMQP 1.0")
			p.sum.Version = "1.0"
			p.opaque = true
			return nil
		}
		p.sum.Version = "0-9-1"
		return nil
	}
	n := int64(binary.BigEndian.Uint32(msg[3:]))
	if int64(len(msg)) == 7+n+1 && msg[len(msg)-1] != amqpFrameEnd {
		return fmt.Errorf("amqp: %v frame end octet %#x, want 0xce", dir, msg[len(msg)-1])
	}
	if msg[0] == amqpFrameMethod && len(msg) >= 11 {
		p.method(dir, msg[7:], sink)
	}
	return nil
}

func (p *amqpParser) method(dir Dir, b []byte, sink Sink) {
	class, method := binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
	r := amqpReader{b: b[4:]}
	i := amqpLookup(class, method)
	if dir == FromServer {
		switch i {
		case 0: // connection.start: version-major, version-minor, server-properties
			r.take(2)
			props := r.longstr()
			ver := amqpTableString(props, "version")
			p.resp = Response{App: AMQP, Status: -1, Version: bstr(ver)}
			sink.Response(&p.resp)
			if p.recs.on {
				p.sum.ServerVer = string(ver)
				p.sum.ServerProd = string(amqpTableString(props, "product"))
			}
		case amqpLookup(10, 50), amqpLookup(20, 40): // connection.close, channel.close
			p.resp = Response{App: AMQP, Status: int(r.short())}
			sink.Response(&p.resp)
		}
		return
	}
	if i < 0 {
		p.req = Request{App: AMQP, Command: "UNKNOWN"}
		sink.Request(&p.req)
		return
	}
	var user, vhost, topic, exchange, key, queue []byte
	switch class<<8 | method {
	case 10<<8 | 11: // connection.start-ok: client-properties, mechanism, response
		r.longstr()
		mech := r.shortstr()
		resp := r.longstr()
		if string(mech) == "PLAIN" {
			// "authzid NUL authcid NUL password"
			if j := bytes.IndexByte(resp, 0); j >= 0 {
				user, _ = mysqlCString(resp[j+1:])
			}
		}
	case 10<<8 | 40: // connection.open
		vhost = r.shortstr()
	case 60<<8 | 40: // basic.publish: reserved, exchange, routing-key
		r.take(2)
		exchange = r.shortstr()
		key = r.shortstr()
		topic = key
	case 60<<8 | 20, 60<<8 | 70, 50<<8 | 10, 50<<8 | 30, 50<<8 | 40: // consume, get, queue.declare/purge/delete
		r.take(2)
		queue = r.shortstr()
		topic = queue
	case 50<<8 | 20, 50<<8 | 50: // queue.bind/unbind: queue, exchange, routing-key
		r.take(2)
		queue = r.shortstr()
		exchange = r.shortstr()
		key = r.shortstr()
		topic = queue
	case 40<<8 | 10, 40<<8 | 20: // exchange.declare/delete
		r.take(2)
		exchange = r.shortstr()
		topic = exchange
	}
	p.req = Request{App: AMQP, Command: amqpUpper[i], User: bstr(user), Database: bstr(vhost), Topic: bstr(topic)}
	sink.Request(&p.req)
	if p.recs.on {
		if user != nil {
			p.sum.User = string(user)
		}
		if vhost != nil {
			p.sum.VirtualHost = string(vhost)
		}
		p.recs.add(sink, amqpSumEntry{Method: amqpMethods[i].name, Exchange: string(exchange),
			RoutingKey: string(key), Queue: string(queue)})
	}
}

// amqpReader decodes AMQP 0-9-1 argument types; it returns zero values once
// the bytes run out.
type amqpReader struct{ b []byte }

func (r *amqpReader) take(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.b = nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *amqpReader) short() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *amqpReader) shortstr() []byte {
	b := r.take(1)
	if b == nil {
		return nil
	}
	return r.take(int(b[0]))
}

func (r *amqpReader) longstr() []byte {
	b := r.take(4)
	if b == nil {
		return nil
	}
	return r.take(int(min(binary.BigEndian.Uint32(b), 1<<30)))
}

// amqpTableString returns the long-string ('S') value of key in a field
// table's bytes (without its length prefix); nil when absent.
func amqpTableString(t []byte, key string) []byte {
	r := amqpReader{b: t}
	for i := 0; i < 256 && len(r.b) > 0; i++ {
		name := r.shortstr()
		typ := r.take(1)
		if typ == nil {
			return nil
		}
		var size int
		switch typ[0] {
		case 'S', 'x':
			v := r.longstr()
			if typ[0] == 'S' && string(name) == key {
				return v
			}
			continue
		case 's':
			r.shortstr()
			continue
		case 'F', 'A':
			r.longstr()
			continue
		case 't', 'b', 'B':
			size = 1
		case 'u', 'U':
			size = 2
		case 'i', 'I', 'f':
			size = 4
		case 'l', 'L', 'd', 'T':
			size = 8
		case 'D':
			size = 5
		case 'V':
			size = 0
		default:
			return nil
		}
		r.take(size)
	}
	return nil
}

func (p *amqpParser) Summary() any {
	if !p.recs.on || (p.sum.Version == "" && len(p.recs.list) == 0) {
		return nil
	}
	s := p.sum // a copy: Reset must leave what Summary returned alone
	s.Methods = p.recs.list
	return &s
}
