package l7

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"math/rand"
	"strings"
	"testing"
)

// Native fuzz tests of the engine and of the HTTP, HTTP/2, TLS, DNS and
// QUIC parsers. Seeds are real messages; run one for a while with e.g.
//
//	go test ./l7 -run '^$' -fuzz FuzzReassembly -fuzztime 60s -parallel 1

// FuzzReassembly feeds segments at fuzzed offsets, overlapping and out of
// order, and checks what the parser received against a model of the
// stream: for every sequence number the first byte received, delivered in
// order up to the first hole.
func FuzzReassembly(f *testing.F) {
	f.Add([]byte("\x00\x03L1\n\x03\x03L2\n"))
	f.Add([]byte("\x06\x03L3\n\x00\x06L1\nL2\n\x02\x05XX\nL9"))
	f.Add([]byte("\x01\x04AAAA\x00\x02LB\x05\x02\nL"))
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 256
		e := lineEngine(t, limit)
		sink := &textSink{}
		var fl Flow
		fl.Init(e, TCP, 1234, 1, OrientationKnown)
		const isnC = 0xfffffff0
		fl.TCP(FromClient, isnC, SYN, nil, sink)
		model := map[int]byte{}
		for len(in) >= 2 {
			off, n := int(in[0])*3, int(in[1]%48)
			in = in[2:]
			n = min(n, len(in))
			data := in[:n]
			in = in[n:]
			// A segment starting limit bytes or more past the first byte
			// not received yet is thrown away (NoteOutOfWindow).
			next := 0
			for _, ok := model[next]; ok; _, ok = model[next] {
				next++
			}
			for i, b := range data {
				if _, ok := model[off+i]; !ok && off-next < limit {
					model[off+i] = b
				}
			}
			fl.TCP(FromClient, isnC+1+uint32(off), ACK, data, sink)
		}
		var stream []byte
		for i := 0; ; i++ {
			b, ok := model[i]
			if !ok {
				break
			}
			stream = append(stream, b)
		}
		var want []string
		stopped := false
		for _, l := range sink.lines {
			if strings.HasPrefix(l, "note ") && l != "note "+NoteConflictingOverlap && l != "note "+NoteOutOfWindow {
				stopped = true
			}
		}
		if len(stream) > 0 && stream[0] != 'L' {
			return // not detected: nothing parsed
		}
		for _, line := range bytes.SplitAfter(stream, []byte("\n")) {
			if len(line) == 0 || line[len(line)-1] != '\n' {
				break
			}
			want = append(want, "req "+formatRequest(&Request{App: Redis, Command: string(line[:len(line)-1])}))
		}
		var got []string
		for _, l := range sink.lines {
			if strings.HasPrefix(l, "req ") {
				got = append(got, l)
			}
		}
		if len(got) > len(want) {
			t.Fatalf("got more lines than the stream has:\n got %q\nwant %q", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("line %d: got %q, want %q", i, got[i], want[i])
			}
		}
		if !stopped && len(got) != len(want) {
			t.Fatalf("lines lost without a note: got %d of %d\n%q", len(got), len(want), sink.lines)
		}
		fl.Release()
	})
}

// fuzzEngine feeds in, split into segments at random points and sent by
// both sides, to a full engine, with summaries on and off, and checks the
// contract: no panic, summaries marshal, bounded output.
func fuzzEngine(t *testing.T, tr Transport, port uint16, in []byte, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	for _, on := range []bool{false, true} {
		e := NewEngine(Config{MaxBuffer: 4096, Parser: ParserConfig{Summaries: on, MaxRecords: 16}})
		sink := &textSink{}
		var f Flow
		f.Init(e, tr, 40000, port, Orientation(rng.Intn(2)))
		var seq [2]uint32
		rest := in
		for len(rest) > 0 {
			n := 1 + rng.Intn(len(rest))
			dir := Dir(rng.Intn(2))
			if tr == TCP {
				f.TCP(dir, 1000+seq[dir], ACK, rest[:n], sink)
				seq[dir] += uint32(n)
			} else {
				f.UDP(dir, rest[:n], sink)
			}
			rest = rest[n:]
		}
		f.Finish(sink)
		if s := f.Summary(); s != nil {
			if !on {
				t.Fatalf("summary with Summaries off: %v", s)
			}
			if _, err := json.Marshal(s); err != nil {
				t.Fatalf("marshal summary: %v", err)
			}
		}
		if len(sink.lines) > 8*len(in)+16 {
			t.Fatalf("%d events from %d bytes", len(sink.lines), len(in))
		}
		f.Release()
	}
}

