package l7

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// QUIC (RFC 9000) version 1, version 2 (RFC 9369) and the late drafts.
//
// Initial packets are protected with keys every observer can derive: HKDF
// over the client's Destination Connection ID with a published salt
// (RFC 9001 §5.2). The parser removes header protection, decrypts the
// Initial packets of both directions (AES-128-GCM), reassembles their CRYPTO
// frames (split and out of order across packets and datagrams, first data
// wins, at most quicMaxCrypto bytes) and decodes the ClientHello and the
// ServerHello in them. Coalesced packets are walked; 0-RTT, Handshake and
// 1-RTT packets are skipped (their keys are secret).
//
// Request (client): Host (SNI), ALPN, Version (the QUIC version: "1", "2",
// "draft-29"), JA4 (QUIC variant, "q…").
// Response (server): Version (the TLS version the ServerHello chose), Status -1.

func init() {
	register(&Protocol{
		App:       QUIC,
		Transport: UDP,
		Ports:     []uint16{443, 8443, 784, 853},
		Detect:    detectQUIC,
		New:       func(cfg *ParserConfig) Parser { return newQUICParser(cfg) },
	})
}

const (
	quicV1 = 0x00000001
	quicV2 = 0x6b3343cf
	// quicMaxCrypto bounds the CRYPTO stream kept per direction.
	quicMaxCrypto = 32 << 10
)

// quicVersionInfo is what differs between versions for Initial packets.
type quicVersionInfo struct {
	salt        []byte
	labelPrefix string // "quic " or "quicv2 "
	initialType byte   // long header packet type of Initial
	retryType   byte
}

var (
	saltV1      = []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}
	saltV2      = []byte{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9}
	saltDraft29 = []byte{0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99}
	saltDraft23 = []byte{0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5, 0x02}
)

// quicVersion returns what the parser knows of version v.
func quicVersion(v uint32) (quicVersionInfo, bool) {
	switch {
	case v == quicV1:
		return quicVersionInfo{saltV1, "quic ", 0, 3}, true
	case v == quicV2:
		return quicVersionInfo{saltV2, "quicv2 ", 1, 0}, true
	case v >= 0xff00001d && v <= 0xff000022:
		return quicVersionInfo{saltDraft29, "quic ", 0, 3}, true
	case v >= 0xff000017 && v <= 0xff00001c:
		return quicVersionInfo{saltDraft23, "quic ", 0, 3}, true
	}
	return quicVersionInfo{}, false
}

// quicDraftNames names the drafts whose Initial packets the parser reads
// (23 to 34), so that naming them does not allocate.
var quicDraftNames = func() (names [35]string) {
	for i := 23; i < len(names); i++ {
		names[i] = "draft-" + appItoa(i)
	}
	return names
}()

// quicVersionName names a version for Request.Version.
func quicVersionName(v uint32) string {
	switch {
	case v == quicV1:
		return "1"
	case v == quicV2:
		return "2"
	case v>>8 == 0xff0000 && v&0xff < uint32(len(quicDraftNames)) && quicDraftNames[v&0xff] != "":
		return quicDraftNames[v&0xff]
	case v>>8 == 0xff0000:
		return "draft-" + appItoa(int(v&0xff))
	}
	return "0x" + strconv.FormatUint(uint64(v), 16)
}

// quicLong is a parsed long header.
type quicLong struct {
	typ        byte
	version    uint32
	dcid, scid []byte
	pnOffset   int // offset of the packet number
	end        int // offset just past the packet (Length)
}

// parseQUICLong parses the long header at the start of b. For packets
// other than Initial, pnOffset is 0 and end is where the packet ends
// (0-RTT, Handshake) or len(b) (Retry, version negotiation).
func parseQUICLong(b []byte) (h quicLong, ok bool) {
	if len(b) < 7 || b[0]&0x80 == 0 {
		return h, false
	}
	h.version = binary.BigEndian.Uint32(b[1:])
	h.typ = b[0] >> 4 & 3
	off := 5
	dl := int(b[off])
	if dl > 20 || off+1+dl >= len(b) {
		return h, false
	}
	h.dcid = b[off+1 : off+1+dl]
	off += 1 + dl
	sl := int(b[off])
	if sl > 20 || off+1+sl > len(b) {
		return h, false
	}
	h.scid = b[off+1 : off+1+sl]
	off += 1 + sl
	if h.version == 0 {
		h.end = len(b)
		return h, true
	}
	vi, known := quicVersion(h.version)
	if !known {
		return h, false
	}
	if h.typ == vi.retryType {
		h.end = len(b)
		return h, true
	}
	if h.typ == vi.initialType {
		tl, n := quicVarint(b[off:])
		if n == 0 || tl > uint64(len(b)) {
			return h, false
		}
		off += n + int(tl)
	}
	length, n := quicVarint(b[min(off, len(b)):])
	if n == 0 || off+n+int(min(length, uint64(len(b)))) > len(b) || length < 1 {
		return h, false
	}
	off += n
	h.pnOffset = off
	h.end = off + int(length)
	return h, true
}

