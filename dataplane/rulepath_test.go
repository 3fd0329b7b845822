package dataplane

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// This file interprets the rule sets BuildRules makes, for the subset of
// iptables matches and targets they use, so that tests can follow a packet
// through them: where it ends (accepted, dropped, rejected, queued) and how
// many rules it is checked against on the way.

// walkPkt is what the interpreter knows of a packet at one hook.
type walkPkt struct {
	hook         string // FORWARD, INPUT or OUTPUT
	proto        string // tcp, udp, icmp or ipv6-icmp
	sport, dport int
	rst          bool // TCP RST flag
	payload      bool // carries data after the transport header
	icmp6Type    int
	inIf, outIf  string // logical interfaces (the bridge, when bridged)
	physIn       string // bridge ports, when bridged
	physOut      string
	dst          netip.Addr
	mark         uint32 // packet mark
	connmark     uint32
	reply        bool // conntrack direction REPLY
}

// walkResult is where a packet ended.
type walkResult struct {
	verdict string // ACCEPT, DROP, REJECT, NFQUEUE, or "policy" (left Bulkhead's chains undecided)
	rules   int    // rules checked, the built-in chain's jump included
	saved   bool   // CONNMARK --save-mark ran
}

type walker struct {
	rs     Ruleset
	fam    Family
	marks  Marks
	p      walkPkt
	res    walkResult
	chains map[string][]Rule
}

// walk follows p through rs from its hook's built-in chain.
func walk(t *testing.T, rs Ruleset, marks Marks, p walkPkt) walkResult {
	t.Helper()
	w := &walker{rs: rs, fam: rs.Family, marks: marks, p: p, chains: map[string][]Rule{}}
	for _, r := range rs.Rules {
		w.chains[r.Chain] = append(w.chains[r.Chain], r)
	}
	for _, j := range rs.Jumps {
		if j.Chain == p.hook {
			w.chains[p.hook] = append(w.chains[p.hook], j)
		}
	}
	if v, ok := w.run(t, p.hook, 0); ok {
		w.res.verdict = v
	} else {
		w.res.verdict = "policy"
	}
	return w.res
}

// run runs a chain: the terminal verdict, or ok=false when the packet
// returns from it.
func (w *walker) run(t *testing.T, chain string, depth int) (string, bool) {
	t.Helper()
	if depth > 10 {
		t.Fatalf("jump loop at %s", chain)
	}
	for _, r := range w.chains[chain] {
		w.res.rules++
		if !w.matches(t, r) {
			continue
		}
		target, opts := jumpOf(r.Args)
		switch target {
		case "ACCEPT", "DROP", "REJECT", "NFQUEUE":
			return target, true
		case "RETURN":
			return "", false
		case "CONNMARK":
			if strings.Contains(strings.Join(opts, " "), "--save-mark") {
				w.p.connmark = w.p.connmark&^w.marks.Mask | w.p.mark&w.marks.Mask
				w.res.saved = true
			} else {
				w.p.mark = w.p.mark&^w.marks.Mask | w.p.connmark&w.marks.Mask
			}
		default:
			if _, ok := w.chains[target]; !ok && !strings.HasPrefix(target, ChainPrefix) {
				t.Fatalf("rule %v: target %q not interpreted", r, target)
			}
			if v, ok := w.run(t, target, depth+1); ok {
				return v, true
			}
		}
	}
	return "", false
}

// jumpOf splits a rule's target from its options.
func jumpOf(args []string) (string, []string) {
	for i, a := range args {
		if a == "-j" && i+1 < len(args) {
			return args[i+1], args[i+2:]
		}
	}
	return "", nil
}

