package l7

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
)

// The TLS ClientHello (RFC 8446 §4.1.2), as sent over TCP (tls.go) or in
// QUIC CRYPTO frames (quic.go), and its JA4 fingerprint (FoxIO's JA4
// specification: https://github.com/FoxIO-LLC/ja4, technical_details/JA4.md).
// Decoding reuses the slices of a clientHello, so once they have grown to
// the largest hello seen it does not allocate.

// TLS extension numbers used here.
const (
	extServerName          = 0x0000
	extSignatureAlgorithms = 0x000d
	extALPN                = 0x0010
	extSupportedVersions   = 0x002b
)

// clientHello holds what one ClientHello says. Byte slices alias the
// message.
type clientHello struct {
	legacyVersion uint16
	maxVersion    uint16   // highest non-GREASE supported_versions entry, else legacyVersion
	versions      []uint16 // the non-GREASE supported_versions entries in order, else legacyVersion
	sni           []byte
	hasSNI        bool
	alpn          []string // aliases the message
	ciphers       []uint16 // non-GREASE, in order
	exts          []uint16 // non-GREASE, in order
	sigs          []uint16 // non-GREASE, in order
	text          []byte   // scratch for the JA4 hash input
	sorted        []uint16 // scratch for sorting
	ja4           [36]byte
}

// isGREASE reports whether v is a GREASE value (RFC 8701): 0x?a?a with
// both bytes equal.
func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

var (
	errShortHello = errors.New("truncated")
	// errBadExtensions reports extensions cut short: what was decoded before
	// them is kept.
	errBadExtensions = errors.New("truncated extensions")
)

// tlsReader reads big-endian fields from a byte slice; a read past the end
// sets bad and returns zeros.
type tlsReader struct {
	b   []byte
	bad bool
}

func (r *tlsReader) u8() int {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return int(v)
}

func (r *tlsReader) u16() int {
	if len(r.b) < 2 {
		r.bad, r.b = true, nil
		return 0
	}
	v := binary.BigEndian.Uint16(r.b)
	r.b = r.b[2:]
	return int(v)
}

func (r *tlsReader) bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.bad, r.b = true, nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// parse decodes a ClientHello body (after the 4-byte handshake header).
func (ch *clientHello) parse(body []byte) error {
	err := ch.parseBody(body)
	if len(ch.versions) == 0 && ch.legacyVersion != 0 {
		ch.versions = append(ch.versions, ch.legacyVersion) // no supported_versions
	}
	return err
}

func (ch *clientHello) parseBody(body []byte) error {
	ch.legacyVersion, ch.maxVersion = 0, 0
	ch.sni, ch.hasSNI = nil, false
	ch.alpn = ch.alpn[:0]
	ch.ciphers, ch.exts, ch.sigs = ch.ciphers[:0], ch.exts[:0], ch.sigs[:0]
	ch.versions = ch.versions[:0]
	r := tlsReader{b: body}
	ch.legacyVersion = uint16(r.u16())
	r.bytes(32)            // random
	r.bytes(r.u8())        // legacy_session_id
	cs := r.bytes(r.u16()) // cipher_suites
	r.bytes(r.u8())        // legacy_compression_methods
	if r.bad || len(cs)%2 != 0 {
		return errShortHello
	}
	for i := 0; i+1 < len(cs); i += 2 {
		if v := binary.BigEndian.Uint16(cs[i:]); !isGREASE(v) {
			ch.ciphers = append(ch.ciphers, v)
		}
	}
	ch.maxVersion = ch.legacyVersion
	if len(r.b) == 0 {
		return nil // no extensions (SSL 3.0 style)
	}
	n := r.u16()
	if r.bad {
		return errBadExtensions
	}
	exts := tlsReader{b: r.b}
	if n < len(exts.b) {
		exts.b = exts.b[:n]
	}
	for len(exts.b) > 0 {
		typ := uint16(exts.u16())
		data := exts.bytes(exts.u16())
		if exts.bad {
			return errBadExtensions
		}
		if isGREASE(typ) {
			continue
		}
		ch.exts = append(ch.exts, typ)
		switch typ {
		case extServerName:
			ch.hasSNI = true
			ch.sni = parseSNI(data)
		case extALPN:
			l := tlsReader{b: data}
			list := tlsReader{b: l.bytes(l.u16())}
			for len(list.b) > 0 && !list.bad {
				p := list.bytes(list.u8())
				if !list.bad && len(ch.alpn) < 16 {
					ch.alpn = append(ch.alpn, bstr(p))
				}
			}
		case extSupportedVersions:
			l := tlsReader{b: data}
			vs := l.bytes(l.u8())
			best := uint16(0)
			ch.versions = ch.versions[:0]
			for i := 0; i+1 < len(vs); i += 2 {
				if v := binary.BigEndian.Uint16(vs[i:]); !isGREASE(v) && len(ch.versions) < 16 {
					ch.versions = append(ch.versions, v)
					best = max(best, v)
				}
			}
			if best != 0 {
				ch.maxVersion = best
			}
		case extSignatureAlgorithms:
			l := tlsReader{b: data}
			algs := l.bytes(l.u16())
			for i := 0; i+1 < len(algs); i += 2 {
				if v := binary.BigEndian.Uint16(algs[i:]); !isGREASE(v) {
					ch.sigs = append(ch.sigs, v)
				}
			}
		}
	}
	if n > len(r.b) {
		return errBadExtensions
	}
	return nil
}