// quicVarint decodes a variable-length integer (RFC 9000 §16); n is 0
// when b is too short.
func quicVarint(b []byte) (v uint64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	n = 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0
	}
	v = uint64(b[0] & 0x3f)
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, n
}

func detectQUIC(dir Dir, data []byte) Match {
	if len(data) < 7 || data[0]&0x80 == 0 {
		return NoMatch
	}
	if v := binary.BigEndian.Uint32(data[1:]); v&0x0f0f0f0f == 0x0a0a0a0a {
		// A reserved version (RFC 9000 §15) that a client sends to force
		// version negotiation: its Initial is still padded to 1200 bytes.
		if dir == FromClient && data[0]&0x40 != 0 && len(data) >= 1200 && data[5] <= 20 {
			return Matched
		}
		return NoMatch
	}
	h, ok := parseQUICLong(data)
	if !ok {
		return NoMatch
	}
	if h.version == 0 {
		// Version negotiation comes from servers only, and lists versions.
		if dir == FromServer && (len(data)-7-len(h.dcid)-len(h.scid)) >= 4 && (len(data)-7-len(h.dcid)-len(h.scid))%4 == 0 {
			return Matched
		}
		return NoMatch
	}
	vi, _ := quicVersion(h.version)
	if data[0]&0x40 == 0 {
		return NoMatch
	}
	switch {
	case h.typ == vi.initialType && h.end-h.pnOffset >= 20:
		if dir == FromClient && len(h.dcid) < 8 {
			return NoMatch // a client's first DCID has at least 8 bytes
		}
		return Matched
	case h.typ == vi.retryType && dir == FromServer:
		return Matched
	case h.typ != vi.retryType:
		// 0-RTT or Handshake: QUIC, but an Initial decides (captures may
		// show a 0-RTT packet before the Initial it follows).
		return NeedMore
	}
	return NoMatch
}

// quicKeys protects the Initial packets of one direction. The key
// material is derived for both directions at once (no allocation); the
// AES and GCM objects, which allocate, are made on the direction's first
// packet.
type quicKeys struct {
	key, hpKey [16]byte
	iv         [12]byte
	aead       cipher.AEAD // nil until ready
	hp         cipher.Block
}