// matches checks every match of r against the packet.
func (w *walker) matches(t *testing.T, r Rule) bool {
	t.Helper()
	p := &w.p
	args := r.Args
	module, neg := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() string {
			i++
			if i >= len(args) {
				t.Fatalf("rule %v: %s without value", r, a)
			}
			return args[i]
		}
		ok := true
		switch a {
		case "!":
			neg = true
			continue
		case "-j":
			return true
		case "-m":
			module = next()
			continue
		case "-p":
			ok = p.proto == next()
		case "-i":
			ok = p.inIf == next()
		case "-o":
			ok = p.outIf == next()
		case "-d":
			pf := netip.MustParsePrefix(next())
			ok = p.dst.IsValid() && pf.Contains(p.dst)
		case "--mark":
			v, m := parseMarkArg(t, next())
			switch module {
			case "mark":
				ok = p.mark&m == v
			case "connmark":
				ok = p.connmark&m == v
			default:
				t.Fatalf("rule %v: --mark in module %q", r, module)
			}
		case "--sport", "--dport":
			port, err := strconv.Atoi(next())
			if err != nil {
				t.Fatalf("rule %v: %v", r, err)
			}
			got := p.dport
			if a == "--sport" {
				got = p.sport
			}
			ok = got == port
		case "--ports":
			port, err := strconv.Atoi(next())
			if err != nil || module != "multiport" {
				t.Fatalf("rule %v: --ports not interpreted", r)
			}
			ok = p.sport == port || p.dport == port
		case "--tcp-flags":
			if mask, comp := next(), next(); mask != "RST" || comp != "RST" {
				t.Fatalf("rule %v: tcp flags not interpreted", r)
			}
			ok = p.rst
		case "--ctdir":
			ok = (next() == "REPLY") == p.reply
		case "--physdev-in":
			ok = p.physIn == next()
		case "--physdev-out":
			ok = p.physOut == next()
		case "--physdev-is-bridged":
			ok = p.physIn != "" && p.physOut != ""
		case "--icmpv6-type":
			ok = strconv.Itoa(p.icmp6Type) == next()
		case "--u32":
			header, payload := noPayloadMatch(w.fam)[3], noPayloadMatch(w.fam)[8]
			switch next() {
			case header:
				ok = true // plain headers: no IPv4 options, no IPv6 extension headers
			case payload:
				ok = p.payload
			default:
				t.Fatalf("rule %v: u32 expression not interpreted", r)
			}
		default:
			t.Fatalf("rule %v: %q not interpreted", r, a)
		}
		if ok == neg {
			return false
		}
		neg = false
	}
	return true
}

func parseMarkArg(t *testing.T, s string) (uint32, uint32) {
	t.Helper()
	v, m, _ := strings.Cut(s, "/")
	vv, err1 := strconv.ParseUint(v, 0, 32)
	mm, err2 := strconv.ParseUint(m, 0, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("mark %q", s)
	}
	return uint32(vv), uint32(mm)
}

// TestNoMergedNegatedPorts: no rule negates two port options in one tcp or
// udp match. iptables-nft (1.8.9) compiles "-m udp ! --sport 53 ! --dport
// 53" into one comparison of both ports, "not (both 53)", instead of
// "neither is 53".
func TestNoMergedNegatedPorts(t *testing.T) {
	sets, err := BuildRules(RuleSpec{Veths: []Veth{bridgedA, routedA}, Queues: 1, Marks: DefaultMarks})
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range sets {
		for _, r := range rs.Rules {
			module, negated := "", 0
			for i, a := range r.Args {
				switch {
				case a == "-m" && i+1 < len(r.Args):
					module, negated = r.Args[i+1], 0
				case a == "!" && i+1 < len(r.Args) && (r.Args[i+1] == "--sport" || r.Args[i+1] == "--dport") && (module == "tcp" || module == "udp"):
					if negated++; negated > 1 {
						t.Errorf("%v: %v negates two ports in one %s match", rs.Family, r, module)
					}
				}
			}
		}
	}
}

