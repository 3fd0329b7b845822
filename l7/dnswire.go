package l7

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// A small DNS message decoder (RFC 1035 §4) for the packet path: header,
// questions and the answer section, with names decompressed into a reusable
// arena, so that decoding does not allocate once the arena has grown.
// analyze's summaries use github.com/miekg/dns for the full presentation
// of every record type (dns.go).

const (
	dnsMaxQuestions = 4  // questions reported per message
	dnsMaxAnswers   = 32 // answers decoded per message
	dnsMaxPointers  = 32 // compression pointers followed per name
)

// DNS record types decoded here.
const (
	dnsTypeA     = 1
	dnsTypeNS    = 2
	dnsTypeCNAME = 5
	dnsTypePTR   = 12
	dnsTypeAAAA  = 28
	dnsTypeDNAME = 39
)

var (
	errDNSShort   = errors.New("dns: truncated message")
	errDNSName    = errors.New("dns: malformed name")
	errDNSPointer = errors.New("dns: bad compression pointer")
)

// dnsQuestion is one question; name aliases the arena.
type dnsQuestion struct {
	name  []byte
	qtype uint16
}

// dnsMsg is a decoded message, reused from message to message.
type dnsMsg struct {
	id, flags         uint16
	qd, an, ns, ar    uint16
	questions         []dnsQuestion
	answers           []DNSAnswer
	arena             []byte
	answersIncomplete bool
}

func (m *dnsMsg) response() bool { return m.flags&0x8000 != 0 }
func (m *dnsMsg) rcode() int     { return int(m.flags & 0xf) }

// decode decodes msg. Answers are decoded only when answers is true.
func (m *dnsMsg) decode(msg []byte, answers bool) error {
	m.questions, m.answers, m.arena = m.questions[:0], m.answers[:0], m.arena[:0]
	m.answersIncomplete = false
	if len(msg) < 12 {
		return errDNSShort
	}
	m.id = binary.BigEndian.Uint16(msg)
	m.flags = binary.BigEndian.Uint16(msg[2:])
	m.qd = binary.BigEndian.Uint16(msg[4:])
	m.an = binary.BigEndian.Uint16(msg[6:])
	m.ns = binary.BigEndian.Uint16(msg[8:])
	m.ar = binary.BigEndian.Uint16(msg[10:])
	off := 12
	for i := 0; i < int(m.qd); i++ {
		name, next, err := m.name(msg, off, 4)
		if err != nil {
			return err
		}
		off = next
		if i < dnsMaxQuestions {
			m.questions = append(m.questions, dnsQuestion{name: name, qtype: binary.BigEndian.Uint16(msg[off:])})
		}
		off += 4
	}
	if !answers {
		return nil
	}
	for i := 0; i < int(m.an); i++ {
		if i == dnsMaxAnswers {
			m.answersIncomplete = true
			break
		}
		name, next, err := m.name(msg, off, 10)
		if err != nil {
			return err
		}
		off = next
		typ := binary.BigEndian.Uint16(msg[off:])
		ttl := binary.BigEndian.Uint32(msg[off+4:])
		rdlen := int(binary.BigEndian.Uint16(msg[off+8:]))
		off += 10
		if off+rdlen > len(msg) {
			return errDNSShort
		}
		rdata := msg[off : off+rdlen]
		a := DNSAnswer{Name: bstr(name), Type: typ, TTL: ttl}
		switch typ {
		case dnsTypeA:
			if len(rdata) == 4 {
				a.Addr = netip.AddrFrom4([4]byte(rdata))
			}
		case dnsTypeAAAA:
			if len(rdata) == 16 {
				a.Addr = netip.AddrFrom16([16]byte(rdata))
			}
		case dnsTypeCNAME, dnsTypeNS, dnsTypePTR, dnsTypeDNAME:
			target, _, err := m.name(msg, off, 0)
			if err != nil {
				return err
			}
			a.Data = bstr(target)
		}
		if a.Addr.IsValid() {
			ds := len(m.arena)
			m.arena = a.Addr.AppendTo(m.arena)
			a.Data = bstr(m.arena[ds:len(m.arena):len(m.arena)])
		}
		m.answers = append(m.answers, a)
		off += rdlen
	}
	return nil
}

// name decodes the name at msg[off:] into the arena and returns it (a
// slice of the arena that appends cannot overwrite) and the offset after
// it, which must leave at least fixed more bytes in msg.
func (m *dnsMsg) name(msg []byte, off, fixed int) ([]byte, int, error) {
	start := len(m.arena)
	var err error
	if m.arena, off, err = appendName(m.arena, msg, off); err != nil {
		return nil, 0, err
	}
	if off+fixed > len(msg) {
		return nil, 0, errDNSShort
	}
	return m.arena[start:len(m.arena):len(m.arena)], off, nil
}

