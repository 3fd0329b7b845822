package l7

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// TLS over TCP (RFC 8446, RFC 5246).
//
// The client's first handshake message must be a ClientHello, the server's
// a ServerHello; each may be split across records and TCP segments (the
// record layer is followed as it streams by and the message reassembled up
// to tlsMaxHello bytes). A hello inside one complete record is decoded in
// place. Once its hello is decoded a direction needs nothing more (ErrDone):
// everything after it is encrypted, or irrelevant to policy.
//
// Request (client): Host (SNI), ALPN, Version (highest offered), JA4.
// Response (server): Version (the version chosen), Status -1.
// Summary: the versions offered too, in the client's order.

func init() {
	register(&Protocol{
		App:       TLS,
		Transport: TCP,
		Ports:     []uint16{443, 8443, 465, 636, 853, 993, 995, 5061, 6443},
		Detect:    detectTLS,
		New:       func(cfg *ParserConfig) Parser { return newTLSParser(cfg) },
	})
}

const (
	tlsRecordHandshake = 22
	tlsMaxRecord       = 16384 + 2048
	// tlsMaxHello bounds a reassembled hello message.
	tlsMaxHello = 64 << 10

	tlsClientHello = 1
	tlsServerHello = 2
)

func detectTLS(dir Dir, data []byte) Match {
	if len(data) > 0 && data[0] != tlsRecordHandshake {
		return detectTLSRecords(data)
	}
	want := byte(tlsClientHello)
	if dir == FromServer {
		want = tlsServerHello
	}
	switch {
	case len(data) > 1 && data[1] != 3,
		len(data) > 2 && data[2] > 4,
		len(data) > 5 && data[5] != want:
		return NoMatch
	case len(data) < 6:
		return NeedMore
	}
	if n := binary.BigEndian.Uint16(data[3:5]); n < 4 || n > tlsMaxRecord {
		return NoMatch
	}
	return Matched
}

// detectTLSRecords recognises a connection seen after its handshake (a
// capture started late): a ChangeCipherSpec, alert or application data
// record, followed by another valid record header if the data reaches it.
func detectTLSRecords(data []byte) Match {
	valid := func(h []byte) Match {
		switch {
		case h[0] < 20 || h[0] > 23,
			len(h) > 1 && h[1] != 3,
			len(h) > 2 && (h[2] < 1 || h[2] > 4):
			return NoMatch
		case len(h) < 5:
			return NeedMore
		}
		if n := binary.BigEndian.Uint16(h[3:5]); n == 0 || n > tlsMaxRecord {
			return NoMatch
		}
		return Matched
	}
	if m := valid(data); m != Matched {
		return m
	}
	if end := 5 + int(binary.BigEndian.Uint16(data[3:5])); end < len(data) {
		if valid(data[end:]) == NoMatch {
			return NoMatch
		}
	}
	return Matched
}

// tlsSummary is the "tls" object of flow JSON.
type tlsSummary struct {
	SNI      string   `json:"sni,omitempty"`
	ALPN     []string `json:"alpn,omitempty"`
	Version  string   `json:"version,omitempty"`
	Versions []string `json:"versions,omitempty"`
	JA4      string   `json:"ja4,omitempty"`
}

// tlsSide follows the record layer of one direction.
type tlsSide struct {
	recLeft int    // bytes left in the current handshake record
	hs      []byte // handshake bytes gathered across records
}

type tlsParser struct {
	summaries bool
	side      [2]tlsSide
	ch        clientHello
	req       Request
	resp      Response
	scratch   []byte
	sum       *tlsSummary
}

func newTLSParser(cfg *ParserConfig) *tlsParser {
	p := &tlsParser{}
	p.Reset(cfg)
	return p
}

// Reset implements Resetter.
func (p *tlsParser) Reset(cfg *ParserConfig) {
	p.summaries = cfg != nil && cfg.Summaries
	for i := range p.side {
		p.side[i] = tlsSide{hs: p.side[i].hs[:0]}
	}
	p.sum = nil
	p.scratch = p.scratch[:0]
}

// Summary implements Parser.
func (p *tlsParser) Summary() any {
	if p.sum == nil {
		return nil
	}
	return p.sum
}

