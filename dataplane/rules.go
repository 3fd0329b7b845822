package dataplane

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Family is an IP family: one iptables-restore batch each.
type Family uint8

const (
	IPv4 Family = 4
	IPv6 Family = 6
)

func (f Family) String() string {
	switch f {
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	}
	return "Family(" + strconv.Itoa(int(f)) + ")"
}

// Veth is a container's node-side veth the dataplane is attached to.
type Veth struct {
	// Name is the node-side interface name, e.g. "veth1a2b3c4".
	Name string
	// Bridge is the bridge the veth is a port of; "" when the topology is
	// routed (Calico style: the node routes to the veth itself).
	Bridge string
	// Addrs are the container's addresses. When bridged, they select
	// node-to-container packets in OUTPUT (the bridge port a locally
	// generated packet leaves by is not known there).
	Addrs []netip.Prefix
}

// Bridged reports whether the veth is a bridge port.
func (v Veth) Bridged() bool { return v.Bridge != "" }

// Balance is how packets are spread over the queues.
type Balance string

const (
	// BalanceHash hashes the addresses (--queue-balance alone): all flows
	// between two addresses land on one queue, in order. The default: it
	// measured as fast as or faster than BalanceCPU (bigger bursts per
	// reader), see docs/dataplane.md.
	BalanceHash Balance = "hash"
	// BalanceCPU sends a packet to the queue of the CPU that handles it
	// (--queue-cpu-fanout): the flows between two containers spread over
	// every reader.
	BalanceCPU Balance = "cpu"
)

// RuleSpec is everything the rules depend on.
type RuleSpec struct {
	Veths     []Veth
	Queues    int    // number of queues, ≥ 1
	QueueBase uint16 // first queue number
	// FailOpen adds --queue-bypass: packets pass when no reader is bound
	// (daemon stopped or crashed). Fail-closed drops them.
	FailOpen bool
	Balance  Balance
	Marks    Marks
}

// Chain names. Every chain whose name starts with ChainPrefix belongs to
// Bulkhead; nothing else is ever changed (except jumps to these chains).
const (
	ChainPrefix   = "BULKHEAD-"
	chainFwd      = "BULKHEAD-FWD"
	chainIn       = "BULKHEAD-IN"
	chainOut      = "BULKHEAD-OUT"
	chainDecided  = "BULKHEAD-DECIDED"
	chainInspect  = "BULKHEAD-INSPECT"
	chainPolicy   = "BULKHEAD-POLICY"
	chainVerdict  = "BULKHEAD-VERDICT"
	chainQueue    = "BULKHEAD-QUEUE"
	chainICMP6    = "BULKHEAD-ICMP6"
	dnsPort       = "53"
	maxIfNameLen  = 15
	maxQueueCount = 1024
)

// Rule is one iptables rule: its chain and its match and target arguments.
type Rule struct {
	Chain string
	Args  []string
}

func (r Rule) String() string { return r.Chain + " " + strings.Join(r.Args, " ") }

// Ruleset is the complete set of Bulkhead rules of one family in the filter
// table, as plain data.
type Ruleset struct {
	Family Family
	// Chains are the chains Bulkhead owns, in creation order.
	Chains []string
	// Rules are appended to their chains in order.
	Rules []Rule
	// Jumps are inserted at the top of built-in chains.
	Jumps []Rule
}

// BuildRules builds the IPv4 and IPv6 rule sets for spec. It is a pure
// function: the same spec always gives the same rules.
func BuildRules(spec RuleSpec) ([]Ruleset, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	veths := slices.Clone(spec.Veths)
	slices.SortFunc(veths, func(a, b Veth) int { return strings.Compare(a.Name, b.Name) })
	var out []Ruleset
	for _, fam := range []Family{IPv4, IPv6} {
		out = append(out, buildFamily(fam, veths, spec))
	}
	return out, nil
}

