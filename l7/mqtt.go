package l7

import (
	"encoding/binary"
	"fmt"
)

// MQTT 3.1, 3.1.1 and 5.0. A control packet is a fixed header (type in the
// high nibble, flags in the low one) and a variable-length "remaining
// length" (1 to 4 bytes, 7 bits each). The client opens with CONNECT
// (protocol name "MQTT" or "MQIsdp", level 3, 4 or 5, flags, keep-alive,
// v5 properties, then client id, will, user name and password).
//
// Request: Command "CONNECT" (ClientID, User, Version "3.1", "3.1.1" or
// "5.0"), "PUBLISH" (Topic), "SUBSCRIBE" and "UNSUBSCRIBE" (one Request per
// topic filter, with Topic), and the other client packet types by name
// ("PINGREQ", "DISCONNECT"…).
// Response: CONNACK with Status its return (reason) code.

func init() {
	register(&Protocol{
		App:       MQTT,
		Transport: TCP,
		Ports:     []uint16{1883},
		Detect:    detectMQTT,
		New:       appNew[mqttParser],
	})
}

const mqttMaxFilters = 64

var mqttTypes = [16]string{
	"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL",
	"PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ",
	"PINGRESP", "DISCONNECT", "AUTH",
}

func detectMQTT(dir Dir, data []byte) Match {
	if len(data) == 0 {
		return NeedMore
	}
	if dir == FromServer {
		// CONNACK: 0x20, remaining length 2 (3.1.1) or more (5.0), flags 0
		// or 1, a return code.
		if data[0] != 0x20 {
			return NoMatch
		}
		if len(data) < 4 {
			return NeedMore
		}
		if data[1] < 2 || data[1] > 127 || data[2] > 1 || (data[3] > 5 && data[3] < 0x80) {
			return NoMatch
		}
		return Matched
	}
	if data[0] != 0x10 {
		return NoMatch
	}
	_, w := mqttRemaining(data[1:])
	if w == 0 {
		if len(data) < 5 {
			return NeedMore
		}
		return NoMatch
	}
	rest := data[1+w:]
	for _, name := range []string{"\x00\x04MQTT", "\x00\x06MQIsdp"} {
		if m := appDetectPrefix(rest, name); m != NoMatch {
			return m
		}
	}
	return NoMatch
}

// mqttRemaining decodes the remaining length; w is its width in bytes, 0
// when b is too short or the encoding is longer than 4 bytes.
func mqttRemaining(b []byte) (n int, w int) {
	shift := 0
	for i := 0; i < 4 && i < len(b); i++ {
		n |= int(b[i]&0x7f) << shift
		if b[i]&0x80 == 0 {
			return n, i + 1
		}
		shift += 7
	}
	return 0, 0
}

// mqttSummary is the "mqtt" object of analyze's flow JSON.
type mqttSummary struct {
	Version  string         `json:"version,omitempty"`
	ClientID string         `json:"client_id,omitempty"`
	User     string         `json:"user,omitempty"`
	Packets  []mqttSumEntry `json:"packets,omitempty"`
}

type mqttSumEntry struct {
	Command string `json:"command"`
	Topic   string `json:"topic,omitempty"`
}

type mqttParser struct {
	level byte // protocol level from CONNECT: 3, 4 or 5
	skip  [2]appSkip
	req   Request
	resp  Response
	recs  appRecords[mqttSumEntry]
	sum   mqttSummary
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *mqttParser) Reset(cfg *ParserConfig) {
	*p = mqttParser{level: 4, recs: newAppRecords[mqttSumEntry](appCfg(cfg))}
}

func (p *mqttParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	return appFrames(dir, data, &p.skip[dir], p, sink)
}

func (p *mqttParser) frameLen(dir Dir, rest []byte) (int64, error) {
	if len(rest) < 2 {
		return 0, nil
	}
	n, w := mqttRemaining(rest[1:])
	if w == 0 {
		if len(rest) < 5 {
			return 0, nil
		}
		return 0, fmt.Errorf("mqtt: %v remaining length longer than 4 bytes", dir)
	}
	return int64(1 + w + n), nil
}

