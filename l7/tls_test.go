package l7

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// tlsTranscript runs a real crypto/tls handshake between a client and a
// server over an in-memory pipe and returns the bytes each side wrote
// before the handshake completed.
func tlsTranscript(t testing.TB, client, server *tls.Config) (fromClient, fromServer []byte) {
	t.Helper()
	c, s := net.Pipe()
	var cw, sw recorder
	cc := tls.Client(&recConn{Conn: c, rec: &cw}, client)
	sc := tls.Server(&recConn{Conn: s, rec: &sw}, server)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = sc.Handshake()
		s.Close()
	}()
	_ = cc.Handshake()
	c.Close()
	wg.Wait()
	return cw.bytes(), sw.bytes()
}

type recorder struct {
	mu sync.Mutex
	b  []byte
}

func (r *recorder) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.b...)
}

type recConn struct {
	net.Conn
	rec *recorder
}

func (c *recConn) Write(p []byte) (int, error) {
	c.rec.mu.Lock()
	c.rec.b = append(c.rec.b, p...)
	c.rec.mu.Unlock()
	return c.Conn.Write(p)
}

// testCert is a self-signed certificate for test servers.
var testCert = sync.OnceValue(func() tls.Certificate {
	cert, _, _, err := selfSigned("api.example")
	if err != nil {
		panic(err)
	}
	return cert
})

// selfSigned makes a self-signed ECDSA certificate for names, also as PEM.
func selfSigned(names ...string) (cert tls.Certificate, certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return cert, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return cert, nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return cert, nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	return cert, certPEM, keyPEM, err
}

