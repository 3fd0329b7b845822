package capture

import (
	"bufio"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Third-party captures: nDPI's regression captures (see
// ../../../shared/captures/README.md; they are not part of this
// repository). Every capture must be analysed without crashing or hanging,
// and every flow nDPI identified by payload as a protocol we support must
// get the same app from us, with the same SNI / host / DNS name where nDPI
// found one. The exceptions below are the cases where the bytes do not
// allow it, each with its reason.

const ndpiDir = "../../../shared/captures/ndpi-dev"

// ndpiApps maps nDPI's master protocol names to our apps.
var ndpiApps = map[string]string{
	"TLS": "tls", "HTTP": "http", "DNS": "dns", "MDNS": "dns", "QUIC": "quic",
	"NTP": "ntp", "DHCP": "dhcp", "IMAP": "imap", "POP3": "pop3", "SMTP": "smtp",
	// nDPI names TLS on the IMAPS/POPS/SMTPS ports after the port (the
	// bytes are TLS), and a plain-text session upgraded with STARTTLS the
	// same way (the bytes are IMAP… up to the upgrade).
	"IMAPS": "tls|imap", "POPS": "tls|pop3", "SMTPS": "tls|smtp", "FTP_CONTROL": "ftp", "SSH": "ssh", "MySQL": "mysql",
	"PostgreSQL": "postgresql", "Redis": "redis", "MongoDB": "mongodb", "MQTT": "mqtt",
	"AMQP": "amqp", "Memcached": "memcached", "NATS": "nats", "Kafka": "kafka",
	"Cassandra": "cassandra", "Zookeeper": "zookeeper", "MsSQL-TDS": "mssql",
	"HTTP2": "http2", "gRPC": "grpc",
}

// ndpiExceptions lists "file flow" (as ndpiFlow.id prints it) whose app or
// name the bytes do not let us reproduce.
var ndpiExceptions = map[string]string{
	// nDPI also decodes Google QUIC (Q024), a pre-standard protocol we do not
	// support; and the packet is the first fragment of a datagram whose other
	// fragments are missing.
	"quic-fuzz-overflow.pcapng udp 255.255.255.255:8224 255.255.255.32:8224": "gQUIC in an incomplete IP datagram",
	// The capture starts after the QUIC handshakes: only 1-RTT (short
	// header) packets, whose keys are secret. nDPI guesses from packet
	// shapes; the bytes carry no version or name.
	"quic_sh.pcap udp [2001:b07:a3d:c112:91b7:b97e:6e2:fad8]:37542 [2606:4700:7::a29f:9804]:443":   "1-RTT only",
	"quic_sh.pcap udp 192.168.1.245:40408 13.226.175.53:443":                                       "1-RTT only",
	"quic_sh.pcap udp [2a00:1450:4002:411::200e]:443 [2001:b07:a3d:c112:91b7:b97e:6e2:fad8]:33144": "1-RTT only",
	// nDPI reads the SNI of ClientHellos whose cipher suite or compression
	// vectors are corrupt (odd lengths); a TLS server rejects them, and so
	// does our parser before the extensions.
	"tls_cipher_lens.pcap tcp 192.168.11.11:51588 173.194.35.191:443": "corrupt cipher suites",
	// NetBIOS name service borrows DNS's format (RFC 1002); we do not call
	// it DNS.
	"netbios_wildcard_dns_query.pcap udp 10.1.67.250:41335 10.1.66.20:53": "NetBIOS, not DNS",
	// nDPI rewrites characters of the name ("*" → "_", "=" → "_") and drops
	// its first byte; we report the name as sent.
	"dns-exf.pcap udp 192.168.2.225:45290 192.168.2.134:53": "nDPI rewrites the name",
	// An inverse query has no question; nDPI shows the answer's address.
	"dns_invert_query.pcapng udp 173.147.108.174:18427 244.187.95.1:53": "inverse query, no name",
}

type ndpiFlow struct {
	file  string
	proto string // "tcp" or "udp"
	a, b  netip.AddrPort
	app   string // our app name for nDPI's master protocol, "" if unsupported
	name  string // Hostname/SNI
	dpi   bool   // identified from payload
}

func (f ndpiFlow) id() string {
	return f.file + " " + f.proto + " " + f.a.String() + " " + f.b.String()
}

var ndpiLine = regexp.MustCompile(`^\s+\d+\s+(TCP|UDP) (\S+) <?-> (\S+) (.*)$`)

// readNDPI parses the flow lines of an ndpiReader -v 2 result file.
func readNDPI(t *testing.T, path, file string) []ndpiFlow {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []ndpiFlow
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := ndpiLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		a, err1 := netip.ParseAddrPort(m[2])
		b, err2 := netip.ParseAddrPort(m[3])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: bad endpoints in %q", path, sc.Text())
		}
		f := ndpiFlow{file: file, proto: strings.ToLower(m[1]), a: a, b: b}
		rest := m[4]
		if i := strings.Index(rest, "[proto: "); i >= 0 {
			p := rest[i+len("[proto: "):]
			p = p[:strings.IndexByte(p, ']')]
			p = p[strings.LastIndexByte(p, ':')+1:] // "GTP:91/TLS" → "91/TLS"
			p = p[strings.IndexByte(p, '/')+1:]     // "TLS.Google"
			if j := strings.IndexByte(p, '.'); j >= 0 {
				p = p[:j]
			}
			f.app = ndpiApps[p]
		}
		f.dpi = strings.Contains(rest, "[Confidence: DPI]")
		if i := strings.Index(rest, "[Hostname/SNI: "); i >= 0 {
			n := rest[i+len("[Hostname/SNI: "):]
			f.name = strings.ToLower(n[:strings.IndexByte(n, ']')])
		}
		out = append(out, f)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ourNames returns the names our record carries: TLS/QUIC SNI, HTTP hosts,
// DNS query names.
func ourNames(r *Record) []string {
	b, _ := json.Marshal(r.Protocols)
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	var names []string
	for _, k := range []string{"tls", "quic"} {
		if o, ok := v[k].(map[string]any); ok {
			if s, ok := o["sni"].(string); ok {
				names = append(names, s)
			}
		}
	}
	for k, field := range map[string]string{"http": "host", "dns": "qname"} {
		if l, ok := v[k].([]any); ok {
			for _, e := range l {
				m, _ := e.(map[string]any)
				if s, ok := m[field].(string); ok {
					names = append(names, s)
				}
				// Responses without a question (mDNS): the answers' names.
				as, _ := m["answers"].([]any)
				for _, a := range as {
					if am, ok := a.(map[string]any); ok && m["qname"] == "" {
						if s, ok := am["name"].(string); ok {
							names = append(names, s)
						}
					}
				}
			}
		}
	}
	return names
}

func TestNDPICaptures(t *testing.T) {
	pcaps, _ := filepath.Glob(filepath.Join(ndpiDir, "pcap", "*"))
	if len(pcaps) == 0 {
		t.Skipf("third-party captures not present at %s (see ../shared/captures/README.md); nothing to compare", ndpiDir)
	}
	used := map[string]bool{}
	for _, path := range pcaps {
		file := filepath.Base(path)
		t.Run(file, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ours := map[string]*Record{}
			_, err = Analyze(ctx, f, Options{}, func(r *Record) error {
				ap, bp := netip.AddrPortFrom(r.Src, r.Sport), netip.AddrPortFrom(r.Dst, r.Dport)
				ours[r.Proto+" "+ap.String()+" "+bp.String()] = r
				ours[r.Proto+" "+bp.String()+" "+ap.String()] = r
				return nil
			})
			if err != nil {
				t.Fatalf("analyze: %v", err)
			}
			for _, nf := range readNDPI(t, filepath.Join(ndpiDir, "result", file+".out"), file) {
				if !nf.dpi || nf.app == "" {
					continue
				}
				id := nf.id()
				if _, ok := ndpiExceptions[id]; ok {
					used[id] = true
					continue
				}
				r := ours[nf.proto+" "+nf.a.String()+" "+nf.b.String()]
				if r == nil {
					t.Errorf("%s: flow missing (nDPI: %s)", id, nf.app)
					continue
				}
				if !slices.Contains(strings.Split(nf.app, "|"), r.App) {
					t.Errorf("%s: app %q, nDPI says %q", id, r.App, nf.app)
				}
				if nf.name == "" || nf.app == "ntp" || nf.app == "dhcp" {
					continue
				}
				found := false
				for _, n := range ourNames(r) {
					// nDPI keeps only the last bytes of a long name.
					found = found || n == nf.name || len(nf.name) >= 48 && strings.HasSuffix(n, nf.name)
				}
				if !found {
					t.Errorf("%s: names %q, nDPI found %q", id, ourNames(r), nf.name)
				}
			}
		})
	}
	for id := range ndpiExceptions {
		if !used[id] {
			t.Errorf("exception %q matches no nDPI flow any more: remove it", id)
		}
	}
}