// TestRulePaths follows packets through the rule sets of both topologies
// and families: where each kind of packet ends, and how many rules it is
// checked against on the way. The established packets of an allowed TCP
// or UDP connection — nearly all packets — take the fast path: the
// built-in chain's jump and two or three rules, never the per-veth
// dispatch.
func TestRulePaths(t *testing.T) {
	m := DefaultMarks
	for _, topo := range []struct {
		name  string
		veths []Veth
		// fwd sets the interfaces of a packet from the first veth's
		// container to the second's.
		fwd func(p *walkPkt)
	}{
		{"bridged", []Veth{bridgedA, bridgedB}, func(p *walkPkt) {
			p.inIf, p.outIf, p.physIn, p.physOut = "br-bulkhead", "br-bulkhead", bridgedA.Name, bridgedB.Name
		}},
		{"routed", []Veth{routedA, routedB}, func(p *walkPkt) { p.inIf, p.outIf = routedA.Name, routedB.Name }},
	} {
		sets, err := BuildRules(RuleSpec{Veths: topo.veths, Queues: 2, FailOpen: true, Balance: BalanceHash, Marks: m})
		if err != nil {
			t.Fatal(err)
		}
		for _, rs := range sets {
			dst := netip.MustParseAddr("198.18.0.11")
			if rs.Family == IPv6 {
				dst = netip.MustParseAddr("2001:2:0:1::b")
			}
			fwd := func(proto string, sport, dport int, f func(p *walkPkt)) walkPkt {
				p := walkPkt{hook: "FORWARD", proto: proto, sport: sport, dport: dport, dst: dst}
				topo.fwd(&p)
				if f != nil {
					f(&p)
				}
				return p
			}
			icmp := "icmp"
			if rs.Family == IPv6 {
				icmp = "ipv6-icmp"
			}
			conn := func(v uint32) func(p *walkPkt) { return func(p *walkPkt) { p.connmark = v } }
			for _, tc := range []struct {
				name     string
				p        walkPkt
				verdict  string
				maxRules int
				saved    bool
			}{
				{"allowed tcp", fwd("tcp", 40000, 8080, conn(m.Allow)), "ACCEPT", 3, false},
				{"allowed tcp, reply", fwd("tcp", 8080, 40000, func(p *walkPkt) { p.connmark, p.reply = m.Allow, true }), "ACCEPT", 3, false},
				{"allowed udp", fwd("udp", 40000, 7001, conn(m.Allow)), "ACCEPT", 4, false},
				{"allowed tcp with other mark bits", fwd("tcp", 40000, 8080, func(p *walkPkt) { p.connmark, p.mark = m.Allow|0x1, 0x4000 }), "ACCEPT", 3, false},
				{"allowed icmp", fwd(icmp, 0, 0, conn(m.Allow)), "ACCEPT", 0, false},
				{"dns query of an allowed connection", fwd("udp", 40000, 53, conn(m.Allow)), "NFQUEUE", 0, false},
				{"dns answer of an allowed connection", fwd("udp", 53, 40000, func(p *walkPkt) { p.connmark, p.reply = m.Allow, true }), "NFQUEUE", 0, false},
				{"dns over tcp of an allowed connection", fwd("tcp", 40000, 53, conn(m.Allow)), "NFQUEUE", 0, false},
				{"undecided tcp", fwd("tcp", 40000, 8080, nil), "NFQUEUE", 0, false},
				{"undecided icmp", fwd(icmp, 0, 0, nil), "NFQUEUE", 0, false},
				{"back from the reader: allow", fwd("tcp", 40000, 8080, func(p *walkPkt) { p.mark = m.Allow }), "ACCEPT", 0, true},
				{"back from the reader: inspect", fwd("tcp", 40000, 8080, func(p *walkPkt) { p.mark = m.Inspect }), "ACCEPT", 0, true},
				{"back from the reader: deny tcp", fwd("tcp", 40000, 8080, func(p *walkPkt) { p.mark = m.Deny }), "REJECT", 0, true},
				{"back from the reader: deny udp", fwd("udp", 40000, 7001, func(p *walkPkt) { p.mark = m.Deny }), "DROP", 0, true},
				{"back from the reader: deny on an allowed connection", fwd("tcp", 40000, 8080, func(p *walkPkt) { p.mark, p.connmark = m.Deny, m.Allow }), "REJECT", 0, true},
				{"denied tcp", fwd("tcp", 40000, 6379, conn(m.Deny)), "REJECT", 0, false},
				{"denied udp", fwd("udp", 40000, 7001, conn(m.Deny)), "DROP", 0, false},
				{"denied icmp", fwd(icmp, 0, 0, conn(m.Deny)), "DROP", 0, false},
				{"inspected request", fwd("tcp", 40000, 8080, func(p *walkPkt) { p.connmark, p.payload = m.Inspect, true }), "NFQUEUE", 11, false},
				{"inspected ack", fwd("tcp", 40000, 8080, conn(m.Inspect)), "ACCEPT", 8, false},
				{"inspected response", fwd("tcp", 8080, 40000, func(p *walkPkt) { p.connmark, p.payload, p.reply = m.Inspect, true, true }), "ACCEPT", 7, false},
				{"inspected udp datagram", fwd("udp", 40000, 7001, func(p *walkPkt) { p.connmark, p.payload = m.Inspect, true }), "NFQUEUE", 0, false},
				{"inspected udp answer", fwd("udp", 7001, 40000, func(p *walkPkt) { p.connmark, p.payload, p.reply = m.Inspect, true, true }), "ACCEPT", 0, false},
				{"dns query of an inspected connection", fwd("udp", 40000, 53, func(p *walkPkt) { p.connmark, p.payload = m.Inspect, true }), "NFQUEUE", 0, false},
				{"dns answer of an inspected connection", fwd("tcp", 53, 40000, func(p *walkPkt) { p.connmark, p.payload, p.reply = m.Inspect, true, true }), "NFQUEUE", 0, false},
				{"inspected-all ack", fwd("tcp", 8080, 40000, func(p *walkPkt) { p.connmark, p.reply = m.InspectAll, true }), "NFQUEUE", 10, false},
				{"inspected-all dns", fwd("udp", 53, 40000, func(p *walkPkt) { p.connmark, p.reply = m.InspectAll, true }), "NFQUEUE", 10, false},
				{"not a container's packet", walkPkt{hook: "FORWARD", proto: "tcp", sport: 1, dport: 2, inIf: "eth0", outIf: "eth1"}, "policy", 0, false},
			} {
				t.Run(fmt.Sprintf("%s/%v/%s", topo.name, rs.Family, tc.name), func(t *testing.T) {
					got := walk(t, rs, m, tc.p)
					if got.verdict != tc.verdict || got.saved != tc.saved {
						t.Errorf("ended %s (connmark saved: %v) after %d rules, want %s (saved: %v)", got.verdict, got.saved, got.rules, tc.verdict, tc.saved)
					}
					if tc.maxRules > 0 && got.rules > tc.maxRules {
						t.Errorf("checked against %d rules, want at most %d", got.rules, tc.maxRules)
					}
				})
			}
			if rs.Family == IPv6 {
				p := fwd(icmp, 0, 0, func(p *walkPkt) { p.icmp6Type = 135 })
				if got := walk(t, rs, m, p); got.verdict != "ACCEPT" {
					t.Errorf("%s: neighbour solicitation ended %s, want ACCEPT (never queued)", topo.name, got.verdict)
				}
			}
		}
	}
	// The reset REJECT sends for a denied connection leaves through
	// OUTPUT at once.
	sets, err := BuildRules(RuleSpec{Veths: []Veth{routedA}, Queues: 1, Marks: m})
	if err != nil {
		t.Fatal(err)
	}
	rst := walkPkt{hook: "OUTPUT", proto: "tcp", sport: 6379, dport: 40000, rst: true, outIf: routedA.Name, connmark: m.Deny}
	if got := walk(t, sets[0], m, rst); got.verdict != "ACCEPT" || got.rules != 2 {
		t.Errorf("reset of a denied connection in OUTPUT: %s after %d rules, want ACCEPT after 2", got.verdict, got.rules)
	}
}