// appendName decodes the (possibly compressed) name at msg[off:] in
// presentation form, lower case and without the trailing dot ("" for the
// root), and appends it to dst. It returns the offset just past the name
// where it starts. Pointers must point backwards and at most
// dnsMaxPointers are followed, so hostile messages cannot loop.
func appendName(dst, msg []byte, off int) ([]byte, int, error) {
	end := -1
	ptrs := 0
	total := 0
	start := len(dst)
	for {
		if off >= len(msg) {
			return dst, 0, errDNSShort
		}
		c := int(msg[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if end < 0 {
					end = off + 1
				}
				return dst, end, nil
			}
			if off+1+c > len(msg) {
				return dst, 0, errDNSShort
			}
			total += c + 1
			if total > 255 {
				return dst, 0, errDNSName
			}
			if len(dst) > start {
				dst = append(dst, '.')
			}
			dst = appendLabel(dst, msg[off+1:off+1+c])
			off += 1 + c
		case 0xc0:
			if off+1 >= len(msg) {
				return dst, 0, errDNSShort
			}
			ptr := int(binary.BigEndian.Uint16(msg[off:]) & 0x3fff)
			if ptr >= off || ptrs == dnsMaxPointers {
				return dst, 0, errDNSPointer
			}
			if end < 0 {
				end = off + 2
			}
			ptrs++
			off = ptr
		default:
			return dst, 0, errDNSName // 0x40, 0x80: obsolete label types
		}
	}
}

// appendLabel appends a label, lower-cased, escaping bytes that would be
// ambiguous in presentation form ("." and "\" as \. and \\, other
// non-printable bytes as \DDD), as RFC 4343 §2.1 and miekg/dns do.
func appendLabel(dst, label []byte) []byte {
	for _, c := range label {
		switch {
		case c == '.' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x21 || c > 0x7e:
			dst = append(dst, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
		case 'A' <= c && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// dnsLooksLike checks a message start for detection: the header is
// plausible for a query (fromServer false) or a response, and the first
// question is well-formed. It returns NeedMore when msg ends before the
// first question does (TCP prefixes).
func dnsLooksLike(msg []byte, fromServer bool) Match {
	if len(msg) < 12 {
		return NeedMore
	}
	flags := binary.BigEndian.Uint16(msg[2:])
	qd := binary.BigEndian.Uint16(msg[4:])
	an := binary.BigEndian.Uint16(msg[6:])
	ns := binary.BigEndian.Uint16(msg[8:])
	ar := binary.BigEndian.Uint16(msg[10:])
	if (flags&0x8000 != 0) != fromServer {
		return NoMatch
	}
	switch op := flags >> 11 & 0xf; {
	case op == 3 || op > 5:
		return NoMatch
	case op == 1 && qd == 0:
		// An inverse query carries its question in the answer section.
		if an == 0 || an > 16 {
			return NoMatch
		}
		return Matched
	case qd == 0 && fromServer && an > 0 && an <= 512:
		// A response without question: mDNS announcements and answers.
		return dnsFirstRecord(msg)
	}
	if qd == 0 || qd > dnsMaxQuestions {
		return NoMatch
	}
	if !fromServer {
		if flags&0xf != 0 || ar > 4 || flags>>11&0xf == 0 && (an != 0 || ns != 0) {
			return NoMatch
		}
	} else if an > 512 || ns > 512 || ar > 512 {
		return NoMatch
	}
	// The first question: uncompressed labels, then type and class.
	off, first, m := dnsPlainName(msg, 12)
	if m != Matched {
		return m
	}
	if off+4 > len(msg) {
		return NeedMore
	}
	qtype := binary.BigEndian.Uint16(msg[off:])
	switch binary.BigEndian.Uint16(msg[off+2:]) &^ 0x8000 {
	case 1, 3, 4, 254, 255:
	default:
		return NoMatch
	}
	if qtype == 0 || isNetBIOSName(first, qtype) {
		return NoMatch
	}
	return Matched
}

// dnsPlainName walks the uncompressed name at msg[off:] (labels of at most
// 63 bytes, 255 in all) for detection: Matched with the offset after it
// and its first label, NeedMore when msg ends inside it, NoMatch when it is
// not such a name.
func dnsPlainName(msg []byte, off int) (next int, first []byte, m Match) {
	total := 0
	for {
		if off >= len(msg) {
			return 0, nil, NeedMore
		}
		c := int(msg[off])
		if c == 0 {
			return off + 1, first, Matched
		}
		if c > 63 || total+c+1 > 255 {
			return 0, nil, NoMatch
		}
		total += c + 1
		if first == nil && off+1+c <= len(msg) {
			first = msg[off+1 : off+1+c]
		}
		off += 1 + c
	}
}

// isNetBIOSName recognises a NetBIOS name service question (RFC 1002),
// which borrows DNS's format: a 32-letter first-level encoded name ('A' to
// 'P') with type NB (0x20) or NBSTAT (0x21). It is not DNS.
func isNetBIOSName(label []byte, qtype uint16) bool {
	if qtype != 0x20 && qtype != 0x21 || len(label) != 32 {
		return false
	}
	for _, c := range label {
		if c < 'A' || c > 'P' {
			return false
		}
	}
	return true
}

// dnsFirstRecord checks the first resource record after the header of a
// message without questions: an uncompressed owner name, class IN (with
// mDNS's cache-flush bit), and data within the message.
func dnsFirstRecord(msg []byte) Match {
	off, _, m := dnsPlainName(msg, 12)
	if m != Matched {
		return m
	}
	if off+10 > len(msg) {
		return NeedMore
	}
	if binary.BigEndian.Uint16(msg[off+2:])&^0x8000 != 1 {
		return NoMatch
	}
	if off+10+int(binary.BigEndian.Uint16(msg[off+8:])) > len(msg) {
		return NoMatch
	}
	return Matched
}