// parseSNI returns the first host_name of a server_name extension.
func parseSNI(data []byte) []byte {
	l := tlsReader{b: data}
	list := tlsReader{b: l.bytes(l.u16())}
	for len(list.b) > 0 && !list.bad {
		typ := list.u8()
		name := list.bytes(list.u16())
		if !list.bad && typ == 0 {
			return name
		}
	}
	return nil
}

// ja4Version is the two-character TLS version of JA4.
func ja4Version(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

// tlsVersionName names a protocol version the way Request.Version does.
func tlsVersionName(v uint16) string {
	switch v {
	case 0x0304:
		return "1.3"
	case 0x0303:
		return "1.2"
	case 0x0302:
		return "1.1"
	case 0x0301:
		return "1.0"
	case 0x0300:
		return "ssl3"
	case 0:
		return ""
	}
	const hexd = "0123456789abcdef"
	return string([]byte{'0', 'x', hexd[v>>12], hexd[v>>8&0xf], hexd[v>>4&0xf], hexd[v&0xf]})
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// fingerprint computes the JA4 fingerprint; transport is 't' (TLS over
// TCP) or 'q' (QUIC). The string aliases ch.ja4.
func (ch *clientHello) fingerprint(transport byte) string {
	const hexd = "0123456789abcdef"
	b := ch.ja4[:0]
	b = append(b, transport)
	b = append(b, ja4Version(ch.maxVersion)...)
	if ch.hasSNI {
		b = append(b, 'd')
	} else {
		b = append(b, 'i')
	}
	b = appendCount(b, len(ch.ciphers))
	b = appendCount(b, len(ch.exts))
	switch {
	case len(ch.alpn) == 0 || len(ch.alpn[0]) == 0:
		b = append(b, '0', '0')
	default:
		a := ch.alpn[0]
		first, last := a[0], a[len(a)-1]
		if isAlnum(first) && isAlnum(last) {
			b = append(b, first, last)
		} else {
			b = append(b, hexd[first>>4], hexd[last&0xf])
		}
	}
	b = append(b, '_')
	// Ciphers, sorted.
	ch.sorted = append(ch.sorted[:0], ch.ciphers...)
	slices.Sort(ch.sorted)
	ch.text = appendHexList(ch.text[:0], ch.sorted)
	b = appendHash12(b, ch.text, len(ch.sorted) == 0)
	b = append(b, '_')
	// Extensions, sorted, without SNI and ALPN; then signature algorithms
	// in their order.
	ch.sorted = ch.sorted[:0]
	for _, e := range ch.exts {
		if e != extServerName && e != extALPN {
			ch.sorted = append(ch.sorted, e)
		}
	}
	slices.Sort(ch.sorted)
	ch.text = appendHexList(ch.text[:0], ch.sorted)
	if len(ch.sigs) > 0 {
		ch.text = append(ch.text, '_')
		ch.text = appendHexList(ch.text, ch.sigs)
	}
	b = appendHash12(b, ch.text, len(ch.sorted) == 0)
	return bstr(b)
}

// appendCount appends n as two digits, 99 at most.
func appendCount(b []byte, n int) []byte {
	n = min(n, 99)
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

// appendHexList appends "0a0b,0c0d,…".
func appendHexList(b []byte, vs []uint16) []byte {
	var tmp [2]byte
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		binary.BigEndian.PutUint16(tmp[:], v)
		b = hex.AppendEncode(b, tmp[:])
	}
	return b
}

// appendHash12 appends the first 12 hex digits of SHA-256(text), or twelve
// zeros when the list was empty.
func appendHash12(b, text []byte, empty bool) []byte {
	if empty {
		return append(b, "000000000000"...)
	}
	sum := sha256.Sum256(text)
	return hex.AppendEncode(b, sum[:6])
}