func FuzzHTTP(f *testing.F) {
	f.Add([]byte(get1+get2+"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), int64(1))
	f.Add([]byte("POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), int64(2))
	f.Add([]byte("GET /a/../%2e%2E/b HTTP/1.0\r\nHost: [::1]:80\r\n\r\n"), int64(3))
	f.Add([]byte("GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\nHTTP/1.1 101 OK\r\n\r\n"+h2Preface), int64(4))
	f.Fuzz(func(t *testing.T, in []byte, seed int64) { fuzzEngine(t, TCP, 80, in, seed) })
}

func FuzzHTTP2(f *testing.F) {
	cl := newH2Writer(true)
	_ = cl.fr.WriteSettings()
	cl.headersSplit(1, ":method", "POST", ":path", "/a.B/C", ":authority", "x", "content-type", "application/grpc")
	_ = cl.fr.WriteData(1, true, []byte("data"))
	f.Add([]byte(cl.String()), int64(1))
	f.Add([]byte(h2Preface+"\x00\x00\x06\x04\x00\x00\x00\x00\x00\x00\x01\xff\xff\xff\xff"), int64(2))
	f.Fuzz(func(t *testing.T, in []byte, seed int64) { fuzzEngine(t, TCP, 50051, in, seed) })
}

var (
	tlsConfigClient = tls.Config{ServerName: "fuzz.example", NextProtos: []string{"h2"}, InsecureSkipVerify: true}
	tlsConfigServer = tls.Config{Certificates: []tls.Certificate{testCert()}}
)

func FuzzTLS(f *testing.F) {
	c13, s13 := tlsTranscript(f, &tlsConfigClient, &tlsConfigServer)
	f.Add(append(c13, s13...), int64(1))
	f.Add([]byte("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00\x16\x03\x01\x00\x02\x03\x03"), int64(2))
	f.Add([]byte("\x17\x03\x03\x00\x02ab\x15\x03\x03\x00\x02\x02\x28"), int64(3))
	f.Fuzz(func(t *testing.T, in []byte, seed int64) { fuzzEngine(t, TCP, 443, in, seed) })
}

func FuzzDNS(f *testing.F) {
	q := pack(f, dnsQuery(f, 1, "fuzz.example.", 1))
	r := pack(f, dnsReply(f, dnsQuery(f, 1, "fuzz.example.", 1), 0, "fuzz.example. 1 IN CNAME a.example.", "a.example. 1 IN A 1.2.3.4"))
	f.Add([]byte(q), int64(1), false)
	f.Add([]byte(r), int64(2), false)
	f.Add([]byte("\x00"+string(rune(len(q)))+q), int64(3), true)
	f.Fuzz(func(t *testing.T, in []byte, seed int64, tcp bool) {
		tr := UDP
		if tcp {
			tr = TCP
		}
		fuzzEngine(t, tr, 53, in, seed)
		// The decoder alone, on the whole input.
		var m dnsMsg
		_ = m.decode(in, true)
		for _, a := range m.answers {
			if len(a.Name) > 4*255 {
				t.Fatalf("name of %d bytes", len(a.Name))
			}
		}
	})
}

func FuzzQUIC(f *testing.F) {
	dcid := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	vi, _ := quicVersion(quicV1)
	ck, _, _ := deriveQUICKeys(vi, dcid)
	hello := clientHelloBytes(f, &tlsConfigClient)[5:]
	f.Add(quicInitial(f, quicV1, dcid, &ck, 0, cryptoFrame(0, hello), true), int64(1))
	f.Add(quicInitial(f, quicV1, dcid, &ck, 0, append(cryptoFrame(20, hello[20:]), 0x02, 0, 0, 0, 0), true), int64(2))
	f.Fuzz(func(t *testing.T, in []byte, seed int64) {
		fuzzEngine(t, UDP, 443, in, seed)
		// Also as one whole datagram, so that the decryption path runs
		// whatever the split.
		p := newQUICParser(&ParserConfig{Summaries: true})
		_, _ = p.Parse(FromClient, in, nopSink{})
		_, _ = p.Parse(FromServer, in, nopSink{})
		// And with the header kept valid: flip bytes of the protected part.
		if len(in) > 0 {
			pkt := quicInitial(t, quicV1, dcid, &ck, 0, cryptoFrame(0, hello), true)
			for i, b := range in {
				pkt[(i*131+int(b))%len(pkt)] ^= b
			}
			_, _ = newQUICParser(nil).Parse(FromClient, pkt, nopSink{})
		}
	})
}

// FuzzEngine runs every protocol's detector and parser on the same bytes.
func FuzzEngine(f *testing.F) {
	f.Add([]byte("SSH-2.0-OpenSSH_9.2\r\n"), int64(1), uint16(22))
	f.Add([]byte("*1\r\n$4\r\nPING\r\n"), int64(2), uint16(6379))
	f.Add([]byte(get1), int64(3), uint16(8080))
	f.Fuzz(func(t *testing.T, in []byte, seed int64, port uint16) {
		fuzzEngine(t, TCP, port, in, seed)
		fuzzEngine(t, UDP, port, in, seed)
	})
}