func clientHelloBytes(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	c, s := net.Pipe()
	go func() {
		_ = tls.Client(c, cfg).Handshake()
		c.Close()
	}()
	var hdr [5]byte
	if _, err := io.ReadFull(s, hdr[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
	if _, err := io.ReadFull(s, body); err != nil {
		t.Fatal(err)
	}
	s.Close()
	return append(hdr[:], body...)
}

// splitRecords re-frames the handshake bytes of one record into records of
// at most the given sizes.
func splitRecords(record []byte, sizes ...int) []byte {
	hs := record[5:]
	var out []byte
	for len(hs) > 0 {
		n := len(hs)
		if len(sizes) > 0 {
			n = min(n, sizes[0])
			sizes = sizes[1:]
		}
		out = append(out, record[0], record[1], record[2], byte(n>>8), byte(n))
		out = append(out, hs[:n]...)
		hs = hs[n:]
	}
	return out
}

func TestTLS(t *testing.T) {
	cfg := &tls.Config{ServerName: "API.Example.", NextProtos: []string{"h2", "http/1.1"}, InsecureSkipVerify: true}
	hello := clientHelloBytes(t, cfg)
	c13, s13 := tlsTranscript(t, cfg, &tls.Config{Certificates: []tls.Certificate{testCert()}, NextProtos: []string{"h2"}})
	c12, s12 := tlsTranscript(t, &tls.Config{ServerName: "old.example", MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true},
		&tls.Config{Certificates: []tls.Certificate{testCert()}})
	twoRecords := splitRecords(hello, 40)
	req := func(host, alpn string) string {
		return `req tls Host="` + host + `"` + alpn + ` Version="1.3" JA4=`
	}
	tests := []struct {
		name string
		segs []seg
		want []string // requests are compared up to the JA4 value
	}{{
		name: "ClientHello in one segment",
		segs: []seg{cseg(string(hello))},
		want: []string{req("api.example", ` ALPN=["h2" "http/1.1"]`)},
	}, {
		name: "ClientHello over two records and three segments",
		segs: []seg{cseg(string(twoRecords[:3])), cseg(string(twoRecords[3:60])), cseg(string(twoRecords[60:]))},
		want: []string{req("api.example", ` ALPN=["h2" "http/1.1"]`)},
	}, {
		name: "ClientHello byte by byte",
		segs: bytewise(FromClient, string(splitRecords(hello, 7, 100))),
		want: []string{req("api.example", ` ALPN=["h2" "http/1.1"]`)},
	}, {
		name: "TLS 1.3 handshake",
		segs: []seg{cseg(string(c13)), sseg(string(s13))},
		want: []string{req("api.example", ` ALPN=["h2" "http/1.1"]`), `resp tls Status=-1 Version="1.3"`},
	}, {
		name: "TLS 1.2 handshake",
		segs: []seg{cseg(string(c12)), sseg(string(s12))},
		want: []string{`req tls Host="old.example" Version="1.2" JA4=`, `resp tls Status=-1 Version="1.2"`},
	}, {
		name: "a record that is not a handshake",
		segs: []seg{cseg("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"), cseg("\x15\x03\x03\x00\x02\x02\x28")},
		want: []string{`note tls: malformed ClientHello: truncated`},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, f := runTCP(t, NewEngine(Config{}), 443, false, tc.segs...)
			for i, l := range got {
				if j := strings.Index(l, "JA4="); j >= 0 {
					got[i] = l[:j+4]
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if f.App() != TLS {
				t.Errorf("app %v", f.App())
			}
		})
	}
}

// TestJA4 checks the fingerprint against the example of FoxIO's JA4
// specification (technical_details/JA4.md).
func TestJA4(t *testing.T) {
	hexList := func(s string) []uint16 {
		var out []uint16
		for _, h := range strings.Split(s, ",") {
			var v uint16
			for _, c := range h {
				d, _ := unhex(byte(c))
				v = v<<4 | uint16(d)
			}
			out = append(out, v)
		}
		return out
	}
	ch := clientHello{
		maxVersion: 0x0304,
		hasSNI:     true,
		alpn:       []string{"h2", "http/1.1"},
		ciphers:    hexList("1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035"),
		exts:       hexList("001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015"),
		sigs:       hexList("0403,0804,0401,0503,0805,0501,0806,0601"),
	}
	if got, want := ch.fingerprint('t'), "t13d1516h2_8daaf6152771_e5627efa2ab1"; got != want {
		t.Errorf("JA4 = %s, want %s", got, want)
	}
	ch.sigs = nil
	if got, want := ch.fingerprint('t'), "t13d1516h2_8daaf6152771_6d807ffa2a79"; got != want {
		t.Errorf("JA4 without signature algorithms = %s, want %s", got, want)
	}
	tests := []struct {
		alpn []string
		want string // the ALPN characters
	}{
		{nil, "00"}, {[]string{""}, "00"}, {[]string{"h"}, "hh"}, {[]string{"http/1.1"}, "h1"},
		{[]string{"\xab"}, "ab"}, {[]string{"\xab\xcd"}, "ad"}, {[]string{"0\xab"}, "3b"},
		{[]string{"01\xab\xcd"}, "3d"}, {[]string{"0\xab\xcd1"}, "01"},
	}
	for _, tc := range tests {
		ch.alpn = tc.alpn
		if got := ch.fingerprint('q')[8:10]; got != tc.want {
			t.Errorf("ALPN %q: %q, want %q", tc.alpn, got, tc.want)
		}
	}
	empty := clientHello{legacyVersion: 0x0301, maxVersion: 0x0301}
	if got, want := empty.fingerprint('t'), "t10i000000_000000000000_000000000000"; got != want {
		t.Errorf("empty hello: %s, want %s", got, want)
	}
}

func TestClientHelloFields(t *testing.T) {
	suites := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}
	hello := clientHelloBytes(t, &tls.Config{ServerName: "x.example", CipherSuites: suites, MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true})
	var ch clientHello
	if err := ch.parse(hello[9:]); err != nil {
		t.Fatal(err)
	}
	if string(ch.sni) != "x.example" || ch.maxVersion != tls.VersionTLS12 {
		t.Errorf("sni %q version %#x", ch.sni, ch.maxVersion)
	}
	// Go appends TLS_EMPTY_RENEGOTIATION_INFO_SCSV? No: it lists the
	// configured suites (and may add TLS 1.3 ones only for TLS 1.3).
	for _, s := range suites {
		found := false
		for _, c := range ch.ciphers {
			found = found || c == s
		}
		if !found {
			t.Errorf("cipher %#x missing from %x", s, ch.ciphers)
		}
	}
	if !strings.HasPrefix(ch.fingerprint('t'), "t12d") {
		t.Errorf("JA4 %s", ch.fingerprint('t'))
	}
}

func TestDetectTLS(t *testing.T) {
	tests := []struct {
		dir  Dir
		data string
		want Match
	}{
		{FromClient, "", NeedMore},
		{FromClient, "\x16\x03", NeedMore},
		{FromClient, "\x16\x03\x01\x02\x00\x01", Matched},
		{FromClient, "\x16\x03\x01\x02\x00\x02", NoMatch},
		{FromServer, "\x16\x03\x03\x00\x5a\x02", Matched},
		{FromClient, "\x16\x03\x05\x02\x00\x01", NoMatch},
		{FromClient, "\x16\x02\x00", NoMatch},
		{FromClient, "\x16\x03\x01\x00\x00\x01", NoMatch},
		{FromClient, "GET / HTTP/1.1", NoMatch},
		{FromClient, "\x17\x03\x03\x00\x10" + strings.Repeat("x", 16) + "\x17\x03\x03", Matched},
		{FromClient, "\x17\x03\x03\x00\x10" + strings.Repeat("x", 16) + "GET", NoMatch},
		{FromClient, "\x17\x03\x03\x40\x00abc", Matched},
		{FromClient, "\x17\x03", NeedMore},
		{FromClient, "\x17\x04", NoMatch},
	}
	for _, tc := range tests {
		if got := detectTLS(tc.dir, []byte(tc.data)); got != tc.want {
			t.Errorf("detectTLS(%v, %q) = %v, want %v", tc.dir, tc.data, got, tc.want)
		}
	}
}

// rawClientHello builds a TLS record holding a ClientHello with legacy
// version legacy and, when versions is not nil, a supported_versions
// extension listing them.
func rawClientHello(legacy uint16, versions ...uint16) string {
	body := binary.BigEndian.AppendUint16(nil, legacy)
	body = append(body, make([]byte, 32)...)       // random
	body = append(body, 0, 0, 2, 0x13, 0x01, 1, 0) // session id, one suite, null compression
	if versions != nil {
		ext := []byte{byte(2 * len(versions))}
		for _, v := range versions {
			ext = binary.BigEndian.AppendUint16(ext, v)
		}
		exts := binary.BigEndian.AppendUint16(nil, extSupportedVersions)
		exts = binary.BigEndian.AppendUint16(exts, uint16(len(ext)))
		exts = append(exts, ext...)
		body = binary.BigEndian.AppendUint16(body, uint16(len(exts)))
		body = append(body, exts...)
	}
	msg := append([]byte{tlsClientHello, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	rec := append([]byte{tlsRecordHandshake, 3, 1, byte(len(msg) >> 8), byte(len(msg))}, msg...)
	return string(rec)
}

// TestTLSOfferedVersions: the summary lists the versions the client
// offered, in its order, GREASE left out; without supported_versions, the
// legacy version. "version" stays the highest (or the chosen one).
func TestTLSOfferedVersions(t *testing.T) {
	c12, _ := tlsTranscript(t, &tls.Config{ServerName: "old.example", MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true},
		&tls.Config{Certificates: []tls.Certificate{testCert()}})
	c13, _ := tlsTranscript(t, &tls.Config{ServerName: "new.example", MinVersion: tls.VersionTLS12, InsecureSkipVerify: true},
		&tls.Config{Certificates: []tls.Certificate{testCert()}})
	ja4 := func(got string) string { // the summary with its JA4 cut out
		if i := strings.Index(got, `"ja4":`); i >= 0 {
			return got[:i] + "}"
		}
		return got
	}
	tests := []struct {
		name  string
		hello string
		want  string
	}{
		{"Go, TLS 1.2 at most: no supported_versions", string(c12), `{"sni":"old.example","version":"1.2","versions":["1.2"],}`},
		{"Go, TLS 1.2 and 1.3", string(c13), `{"sni":"new.example","version":"1.3","versions":["1.3","1.2"],}`},
		{"GREASE and an unknown version", rawClientHello(0x0303, 0x0a0a, 0x0304, 0x0002, 0x0303, 0x0301),
			`{"version":"1.3","versions":["1.3","0x0002","1.2","1.0"],}`},
		{"SSL 3.0 style, no extensions", rawClientHello(0x0300), `{"version":"ssl3","versions":["ssl3"],}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, f := runTCP(t, NewEngine(Config{Parser: ParserConfig{Summaries: true}}), 443, false, cseg(tc.hello))
			b, err := json.Marshal(f.Summary())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ja4(string(b))); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			f.Release()
		})
	}
}
