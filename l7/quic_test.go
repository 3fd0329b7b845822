package l7

import (
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestQUICKeys checks the Initial key derivation against RFC 9001
// Appendix A.1 (DCID 0x8394c8f03e515708), and against the standard
// library's HKDF for other versions and connection ids.
func TestQUICKeys(t *testing.T) {
	dcid, _ := hex.DecodeString("8394c8f03e515708")
	vi, _ := quicVersion(quicV1)
	var kdf quicKDF
	if got := kdf.hmac(vi.salt, dcid); hex.EncodeToString(got[:]) != "7db5df06e7a69e432496adedb00851923595221596ae2ae9fb8115c1e9ed0a44" {
		t.Errorf("initial secret %x", got)
	}
	c, s := kdf.derive(vi, dcid)
	got := map[string]string{
		"client key": hex.EncodeToString(c.key[:]), "client iv": hex.EncodeToString(c.iv[:]), "client hp": hex.EncodeToString(c.hpKey[:]),
		"server key": hex.EncodeToString(s.key[:]), "server iv": hex.EncodeToString(s.iv[:]), "server hp": hex.EncodeToString(s.hpKey[:]),
	}
	want := map[string]string{
		"client key": "1f369613dd76d5467730efcbe3b1a22d",
		"client iv":  "fa044b2f42a3fd3b46fb255c",
		"client hp":  "9f50449e04a0e810283a1e9933adedd2",
		"server key": "cf3a5331653c364c88f0f379b6067e37",
		"server iv":  "0ac1493ca1905853b0bba03e",
		"server hp":  "c206b8d9b9f0f37644430b490eeaa314",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RFC 9001 A.1 keys (-want +got):\n%s", diff)
	}
	// The same with crypto/hkdf, for every version and a few DCIDs.
	stdExpand := func(secret []byte, label string, n int) []byte {
		full := "tls13 " + label
		info := append([]byte{byte(n >> 8), byte(n), byte(len(full))}, full...)
		out, err := hkdf.Expand(sha256.New, secret, string(append(info, 0)), n)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, v := range []uint32{quicV1, quicV2, 0xff00001d, 0xff000017} {
		vi, _ := quicVersion(v)
		for _, dcid := range [][]byte{nil, {1}, dcid, []byte("twenty-bytes-dcid!!!")} {
			initial, err := hkdf.Extract(sha256.New, dcid, vi.salt)
			if err != nil {
				t.Fatal(err)
			}
			c, s := kdf.derive(vi, dcid)
			for i, k := range []quicKeys{c, s} {
				secret := stdExpand(initial, [2]string{"client in", "server in"}[i], 32)
				want := [3]string{hex.EncodeToString(stdExpand(secret, vi.labelPrefix+"key", 16)),
					hex.EncodeToString(stdExpand(secret, vi.labelPrefix+"iv", 12)),
					hex.EncodeToString(stdExpand(secret, vi.labelPrefix+"hp", 16))}
				got := [3]string{hex.EncodeToString(k.key[:]), hex.EncodeToString(k.iv[:]), hex.EncodeToString(k.hpKey[:])}
				if got != want {
					t.Errorf("version %#x dcid %x side %d: %v, want %v", v, dcid, i, got, want)
				}
			}
		}
	}
}

// deriveQUICKeys derives the Initial keys of both directions for dcid,
// ready to seal (tests).
func deriveQUICKeys(vi quicVersionInfo, dcid []byte) (client, server quicKeys, err error) {
	var kdf quicKDF
	client, server = kdf.derive(vi, dcid)
	if err := client.ready(); err != nil {
		return client, server, err
	}
	return client, server, server.ready()
}

// quicInitial seals frames into a protected Initial packet of version v,
// padded to 1200 bytes when pad is set.
func quicInitial(t testing.TB, v uint32, dcid []byte, k *quicKeys, pn uint32, frames []byte, pad bool) []byte {
	t.Helper()
	vi, ok := quicVersion(v)
	if !ok {
		t.Fatalf("version %#x", v)
	}
	const pnLen = 2
	hdr := []byte{0xc0 | vi.initialType<<4 | (pnLen - 1)}
	hdr = binary.BigEndian.AppendUint32(hdr, v)
	hdr = append(hdr, byte(len(dcid)))
	hdr = append(hdr, dcid...)
	hdr = append(hdr, 0, 0) // empty SCID, empty token
	payload := append([]byte(nil), frames...)
	if pad {
		for len(hdr)+2+pnLen+len(payload)+16 < 1200 {
			payload = append(payload, 0)
		}
	}
	length := pnLen + len(payload) + 16
	hdr = append(hdr, 0x40|byte(length>>8), byte(length))
	pnOffset := len(hdr)
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(pn))
	var nonce [12]byte
	copy(nonce[:], k.iv[:])
	for i := 0; i < 8; i++ {
		nonce[11-i] ^= byte(uint64(pn) >> (8 * i))
	}
	ct := k.aead.Seal(nil, nonce[:], payload, hdr)
	pkt := append(hdr, ct...)
	var mask [16]byte
	k.hp.Encrypt(mask[:], pkt[pnOffset+4:pnOffset+20])
	pkt[0] ^= mask[0] & 0x0f
	for i := 0; i < pnLen; i++ {
		pkt[pnOffset+i] ^= mask[1+i]
	}
	return pkt
}

func cryptoFrame(off int, data []byte) []byte {
	f := []byte{0x06}
	f = appendVarint(f, uint64(off))
	f = appendVarint(f, uint64(len(data)))
	return append(f, data...)
}

func appendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return append(b, 0x40|byte(v>>8), byte(v))
	}
	return append(b, 0x80|byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func TestQUIC(t *testing.T) {
	hello := clientHelloBytes(t, &tls.Config{ServerName: "Quic.Example", NextProtos: []string{"h3"}, MinVersion: tls.VersionTLS13, InsecureSkipVerify: true})
	msg := hello[5:] // the handshake message, without the TLS record header
	dcid, _ := hex.DecodeString("0102030405060708")
	ack := []byte{0x02, 0x00, 0x00, 0x00, 0x00} // ACK largest 0, delay 0, no ranges
	for _, v := range []uint32{quicV1, quicV2, 0xff00001d} {
		vi, _ := quicVersion(v)
		ck, sk, err := deriveQUICKeys(vi, dcid)
		if err != nil {
			t.Fatal(err)
		}
		a, b := len(msg)/3, 2*len(msg)/3
		// Packet 1 carries the last third then the first; packet 2 the
		// middle, with an overlapping repeat of the start: out of order,
		// split, first data wins.
		p1 := quicInitial(t, v, dcid, &ck, 0, append(append([]byte{0x01}, cryptoFrame(b, msg[b:])...), cryptoFrame(0, msg[:a])...), true)
		p2 := quicInitial(t, v, dcid, &ck, 1, append(cryptoFrame(a, msg[a:b]), cryptoFrame(0, msg[:10])...), true)
		// The server's Initial with a ServerHello choosing TLS 1.3,
		// coalesced with junk standing for a Handshake packet.
		sh := []byte{2, 0, 0, 46, 3, 3}
		sh = append(sh, make([]byte, 32)...)
		sh = append(sh, 0, 0x13, 0x01, 0, 0, 6, 0, 0x2b, 0, 2, 3, 4)
		s1 := quicInitial(t, v, nil, &sk, 0, append(ack, cryptoFrame(0, sh)...), false)
		s1 = append(s1, 0x40, 1, 2, 3) // a short header packet after it
		want := []string{
			`req quic Host="quic.example" ALPN=["h3"] Version="` + quicVersionName(v) + `" JA4=`,
			`resp quic Status=-1 Version="1.3"`,
		}
		got, f := runUDP(t, NewEngine(Config{Parser: ParserConfig{Summaries: true}}), 50000, 443, OrientationGuessed,
			cseg(string(p1)), cseg(string(p2)), sseg(string(s1)))
		for i, l := range got {
			if j := strings.Index(l, "JA4="); j >= 0 {
				if !strings.HasPrefix(l[j+4:], `"q13d`) {
					t.Errorf("%#x: JA4 %s", v, l[j+4:])
				}
				got[i] = l[:j+4]
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%#x: events (-want +got):\n%s", v, diff)
		}
		if f.App() != QUIC || !f.Done() {
			t.Errorf("%#x: app %v done %v", v, f.App(), f.Done())
		}
	}
}

func TestDetectQUIC(t *testing.T) {
	dcid, _ := hex.DecodeString("0102030405060708")
	ck, _, _ := deriveQUICKeys(quicVersionInfo{saltV1, "quic ", 0, 3}, dcid)
	initial := string(quicInitial(t, quicV1, dcid, &ck, 0, []byte{1}, true))
	short := string(quicInitial(t, quicV1, dcid[:4], &ck, 0, []byte{1}, true))
	grease := "\xc0\x1a\x2a\x3a\x4a\x08" + strings.Repeat("\x00", 1200)
	vn := "\x80\x00\x00\x00\x00\x08" + strings.Repeat("\x01", 8) + "\x00\x00\x00\x00\x01"
	tests := []struct {
		dir  Dir
		data string
		want Match
	}{
		{FromClient, initial, Matched},
		{FromServer, initial, Matched},
		{FromClient, short, NoMatch},
		{FromClient, grease, Matched},
		{FromClient, grease[:600], NoMatch},
		{FromServer, vn, Matched},
		{FromClient, vn, NoMatch},
		{FromClient, "\x40\x01\x02\x03\x04\x05\x06\x07", NoMatch},
		{FromClient, "\xc0\x00\x00\x00\x07\x08", NoMatch},
		{FromClient, "GET / HTTP/1.1\r\n", NoMatch},
	}
	for i, tc := range tests {
		if got := detectQUIC(tc.dir, []byte(tc.data)); got != tc.want {
			t.Errorf("%d: detectQUIC(%v, %q…) = %v, want %v", i, tc.dir, tc.data[:min(12, len(tc.data))], got, tc.want)
		}
	}
}

func TestDecodePN(t *testing.T) {
	// RFC 9000 Appendix A.3's example, and small cases.
	tests := []struct {
		largest   int64
		truncated uint64
		n         int
		want      uint64
	}{
		{0xa82f30ea, 0x9b32, 2, 0xa82f9b32},
		{-1, 0, 1, 0},
		{-1, 1, 2, 1},
		{255, 1, 1, 257},
	}
	for _, tc := range tests {
		if got := decodePN(tc.largest, tc.truncated, tc.n); got != tc.want {
			t.Errorf("decodePN(%#x, %#x, %d) = %#x, want %#x", tc.largest, tc.truncated, tc.n, got, tc.want)
		}
	}
}

// TestAllocsQUIC: a QUIC connection allocates only when each direction's
// first Initial packet makes its AES and GCM objects (the key material is
// derived without allocating); every later packet allocates nothing.
func TestAllocsQUIC(t *testing.T) {
	skipUnderRace(t)
	hello := clientHelloBytes(t, &tls.Config{ServerName: "quic.example", NextProtos: []string{"h3"}, MinVersion: tls.VersionTLS13, InsecureSkipVerify: true})[5:]
	dcid := []byte{8, 7, 6, 5, 4, 3, 2, 1}
	vi, _ := quicVersion(quicV1)
	ck, sk, err := deriveQUICKeys(vi, dcid)
	if err != nil {
		t.Fatal(err)
	}
	half := len(hello) / 2
	ack := []byte{0x02, 0x00, 0x00, 0x00, 0x00}
	sh := []byte{2, 0, 0, 46, 3, 3}
	sh = append(sh, make([]byte, 32)...)
	sh = append(sh, 0, 0x13, 0x01, 0, 0, 6, 0, 0x2b, 0, 2, 3, 4)
	c1 := quicInitial(t, quicV1, dcid, &ck, 0, cryptoFrame(0, hello[:half]), true)
	c2 := quicInitial(t, quicV1, dcid, &ck, 1, cryptoFrame(half, hello[half:]), true)
	s1 := quicInitial(t, quicV1, nil, &sk, 0, ack, false)
	s2 := quicInitial(t, quicV1, nil, &sk, 1, cryptoFrame(0, sh), false)
	e := NewEngine(Config{})
	var f Flow
	var sink nopSink
	conn := func(pkts ...[]byte) func() {
		return func() {
			f.Init(e, UDP, 50000, 443, OrientationKnown)
			for i, p := range pkts {
				f.UDP(Dir(i&1), p, sink)
			}
			f.Release()
		}
	}
	first := testing.AllocsPerRun(200, conn(c1, s1))
	whole := testing.AllocsPerRun(200, conn(c1, s1, c2, s2))
	if whole != first {
		t.Errorf("%.1f allocations with each direction's first packet, %.1f with the whole connection: later packets allocate", first, whole)
	}
	// Two AES ciphers and a GCM per direction.
	if first > 6 {
		t.Errorf("%.1f allocations for the first packets, want at most 6", first)
	}
	conn(c1, s1, c2, s2)()
	if f.App() != QUIC || f.Requests() != 1 || f.Responses() != 1 {
		t.Errorf("app %v, %d requests, %d responses", f.App(), f.Requests(), f.Responses())
	}
	t.Logf("%.1f allocations per connection", whole)
}