func (spec RuleSpec) validate() error {
	if spec.Queues < 1 || spec.Queues > maxQueueCount {
		return fmt.Errorf("dataplane: rules: %d queues: want 1 to %d", spec.Queues, maxQueueCount)
	}
	if int(spec.QueueBase)+spec.Queues-1 > 0xffff {
		return fmt.Errorf("dataplane: rules: queues %d..%d exceed 65535", spec.QueueBase, int(spec.QueueBase)+spec.Queues-1)
	}
	switch spec.Balance {
	case BalanceCPU, BalanceHash, "":
	default:
		return fmt.Errorf("dataplane: rules: unknown balance %q (want cpu or hash)", spec.Balance)
	}
	if err := spec.Marks.Validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, v := range spec.Veths {
		if err := v.validate(); err != nil {
			return err
		}
		if seen[v.Name] {
			return fmt.Errorf("dataplane: veth %s: attached twice", v.Name)
		}
		seen[v.Name] = true
	}
	return nil
}

// validIfName reports whether name can be used as an iptables interface
// match without meaning something else ("+" is a wildcard, "!" negation).
func validIfName(name string) error {
	if name == "" || len(name) > maxIfNameLen || name == "." || name == ".." {
		return fmt.Errorf("bad interface name %q: want 1 to %d characters", name, maxIfNameLen)
	}
	for _, r := range name {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`/:+!"'\`, r) {
			return fmt.Errorf("bad interface name %q: character %q cannot be used in an iptables match", name, r)
		}
	}
	return nil
}

func (v Veth) validate() error {
	if err := validIfName(v.Name); err != nil {
		return fmt.Errorf("dataplane: veth %s: %w", v.Name, err)
	}
	if v.Bridged() {
		if err := validIfName(v.Bridge); err != nil {
			return fmt.Errorf("dataplane: veth %s: bridge: %w", v.Name, err)
		}
	}
	for _, p := range v.Addrs {
		a := p.Addr()
		if !p.IsValid() || a.IsUnspecified() || a.IsMulticast() || a.Zone() != "" {
			return fmt.Errorf("dataplane: veth %s: address %v cannot be used to match the container", v.Name, p)
		}
	}
	return nil
}

func buildFamily(fam Family, veths []Veth, spec RuleSpec) Ruleset {
	m := spec.Marks
	rs := Ruleset{Family: fam}
	rs.Chains = []string{chainFwd, chainIn, chainOut, chainDecided, chainInspect, chainPolicy, chainVerdict, chainQueue}
	if fam == IPv6 {
		rs.Chains = append(rs.Chains, chainICMP6)
	}
	add := func(chain string, args ...string) { rs.Rules = append(rs.Rules, Rule{chain, args}) }

	mask := hex(m.Mask)
	markOf := func(v uint32) string { return hex(v) + "/" + mask }
	zero := "0x0/" + mask
	// The resets REJECT sends for a denied connection leave through
	// OUTPUT carrying the connection's conntrack (so its deny connmark):
	// let them out, or a routed client would wait for a timeout.
	add(chainOut, "-p", "tcp", "-m", "tcp", "--tcp-flags", "RST", "RST", "-m", "connmark", "--mark", markOf(m.Deny), "-j", "ACCEPT")
	// Before the per-veth dispatch (Bulkhead's connmark and mark bits are
	// set only by its own rules, on connections of attached containers):
	// a packet coming back from the reader (NF_REPEAT with the decision in
	// its mark) goes to BULKHEAD-VERDICT; a packet of an allowed TCP or
	// UDP connection other than DNS is accepted at once, by one rule (the
	// fast path: most packets end here, after two rules and the jump);
	// a packet of any other decided connection goes to BULKHEAD-DECIDED.
	// The verdict rule stays first: a packet the reader denies on a
	// connection allowed a moment before must reach BULKHEAD-VERDICT.
	// "Not DNS" is "-m multiport ! --ports 53" (neither port is 53), not
	// "-m udp ! --sport 53 ! --dport 53": iptables-nft (1.8.9) compiles
	// the latter into one comparison of both ports at once, "not (both
	// are 53)", which lets DNS through (TestDNSAlwaysQueued caught it).
	// Two separate port matches compile right but iptables-nft-save
	// prints them merged, so a save and restore by someone else would
	// bring the bug back; multiport stays an xt match both ways.
	for _, c := range []string{chainFwd, chainIn, chainOut} {
		add(c, "-m", "mark", "!", "--mark", zero, "-j", chainVerdict)
		for _, proto := range []string{"tcp", "udp"} {
			add(c, "-p", proto, "-m", "multiport", "!", "--ports", dnsPort,
				"-m", "connmark", "--mark", markOf(m.Allow), "-j", "ACCEPT")
		}
		add(c, "-m", "connmark", "!", "--mark", zero, "-j", chainDecided)
	}
	// Dispatch: which packets belong to an attached container.
	for _, v := range veths {
		if v.Bridged() {
			// From the container, bridged to another port or routed
			// by the node; to the container when bridged.
			add(chainFwd, "-m", "physdev", "--physdev-in", v.Name, "-j", chainPolicy)
			add(chainFwd, "-m", "physdev", "--physdev-out", v.Name, "--physdev-is-bridged", "-j", chainPolicy)
			// Routed to the container through the bridge: the port is
			// chosen after FORWARD, so match the address.
			for _, a := range familyAddrs(fam, v.Addrs) {
				add(chainFwd, "-o", v.Bridge, "-d", a, "-j", chainPolicy)
			}
			add(chainIn, "-m", "physdev", "--physdev-in", v.Name, "-j", chainPolicy)
			for _, a := range familyAddrs(fam, v.Addrs) {
				add(chainOut, "-o", v.Bridge, "-d", a, "-j", chainPolicy)
			}
			continue
		}
		add(chainFwd, "-i", v.Name, "-j", chainPolicy)
		add(chainFwd, "-o", v.Name, "-j", chainPolicy)
		add(chainIn, "-i", v.Name, "-j", chainPolicy)
		add(chainOut, "-o", v.Name, "-j", chainPolicy)
	}

	// Decided: the kernel path of decided connections that the fast
	// rules above did not take (other protocols, DNS, inspected and
	// denied connections). Inspected TCP and UDP connections other than
	// DNS go to BULKHEAD-INSPECT first: their server's packets (large
	// responses) are the bulk of what reaches this chain; inspect-all
	// connections are queued next (DNS included). DNS queries and
	// answers are always inspected: they return to the dispatch, which
	// queues them. (One port per rule: iptables-nft turns these into
	// native comparisons; multiport stays an xt match.)
	for _, proto := range []string{"tcp", "udp"} {
		add(chainDecided, "-p", proto, "-m", "multiport", "!", "--ports", dnsPort,
			"-m", "connmark", "--mark", markOf(m.Inspect), "-j", chainInspect)
	}
	add(chainDecided, "-m", "connmark", "--mark", markOf(m.InspectAll), "-j", chainQueue)
	for _, proto := range []string{"udp", "tcp"} {
		for _, dir := range []string{"--dport", "--sport"} {
			add(chainDecided, "-p", proto, "-m", proto, dir, dnsPort, "-j", "RETURN")
		}
	}
	add(chainDecided, "-m", "connmark", "--mark", markOf(m.Allow), "-j", "ACCEPT")
	add(chainDecided, "-m", "connmark", "--mark", markOf(m.Inspect), "-j", chainInspect)
	add(chainDecided, "-p", "tcp", "-m", "connmark", "--mark", markOf(m.Deny), "-j", "REJECT", "--reject-with", "tcp-reset")
	add(chainDecided, "-m", "connmark", "--mark", markOf(m.Deny), "-j", "DROP")
	// Values Bulkhead does not use return to the dispatch and are
	// queued.

	// Inspected: only the requests go to user space — what the client
	// sends, except TCP segments without data.
	add(chainInspect, "-m", "conntrack", "--ctdir", "REPLY", "-j", "ACCEPT")
	add(chainInspect, append([]string{"-p", "tcp"}, noPayloadMatch(fam)...)...)
	add(chainInspect, "-j", chainQueue)

	// Policy: packets of attached containers that no decision covers.
	if fam == IPv6 {
		// Neighbour discovery and MLD are how the link works: never
		// queued, never dropped.
		add(chainPolicy, "-p", "ipv6-icmp", "-j", chainICMP6)
		for _, t := range []string{"130", "131", "132", "133", "134", "135", "136", "137", "143"} {
			add(chainICMP6, "-p", "ipv6-icmp", "-m", "icmp6", "--icmpv6-type", t, "-j", "ACCEPT")
		}
	}
	// Undecided and DNS packets go to user space.
	add(chainPolicy, "-j", chainQueue)

	// Verdict: record the reader's decision in the connmark and apply it
	// (a value Bulkhead does not use falls through to the dispatch).
	save := []string{"-j", "CONNMARK", "--save-mark", "--nfmask", mask, "--ctmask", mask}
	for _, v := range []uint32{m.Allow, m.Inspect, m.InspectAll} {
		add(chainVerdict, append([]string{"-m", "mark", "--mark", markOf(v)}, save...)...)
		add(chainVerdict, "-m", "mark", "--mark", markOf(v), "-j", "ACCEPT")
	}
	add(chainVerdict, append([]string{"-m", "mark", "--mark", markOf(m.Deny)}, save...)...)
	add(chainVerdict, "-p", "tcp", "-m", "mark", "--mark", markOf(m.Deny), "-j", "REJECT", "--reject-with", "tcp-reset")
	add(chainVerdict, "-m", "mark", "--mark", markOf(m.Deny), "-j", "DROP")

	// Queue: show the reader the connection's state in the packet mark,
	// then queue.
	add(chainQueue, "-j", "CONNMARK", "--restore-mark", "--nfmask", mask, "--ctmask", mask)
	add(chainQueue, queueArgs(spec)...)

	// Group the rules by chain, in chain order, as iptables-save prints
	// them.
	slices.SortStableFunc(rs.Rules, func(a, b Rule) int {
		return slices.Index(rs.Chains, a.Chain) - slices.Index(rs.Chains, b.Chain)
	})
	rs.Jumps = []Rule{
		{"FORWARD", []string{"-j", chainFwd}},
		{"INPUT", []string{"-j", chainIn}},
		{"OUTPUT", []string{"-j", chainOut}},
	}
	return rs
}

// noPayloadMatch matches (and accepts) a TCP segment that carries no data,
// with the u32 match, for headers of known length: IPv4 without options
// (IHL 5), IPv6 without extension headers (next header TCP). Packets with
// other headers do not match and are queued: safe, and rare.
//
// The usual idiom, "0>>22&0x3C@12>>26&0x3C@0>>24=0:255" (read the first
// payload byte), is wrong here: u32 reads four bytes, so it needs four
// bytes of payload, and segments of one to three bytes would pass
// uninspected. Instead the last read covers the last three header bytes
// and the first payload byte: with IHL 5 the TCP header starts at 20, its
// data offset is in the byte at 32 (20+12), "32>>26&0x3C" is the TCP
// header length H, and "@17" reads bytes H+17 to H+20, which exist only if
// the packet is longer than 20+H. IPv6: the TCP header starts at 40, so
// "52>>26&0x3C@37". Verified in a network namespace with 0 to 5 and 100
// byte payloads (TestInspectQueuesRequestsOnly covers it end to end).
func noPayloadMatch(fam Family) []string {
	header, payload := "0>>24=0x45", "32>>26&0x3C@17=0:0xFFFFFFFF"
	if fam == IPv6 {
		header, payload = "4>>8&0xFF=6", "52>>26&0x3C@37=0:0xFFFFFFFF"
	}
	return []string{"-m", "u32", "--u32", header, "-m", "u32", "!", "--u32", payload, "-j", "ACCEPT"}
}

// queueArgs is the NFQUEUE target.
func queueArgs(spec RuleSpec) []string {
	args := []string{"-j", "NFQUEUE"}
	if spec.Queues == 1 {
		args = append(args, "--queue-num", strconv.Itoa(int(spec.QueueBase)))
	} else {
		args = append(args, "--queue-balance", fmt.Sprintf("%d:%d", spec.QueueBase, int(spec.QueueBase)+spec.Queues-1))
	}
	if spec.FailOpen {
		args = append(args, "--queue-bypass")
	}
	if spec.Queues > 1 && spec.Balance == BalanceCPU {
		args = append(args, "--queue-cpu-fanout")
	}
	return args
}

// familyAddrs returns the single-address prefixes of addrs in fam, as
// iptables prints them.
func familyAddrs(fam Family, addrs []netip.Prefix) []string {
	var out []string
	for _, p := range addrs {
		a := p.Addr().Unmap()
		if (fam == IPv4) != a.Is4() {
			continue
		}
		s := netip.PrefixFrom(a, a.BitLen()).String()
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}