// ready makes the cipher objects of k.
func (k *quicKeys) ready() error {
	if k.aead != nil {
		return nil
	}
	block, err := aes.NewCipher(k.key[:])
	if err != nil {
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	hp, err := aes.NewCipher(k.hpKey[:])
	if err != nil {
		return err
	}
	k.aead, k.hp = aead, hp
	return nil
}

// quicKDF computes the Initial secrets (RFC 9001 §5.2): HKDF-SHA256 with
// HMAC over sha256.Sum256 and a reused buffer, so that deriving keys does
// not allocate. Every output is at most one SHA-256 block (32 bytes).
type quicKDF struct{ buf []byte }

// hmac returns HMAC-SHA256(key, msg) for a key of at most 64 bytes.
func (h *quicKDF) hmac(key []byte, msg ...[]byte) [32]byte {
	var pad [64]byte
	copy(pad[:], key)
	h.buf = h.buf[:0]
	for _, c := range pad {
		h.buf = append(h.buf, c^0x36)
	}
	for _, m := range msg {
		h.buf = append(h.buf, m...)
	}
	inner := sha256.Sum256(h.buf)
	h.buf = h.buf[:0]
	for _, c := range pad {
		h.buf = append(h.buf, c^0x5c)
	}
	h.buf = append(h.buf, inner[:]...)
	return sha256.Sum256(h.buf)
}

// expandLabel is TLS 1.3's HKDF-Expand-Label with an empty context, for
// outputs of at most 32 bytes, into out.
func (h *quicKDF) expandLabel(out, secret []byte, prefix, label string) {
	var info [64]byte
	n := len("tls13 ") + len(prefix) + len(label)
	b := append(info[:0], byte(len(out)>>8), byte(len(out)), byte(n))
	b = append(b, "tls13 "...)
	b = append(b, prefix...)
	b = append(b, label...)
	b = append(b, 0, 1) // empty context, then HKDF-Expand's counter
	t := h.hmac(secret, b)
	copy(out, t[:])
}

// derive computes the Initial key material of both directions for dcid.
func (h *quicKDF) derive(vi quicVersionInfo, dcid []byte) (client, server quicKeys) {
	initial := h.hmac(vi.salt, dcid) // HKDF-Extract(salt, dcid)
	for i, label := range [2]string{"client in", "server in"} {
		var secret [32]byte
		h.expandLabel(secret[:], initial[:], "", label)
		var k quicKeys
		h.expandLabel(k.key[:], secret[:], vi.labelPrefix, "key")
		h.expandLabel(k.iv[:], secret[:], vi.labelPrefix, "iv")
		h.expandLabel(k.hpKey[:], secret[:], vi.labelPrefix, "hp")
		if i == 0 {
			client = k
		} else {
			server = k
		}
	}
	return client, server
}

// quicSummary is the "quic" object of flow JSON.
type quicSummary struct {
	Version string   `json:"version,omitempty"`
	SNI     string   `json:"sni,omitempty"`
	ALPN    []string `json:"alpn,omitempty"`
	JA4     string   `json:"ja4,omitempty"`
	TLS     string   `json:"tls_version,omitempty"`
}

// quicSide is the Initial-space state of one direction.
type quicSide struct {
	largestPN int64
	crypto    *streamBuf // the CRYPTO stream, allocated on first use
	done      bool       // its hello was decoded
}

type quicParser struct {
	summaries bool
	version   uint32
	dcid      [20]byte // the client DCID the keys were derived from
	dcidLen   int
	keyed     bool
	retried   bool
	kdf       quicKDF
	keys      [2]quicKeys
	side      [2]quicSide
	ch        clientHello
	plain     []byte
	scratch   []byte
	// mask and nonce would escape to the heap on every packet as locals
	// (the cipher interfaces take slices of them).
	mask  [16]byte
	nonce [12]byte
	req   Request
	resp  Response
	sum   *quicSummary
	noted bool
}

func newQUICParser(cfg *ParserConfig) *quicParser {
	p := &quicParser{}
	p.Reset(cfg)
	return p
}

// Reset implements Resetter.
func (p *quicParser) Reset(cfg *ParserConfig) {
	sides := p.side
	*p = quicParser{ch: p.ch, plain: p.plain[:0], scratch: p.scratch[:0], kdf: p.kdf}
	for i := range sides {
		p.side[i].crypto = sides[i].crypto
		if c := p.side[i].crypto; c != nil {
			c.n, c.nruns = 0, 0
		}
		p.side[i].largestPN = -1
	}
	p.summaries = cfg != nil && cfg.Summaries
}

// Summary implements Parser.
func (p *quicParser) Summary() any {
	if p.sum == nil {
		return nil
	}
	return p.sum
}

// Parse implements Parser: one datagram.
func (p *quicParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	for off := 0; off < len(data); {
		b := data[off:]
		if b[0]&0x80 == 0 {
			break // a short header packet: 1-RTT, the rest of the datagram
		}
		h, ok := parseQUICLong(b)
		if !ok {
			break
		}
		if h.version == 0 {
			break // version negotiation
		}
		vi, _ := quicVersion(h.version)
		if h.typ == vi.retryType {
			if dir == FromServer {
				p.retried = true
			}
			break
		}
		if h.typ == vi.initialType {
			if err := p.initial(dir, vi, h, b[:h.end], sink); err != nil {
				return len(data), err
			}
		}
		off += h.end
	}
	if p.side[dir&1].done {
		return len(data), ErrDone // this direction's hello is known
	}
	return len(data), nil
}

// initial decrypts one Initial packet and feeds its frames. Keys come
// from the Destination Connection ID of the client's first Initial
// (RFC 9001 §5.2), or of its first Initial after a Retry. A client Initial
// that does not decrypt with them but carries another DCID is tried with
// keys from that DCID too (a capture that missed the first packets).
func (p *quicParser) initial(dir Dir, vi quicVersionInfo, h quicLong, pkt []byte, sink Sink) error {
	s := &p.side[dir&1]
	if s.done {
		return nil
	}
	sameDCID := p.keyed && string(h.dcid) == string(p.dcid[:p.dcidLen])
	if dir == FromClient && (!p.keyed || p.retried && !sameDCID) {
		if p.keyed && s.crypto != nil {
			// After a Retry the client starts its CRYPTO stream again.
			s.crypto.n, s.crypto.nruns = 0, 0
		}
		p.retried = false
		if err := p.rekey(vi, h); err != nil {
			return err
		}
		sameDCID = true
	}
	if !p.keyed {
		return nil // server packets without the client's: keys unknown
	}
	payload, ok := p.unprotect(&p.keys[dir&1], s, pkt, h.pnOffset)
	if !ok && dir == FromClient && !sameDCID {
		old := p.keys
		oldDCID, oldLen := p.dcid, p.dcidLen
		if err := p.rekey(vi, h); err != nil {
			return err
		}
		if payload, ok = p.unprotect(&p.keys[dir&1], s, pkt, h.pnOffset); !ok {
			p.keys, p.dcid, p.dcidLen = old, oldDCID, oldLen
		}
	}
	if !ok {
		return nil // not decryptable (another connection's keys, corruption)
	}
	return p.frames(dir, payload, sink)
}

// rekey derives the Initial keys of both directions from h's DCID.
func (p *quicParser) rekey(vi quicVersionInfo, h quicLong) error {
	p.keys[FromClient], p.keys[FromServer] = p.kdf.derive(vi, h.dcid)
	p.dcidLen = copy(p.dcid[:], h.dcid)
	p.keyed = true
	p.version = h.version
	return nil
}

// unprotect removes header protection and decrypts pkt into p.plain.
func (p *quicParser) unprotect(k *quicKeys, s *quicSide, pkt []byte, pnOffset int) ([]byte, bool) {
	if pnOffset+4+16 > len(pkt) {
		return nil, false
	}
	if err := k.ready(); err != nil {
		return nil, false
	}
	mask := &p.mask
	k.hp.Encrypt(mask[:], pkt[pnOffset+4:pnOffset+20])
	first := pkt[0] ^ mask[0]&0x0f
	pnLen := int(first&3) + 1
	// The header with protection removed is the AEAD's associated data.
	p.scratch = append(p.scratch[:0], pkt[:pnOffset+pnLen]...)
	hdr := p.scratch
	hdr[0] = first
	var truncated uint64
	for i := 0; i < pnLen; i++ {
		hdr[pnOffset+i] ^= mask[1+i]
		truncated = truncated<<8 | uint64(hdr[pnOffset+i])
	}
	pn := decodePN(s.largestPN, truncated, pnLen)
	nonce := &p.nonce
	copy(nonce[:], k.iv[:])
	for i := 0; i < 8; i++ {
		nonce[11-i] ^= byte(pn >> (8 * i))
	}
	plain, err := k.aead.Open(p.plain[:0], nonce[:], pkt[pnOffset+pnLen:], hdr)
	if err != nil {
		return nil, false
	}
	p.plain = plain
	if int64(pn) > s.largestPN {
		s.largestPN = int64(pn)
	}
	return plain, true
}

// decodePN expands a truncated packet number (RFC 9000 §A.3).
func decodePN(largest int64, truncated uint64, n int) uint64 {
	expected := uint64(largest + 1)
	win := uint64(1) << (8 * n)
	hwin := win / 2
	mask := win - 1
	cand := expected&^mask | truncated
	switch {
	case cand+hwin <= expected && cand < (1<<62)-win:
		return cand + win
	case cand > expected+hwin && cand >= win:
		return cand - win
	}
	return cand
}

var errQUICFrame = errors.New("quic: malformed frame in Initial packet")

// frames walks the frames of a decrypted Initial packet.
func (p *quicParser) frames(dir Dir, b []byte, sink Sink) error {
	s := &p.side[dir&1]
	for len(b) > 0 {
		typ, n := quicVarint(b)
		if n == 0 {
			return errQUICFrame
		}
		b = b[n:]
		switch typ {
		case 0x00, 0x01: // PADDING, PING
		case 0x02, 0x03: // ACK
			var ok bool
			if b, ok = skipACK(b, typ == 0x03); !ok {
				return errQUICFrame
			}
		case 0x06: // CRYPTO
			off, n1 := quicVarint(b)
			length, n2 := quicVarint(b[n1:])
			if n1 == 0 || n2 == 0 || uint64(len(b)-n1-n2) < length {
				return errQUICFrame
			}
			data := b[n1+n2 : n1+n2+int(length)]
			b = b[n1+n2+int(length):]
			if err := p.crypto(dir, s, off, data, sink); err != nil || s.done {
				return err
			}
		case 0x1c, 0x1d: // CONNECTION_CLOSE
			return nil
		default:
			return fmt.Errorf("quic: frame type %#x in Initial packet", typ)
		}
	}
	return nil
}

// skipACK passes over an ACK frame's fields.
func skipACK(b []byte, ecn bool) ([]byte, bool) {
	fields := 3 // largest, delay, range count
	var count uint64
	for i := 0; i < fields; i++ {
		v, n := quicVarint(b)
		if n == 0 {
			return nil, false
		}
		b = b[n:]
		if i == 2 {
			count = v
		}
	}
	if count > 256 {
		return nil, false
	}
	rest := 1 + 2*int(count)
	if ecn {
		rest += 3
	}
	for i := 0; i < rest; i++ {
		_, n := quicVarint(b)
		if n == 0 {
			return nil, false
		}
		b = b[n:]
	}
	return b, true
}

// crypto adds CRYPTO data at offset off and decodes the hello once the
// stream holds it whole.
func (p *quicParser) crypto(dir Dir, s *quicSide, off uint64, data []byte, sink Sink) error {
	if off+uint64(len(data)) > quicMaxCrypto {
		if !p.noted {
			p.noted = true
			sink.Note("quic: CRYPTO data beyond 32 KiB not inspected")
		}
		return nil
	}
	if s.crypto == nil {
		s.crypto = &streamBuf{b: make([]byte, quicMaxCrypto)}
	}
	c := s.crypto
	if len(data) > 0 {
		if _, ok := c.write(int32(off), data); !ok {
			return errors.New("quic: CRYPTO stream too fragmented")
		}
		c.absorb()
	}
	if c.n < 4 {
		return nil
	}
	m := int(c.b[1])<<16 | int(c.b[2])<<8 | int(c.b[3])
	if 4+m > quicMaxCrypto {
		return errors.New("quic: hello larger than 32 KiB")
	}
	if int(c.n) < 4+m {
		return nil
	}
	s.done = true
	msg := c.b[:4+m]
	if dir == FromClient {
		if msg[0] != tlsClientHello {
			return fmt.Errorf("quic: first CRYPTO message has type %d, not ClientHello", msg[0])
		}
		if err := p.ch.parse(msg[4:]); err == errBadExtensions {
			sink.Note("quic: malformed ClientHello: " + err.Error())
		} else if err != nil {
			return fmt.Errorf("quic: malformed ClientHello: %w", err)
		}
		p.scratch = p.scratch[:0]
		r := &p.req
		*r = Request{App: QUIC, ALPN: p.ch.alpn, Version: quicVersionName(p.version), JA4: p.ch.fingerprint('q')}
		r.Host = bstr(normHost(p.ch.sni, &p.scratch))
		if p.summaries {
			sum := p.summary()
			sum.Version, sum.SNI, sum.JA4 = r.Version, strings.Clone(r.Host), strings.Clone(r.JA4)
			sum.ALPN = nil
			for _, a := range r.ALPN {
				sum.ALPN = append(sum.ALPN, strings.Clone(a))
			}
		}
		sink.Request(r)
		return nil
	}
	if msg[0] != tlsServerHello {
		return fmt.Errorf("quic: first server CRYPTO message has type %d, not ServerHello", msg[0])
	}
	v, err := serverHelloVersion(msg[4:])
	if err != nil {
		return fmt.Errorf("quic: malformed ServerHello: %w", err)
	}
	p.resp = Response{App: QUIC, Status: -1, Version: tlsVersionName(v)}
	if p.summaries {
		p.summary().TLS = p.resp.Version
	}
	sink.Response(&p.resp)
	return nil
}

func (p *quicParser) summary() *quicSummary {
	if p.sum == nil {
		p.sum = &quicSummary{}
	}
	return p.sum
}
