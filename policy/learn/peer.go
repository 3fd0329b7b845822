package learn

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"strings"
)

// PeerKind says what a Peer names.
type PeerKind uint8

// The kinds of peer, in sort order.
const (
	PeerWorkload PeerKind = iota + 1 // a workload, by name
	PeerFQDN                         // an external address named by a DNS answer
	PeerAddr                         // an external address with no name
	PeerHost                         // the node itself
)

// Peer is one end of an edge. Compare peers with ==.
type Peer struct {
	Kind PeerKind
	Name string     // workload name or FQDN (lower case, no trailing dot)
	Addr netip.Addr // PeerAddr only
}

// Workload names a workload peer.
func Workload(name string) Peer { return Peer{Kind: PeerWorkload, Name: name} }

// FQDN names an external peer by the name a DNS answer gave its address.
func FQDN(name string) Peer {
	return Peer{Kind: PeerFQDN, Name: strings.ToLower(strings.TrimSuffix(name, "."))}
}

// Addr names an external peer by address.
func Addr(a netip.Addr) Peer { return Peer{Kind: PeerAddr, Addr: a.Unmap()} }

// Host is the node itself.
func Host() Peer { return Peer{Kind: PeerHost} }

func (p Peer) String() string {
	switch p.Kind {
	case PeerWorkload:
		return p.Name
	case PeerFQDN:
		return "fqdn:" + p.Name
	case PeerAddr:
		return p.Addr.String()
	case PeerHost:
		return "host"
	}
	return "invalid peer"
}

func (p Peer) valid() bool {
	switch p.Kind {
	case PeerWorkload, PeerFQDN:
		return p.Name != ""
	case PeerAddr:
		return p.Addr.IsValid()
	case PeerHost:
		return true
	}
	return false
}

// ComparePeers orders peers by kind, then name, then address.
func ComparePeers(a, b Peer) int {
	if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return a.Addr.Compare(b.Addr)
}

// peerJSON is a Peer's JSON form: exactly one field set.
type peerJSON struct {
	Workload string `json:"workload,omitempty"`
	FQDN     string `json:"fqdn,omitempty"`
	Addr     string `json:"addr,omitempty"`
	Host     bool   `json:"host,omitempty"`
}

// MarshalJSON writes {"workload": NAME}, {"fqdn": NAME}, {"addr": IP} or
// {"host": true}.
func (p Peer) MarshalJSON() ([]byte, error) {
	var j peerJSON
	switch p.Kind {
	case PeerWorkload:
		j.Workload = p.Name
	case PeerFQDN:
		j.FQDN = p.Name
	case PeerAddr:
		j.Addr = p.Addr.String()
	case PeerHost:
		j.Host = true
	default:
		return nil, fmt.Errorf("learn: marshal peer: invalid kind %d", p.Kind)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (p *Peer) UnmarshalJSON(b []byte) error {
	var j peerJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("learn: peer %s: %w", b, err)
	}
	n := 0
	for _, set := range []bool{j.Workload != "", j.FQDN != "", j.Addr != "", j.Host} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("learn: peer %s: want exactly one of workload, fqdn, addr, host", b)
	}
	switch {
	case j.Workload != "":
		*p = Workload(j.Workload)
	case j.FQDN != "":
		*p = FQDN(j.FQDN)
	case j.Addr != "":
		a, err := netip.ParseAddr(j.Addr)
		if err != nil {
			return fmt.Errorf("learn: peer %s: %w", b, err)
		}
		*p = Addr(a)
	default:
		*p = Host()
	}
	return nil
}

// mergeLabels returns the union of two label sets; on a conflict the
// smaller value wins, so that merging is commutative and associative.
func mergeLabels(a, b map[string]string) map[string]string {
	if len(b) == 0 {
		return maps.Clone(a)
	}
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	for k, v := range b {
		if old, ok := out[k]; !ok || v < old {
			out[k] = v
		}
	}
	return out
}
