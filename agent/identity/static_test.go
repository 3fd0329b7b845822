package identity

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustStatic(t *testing.T) *Static {
	t.Helper()
	s, err := LoadStatic("testdata/identities.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const header = "apiVersion: bulkhead.dev/v1alpha1\nkind: Identities\nworkloads:\n"

func TestParseStaticErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "header",
			in:   "apiVersion: v1\nkind: Policy\n",
			want: []string{
				`line 1: apiVersion: must be "bulkhead.dev/v1alpha1", got "v1"`,
				`line 2: kind: must be "Identities", got "Policy"`,
			},
		},
		{
			name: "unknown field",
			in:   header + "  - name: a\n    ip: [1.2.3.4]\n",
			want: []string{"line 5: workloads[0].ip: unknown field (known fields: cidrs, interfaces, ips, kind, labels, name, netns)"},
		},
		{
			name: "bad address and prefix",
			in:   header + "  - name: a\n    ips: [198.18.0.300]\n    cidrs: [198.18.0.0/33]\n",
			want: []string{
				`line 5: workloads[0].ips[0]: ParseAddr("198.18.0.300"): IPv4 field has value >255`,
				`line 6: workloads[0].cidrs[0]: netip.ParsePrefix("198.18.0.0/33"): prefix length out of range`,
			},
		},
		{
			name: "validation",
			in: header +
				"  - name: Bad_Name\n    ips: [198.18.0.1]\n" +
				"  - name: world\n    ips: [198.18.0.2]\n" +
				"  - name: b\n    labels: {'a b': x, ok: 'not ok'}\n    ips: [198.18.0.1]\n" +
				"  - name: c\n    cidrs: [198.18.0.5/24]\n" +
				"  - name: b\n    kind: remote\n    interfaces: [averyveryverylongname]\n" +
				"  - name: e\n" +
				"  - name: f\n    kind: external\n    netns: [x]\n" +
				"  - name: g\n    ips: ['::']\n    netns: ['']\n" +
				"  - labels: {a: b}\n    cidrs: [198.18.0.0/24, 198.18.0.0/24]\n",
			want: []string{
				`line 4: workloads[0].name: "Bad_Name" is not a valid name (lower-case letters, digits, '.', '_', '-'; at most 253)`,
				`line 6: workloads[1].name: "world" is a built-in identity`,
				`line 9: workloads[2].labels.a b: bad label key "a b"`,
				`line 9: workloads[2].labels.ok: bad label value "not ok" (at most 63 letters, digits, '-', '_', '.')`,
				`line 10: workloads[2].ips[0]: address 198.18.0.1 already named by workloads[0].ips[0] (line 5)`,
				`line 12: workloads[3].cidrs[0]: 198.18.0.5/24 has host bits set (did you mean 198.18.0.0/24?)`,
				`line 13: workloads[4].name: workload "b" already defined at workloads[2] (line 8)`,
				`line 14: workloads[4].kind: must be "workload" or "external", got "remote"`,
				`line 15: workloads[4].interfaces[0]: bad interface name "averyveryverylongname" (1 to 15 characters)`,
				`line 16: workloads[5]: names nothing: give netns, interfaces, ips or cidrs`,
				`line 18: workloads[6].kind: an external range cannot name a network namespace or interface`,
				`line 21: workloads[7].ips[0]: bad address ::`,
				`line 22: workloads[7].netns[0]: must not be empty`,
				`line 23: workloads[8].name: must not be empty`,
				`line 24: workloads[8].cidrs[1]: prefix 198.18.0.0/24 already named by workloads[8].cidrs[0] (line 24)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseStatic("ids.yaml", []byte(tt.in))
			if err == nil {
				t.Fatal("ParseStatic succeeded")
			}
			got := strings.Split(err.Error(), "\n")
			if !strings.HasPrefix(got[0], "identity: ids.yaml: ") {
				t.Errorf("error %q does not start with the file", got[0])
			}
			got[0] = strings.TrimPrefix(got[0], "identity: ids.yaml: ")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := LoadStatic("testdata/nope.yaml"); err == nil || !strings.Contains(err.Error(), "identity: read testdata/nope.yaml") {
		t.Errorf("LoadStatic(missing) = %v", err)
	}
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// TestPrecedence: interface > netns name > IP > longest CIDR within the
// file; the file before the namespace name.
func TestPrecedence(t *testing.T) {
	s := mustStatic(t)
	ns := &NetNSNames{StripPrefixes: []string{"bh-demo-"}}
	r := NewResolver([]Source{s, ns}, []PeerSource{s}, nil)
	tests := []struct {
		name       string
		c          Container
		want       string
		wantSource string
	}{
		{"interface beats everything", Container{HostIf: "veth-api", NetNS: "bh-demo-frontend", Addrs: addrs("198.18.0.12")}, "api", "file"},
		{"netns beats IP", Container{HostIf: "veth1", NetNS: "bh-demo-frontend", Addrs: addrs("198.18.0.12")}, "frontend", "file"},
		{"IP beats CIDR", Container{HostIf: "veth2", Addrs: addrs("198.18.0.200", "198.18.0.12")}, "db", "file"},
		{"IPv6 address", Container{HostIf: "veth2", Addrs: addrs("2001:2:0:1::c")}, "db", "file"},
		{"IPv4-mapped address", Container{HostIf: "veth2", Addrs: addrs("::ffff:198.18.0.12")}, "db", "file"},
		{"longest CIDR", Container{HostIf: "veth3", Addrs: addrs("198.18.0.130", "198.18.0.200")}, "batch-special", "file"},
		{"shorter CIDR", Container{HostIf: "veth3", Addrs: addrs("198.18.0.130")}, "batch", "file"},
		{"external ranges never name a container", Container{HostIf: "veth4", Addrs: addrs("198.19.64.9")}, "veth4", "interface"},
		{"then the netns name", Container{HostIf: "veth5", NetNS: "bh-demo-cache", Addrs: addrs("198.18.0.50")}, "cache", "netns"},
		{"then the interface", Container{HostIf: "veth6", Addrs: addrs("198.18.0.51")}, "veth6", "interface"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := r.Add(tt.c)
			defer r.Remove(tt.c.HostIf)
			if id.Name != tt.want || id.Source != tt.wantSource || id.Kind != Local {
				t.Errorf("Add(%+v) = %+v, want %s from %s", tt.c, id, tt.want, tt.wantSource)
			}
		})
	}
}

func TestPeers(t *testing.T) {
	s := mustStatic(t)
	fq := NewFQDNMap(0, 10, nil)
	fq.Observe("api.example.com", netip.MustParseAddr("198.19.1.2"), 3600e9)
	r := NewResolver([]Source{s}, []PeerSource{s}, fq)
	r.Add(Container{HostIf: "veth-api", Addrs: addrs("198.18.0.11", "198.18.0.99")})
	r.SetHostAddrs(addrs("198.18.255.1"))
	tests := []struct {
		addr string
		want Identity
	}{
		{"198.18.0.11", Identity{Kind: Local, Name: "api", Labels: map[string]string{"app": "api"}, Source: "file"}},
		{"198.18.0.99", Identity{Kind: Local, Name: "api", Labels: map[string]string{"app": "api"}, Source: "file"}},
		{"198.18.255.1", Identity{Kind: Host, Name: "host", Source: "host"}},
		{"198.18.7.20", Identity{Kind: Cluster, Name: "payments", Labels: map[string]string{"app": "payments", "team": "billing"}, Source: "file"}},
		{"198.18.0.12", Identity{Kind: Cluster, Name: "db", Labels: map[string]string{"app": "db"}, Source: "file"}},
		{"198.18.0.250", Identity{Kind: Cluster, Name: "batch-special", Labels: map[string]string{"app": "batch", "special": "true"}, Source: "file"}},
		{"198.19.100.1", Identity{Kind: External, Name: "corp-vpn", Source: "file"}},
		{"2001:2:0:ff00::1", Identity{Kind: External, Name: "corp-vpn", Source: "file"}},
		{"198.19.1.2", Identity{Kind: FQDN, Name: "api.example.com", Source: "dns"}},
		{"203.0.113.1", Identity{Kind: World, Name: "world", Source: "default"}},
	}
	for _, tt := range tests {
		got := r.Addr(netip.MustParseAddr(tt.addr))
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Addr(%s) (-want +got):\n%s", tt.addr, diff)
		}
	}
}

func TestNetNSNames(t *testing.T) {
	n := &NetNSNames{
		StripPrefixes: []string{"bh-", "bh-demo-"},
		StripSuffixes: []string{"-ns"},
		Ignore:        []string{"cni-*"},
	}
	for _, tt := range []struct {
		ns, want string
		ok       bool
	}{
		{"bh-demo-frontend", "frontend", true},
		{"bh-other", "other", true},
		{"bh-demo-api-ns", "api", true},
		{"plain", "plain", true},
		{"cni-0a1b2c3d-1111", "", false},
		{"bh-demo-", "", false},
		{"", "", false},
	} {
		got, ok := n.WorkloadName(tt.ns)
		if got != tt.want || ok != tt.ok {
			t.Errorf("WorkloadName(%q) = %q, %v; want %q, %v", tt.ns, got, ok, tt.want, tt.ok)
		}
	}
	w, ok := n.Workload(Container{NetNS: "bh-demo-db"})
	if diff := cmp.Diff(Workload{Name: "db", Labels: map[string]string{LabelNetNS: "bh-demo-db"}}, w); !ok || diff != "" {
		t.Errorf("Workload (-want +got):\n%s", diff)
	}
}

func FuzzParseStatic(f *testing.F) {
	f.Add([]byte(header + "  - name: a\n    ips: [1.2.3.4]\n    cidrs: [10.0.0.0/8]\n"))
	f.Add([]byte(header + "  - name: b\n    kind: external\n    cidrs: ['::/0']\n"))
	f.Add([]byte(header + "  - name: c\n    netns: [x]\n    interfaces: [y]\n    labels: {a: b}\n"))
	f.Add([]byte("workloads: [{}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseStatic("f.yaml", data)
		if err != nil {
			return
		}
		// Whatever it accepts, it can look up without panicking.
		s.Peer(netip.MustParseAddr("10.1.2.3"))
		s.Peer(netip.MustParseAddr("2001:db8::1"))
		s.Workload(Container{HostIf: "y", NetNS: "x", Addrs: addrs("1.2.3.4")})
	})
}