func (p *mqttParser) frame(dir Dir, msg []byte, sink Sink) error {
	_, w := mqttRemaining(msg[1:])
	typ, body := msg[0]>>4, msg[1+w:]
	if dir == FromServer {
		if typ == 2 && len(body) >= 2 { // CONNACK
			p.resp = Response{App: MQTT, Status: int(body[1])}
			sink.Response(&p.resp)
		}
		return nil
	}
	return p.client(typ, body, sink)
}

func (p *mqttParser) client(typ byte, body []byte, sink Sink) error {
	r := mqttReader{b: body}
	switch typ {
	case 1: // CONNECT
		name := r.str()
		level := r.byte()
		cf := r.byte()
		r.take(2) // keep-alive
		if r.bad || (string(name) != "MQTT" && string(name) != "MQIsdp") {
			return fmt.Errorf("mqtt: CONNECT with protocol name %.20q", name)
		}
		p.level = level
		r.props(level)
		clientID := r.str()
		if cf&0x04 != 0 { // will
			r.props(level)
			r.str()
			r.str()
		}
		var user []byte
		if cf&0x80 != 0 {
			user = r.str()
		}
		version := "3.1.1"
		switch level {
		case 3:
			version = "3.1"
		case 5:
			version = "5.0"
		}
		p.req = Request{App: MQTT, Command: "CONNECT", ClientID: bstr(clientID), User: bstr(user), Version: version}
		sink.Request(&p.req)
		if p.recs.on {
			p.sum.Version, p.sum.ClientID, p.sum.User = version, string(clientID), string(user)
			p.recs.add(sink, mqttSumEntry{Command: "CONNECT"})
		}
	case 3: // PUBLISH
		topic := r.str()
		if r.bad {
			return fmt.Errorf("mqtt: PUBLISH without a topic")
		}
		p.report(sink, "PUBLISH", topic)
	case 8, 10: // SUBSCRIBE, UNSUBSCRIBE
		r.take(2) // packet identifier
		r.props(p.level)
		for i := 0; i < mqttMaxFilters && len(r.b) > 0 && !r.bad; i++ {
			f := r.str()
			if r.bad {
				break
			}
			if typ == 8 {
				r.byte() // subscription options
			}
			p.report(sink, mqttTypes[typ], f)
		}
	default:
		p.report(sink, mqttTypes[typ], nil)
	}
	return nil
}

func (p *mqttParser) report(sink Sink, cmd string, topic []byte) {
	p.req = Request{App: MQTT, Command: cmd, Topic: bstr(topic)}
	sink.Request(&p.req)
	if p.recs.on {
		p.recs.add(sink, mqttSumEntry{Command: cmd, Topic: string(topic)})
	}
}

// mqttReader decodes MQTT fields; bad is set when the bytes run out.
type mqttReader struct {
	b   []byte
	bad bool
}

func (r *mqttReader) take(n int) []byte {
	if r.bad || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *mqttReader) byte() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

// str reads a UTF-8 string (or binary data) with a 2-byte length.
func (r *mqttReader) str() []byte {
	b := r.take(2)
	if b == nil {
		return nil
	}
	return r.take(int(binary.BigEndian.Uint16(b)))
}

// props skips an MQTT 5 property list (nothing before level 5).
func (r *mqttReader) props(level byte) {
	if level < 5 || r.bad {
		return
	}
	n, w := mqttRemaining(r.b)
	if w == 0 {
		r.bad = true
		return
	}
	r.take(w)
	r.take(n)
}

func (p *mqttParser) Summary() any {
	if !p.recs.on || (len(p.recs.list) == 0 && p.sum.ClientID == "") {
		return nil
	}
	s := p.sum // a copy: Reset must leave what Summary returned alone
	s.Packets = p.recs.list
	return &s
}
