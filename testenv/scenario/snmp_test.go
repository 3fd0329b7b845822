package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSNMP(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "snmp.txt"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseSNMP(b)
	if err != nil {
		t.Fatal(err)
	}
	got := Counters{}
	for _, k := range []string{TCPPassiveOpens, UDPInDatagrams, "Tcp.MaxConn", "Ip.Forwarding", "UdpLite.InDatagrams"} {
		got[k] = c[k]
	}
	want := Counters{TCPPassiveOpens: 17, UDPInDatagrams: 305, "Tcp.MaxConn": -1, "Ip.Forwarding": 1, "UdpLite.InDatagrams": 0}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ParseSNMP (-want +got):\n%s", d)
	}
	if n := len(c); n < 50 {
		t.Errorf("ParseSNMP found %d counters, want every one of the file", n)
	}
}

func TestParseSNMPErrors(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"no prefix", "Tcp PassiveOpens\n", `no "Proto:" prefix`},
		{"mismatch", "Tcp: A B\nUdp: 1 2\n", `values for "Udp" follow the names of "Tcp"`},
		{"count", "Tcp: A B\nTcp: 1\n", "2 names but 1 values"},
		{"number", "Tcp: A\nTcp: x\n", "Tcp.A"},
		{"dangling", "Tcp: A\nTcp: 1\nUdp: B\n", "names without values"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSNMP([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseSNMP(%q) = %v, want an error containing %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestCountersSub(t *testing.T) {
	got := Counters{"a": 5, "b": 2}.Sub(Counters{"a": 3})
	if d := cmp.Diff(Counters{"a": 2, "b": 2}, got); d != "" {
		t.Errorf("Sub (-want +got):\n%s", d)
	}
}

// FuzzParseSNMP checks that any input parses or fails cleanly, and that
// every parsed counter comes from a "Proto:" line pair of the input.
func FuzzParseSNMP(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "snmp.txt")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("Tcp: A B\nTcp: 1 -2\n"))
	f.Add([]byte("Udp: InDatagrams\nUdp: 9\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseSNMP(b)
		if err != nil {
			return
		}
		for k := range c {
			proto, name, ok := strings.Cut(k, ".")
			if !ok || !strings.Contains(string(b), proto+":") || !strings.Contains(string(b), name) {
				t.Fatalf("counter %q does not come from the input %q", k, b)
			}
		}
	})
}