// Parse implements Parser.
func (p *tlsParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	s := &p.side[dir&1]
	total := 0
	for total < len(data) {
		rest := data[total:]
		if s.recLeft == 0 {
			if len(rest) < 5 {
				return total, nil
			}
			n := int(binary.BigEndian.Uint16(rest[3:5]))
			if rest[1] != 3 || n > tlsMaxRecord {
				return total, errors.New("tls: malformed record header")
			}
			if rest[0] != tlsRecordHandshake {
				return total, fmt.Errorf("tls: record type %d before the hello", rest[0])
			}
			if n == 0 {
				total += 5
				continue
			}
			// The whole hello in one complete record: decode in place.
			if len(s.hs) == 0 && n >= 4 && len(rest) >= 5+n {
				if m := int(rest[6])<<16 | int(rest[7])<<8 | int(rest[8]); 4+m <= n {
					return total + 5 + n, p.hello(dir, rest[5:5+4+m], sink)
				}
			}
			s.recLeft = n
			total += 5
			continue
		}
		n := min(s.recLeft, len(rest))
		if len(s.hs)+n > tlsMaxHello {
			return total, errors.New("tls: hello larger than 64 KiB")
		}
		s.hs = append(s.hs, rest[:n]...)
		s.recLeft -= n
		total += n
		if len(s.hs) >= 4 {
			m := int(s.hs[1])<<16 | int(s.hs[2])<<8 | int(s.hs[3])
			if 4+m > tlsMaxHello {
				return total, errors.New("tls: hello larger than 64 KiB")
			}
			if len(s.hs) >= 4+m {
				return total, p.hello(dir, s.hs[:4+m], sink)
			}
		}
	}
	return total, nil
}

// hello decodes the first handshake message of a direction and returns
// ErrDone (or the decoding error).
func (p *tlsParser) hello(dir Dir, msg []byte, sink Sink) error {
	if dir == FromClient {
		if msg[0] != tlsClientHello {
			return fmt.Errorf("tls: first client handshake message has type %d, not ClientHello", msg[0])
		}
		if err := p.ch.parse(msg[4:]); err == errBadExtensions {
			sink.Note("tls: malformed ClientHello: " + err.Error())
		} else if err != nil {
			return fmt.Errorf("tls: malformed ClientHello: %w", err)
		}
		p.scratch = p.scratch[:0]
		r := &p.req
		*r = Request{App: TLS, ALPN: p.ch.alpn, Version: tlsVersionName(p.ch.maxVersion), JA4: p.ch.fingerprint('t')}
		r.Host = bstr(normHost(p.ch.sni, &p.scratch))
		if p.summaries {
			s := p.summary()
			s.SNI, s.JA4 = strings.Clone(r.Host), strings.Clone(r.JA4)
			if s.Version == "" {
				s.Version = r.Version
			}
			s.ALPN = nil
			for _, a := range r.ALPN {
				s.ALPN = append(s.ALPN, strings.Clone(a))
			}
			s.Versions = make([]string, len(p.ch.versions))
			for i, v := range p.ch.versions {
				s.Versions[i] = tlsVersionName(v)
			}
		}
		sink.Request(r)
		return ErrDone
	}
	if msg[0] != tlsServerHello {
		return fmt.Errorf("tls: first server handshake message has type %d, not ServerHello", msg[0])
	}
	v, err := serverHelloVersion(msg[4:])
	if err != nil {
		return fmt.Errorf("tls: malformed ServerHello: %w", err)
	}
	p.resp = Response{App: TLS, Status: -1, Version: tlsVersionName(v)}
	if p.summaries {
		p.summary().Version = p.resp.Version
	}
	sink.Response(&p.resp)
	return ErrDone
}

func (p *tlsParser) summary() *tlsSummary {
	if p.sum == nil {
		p.sum = &tlsSummary{}
	}
	return p.sum
}

// serverHelloVersion returns the version a ServerHello body selects: its
// supported_versions extension, else legacy_version.
func serverHelloVersion(body []byte) (uint16, error) {
	r := tlsReader{b: body}
	v := uint16(r.u16())
	r.bytes(32)
	r.bytes(r.u8())
	r.u16() // cipher_suite
	r.u8()  // compression
	if r.bad {
		return 0, errShortHello
	}
	if len(r.b) == 0 {
		return v, nil
	}
	exts := tlsReader{b: r.bytes(r.u16())}
	for len(exts.b) > 0 && !exts.bad {
		typ := exts.u16()
		data := exts.bytes(exts.u16())
		if typ == extSupportedVersions && len(data) == 2 {
			v = binary.BigEndian.Uint16(data)
		}
	}
	if r.bad || exts.bad {
		return 0, errShortHello
	}
	return v, nil
}
