package policy

import (
	"net/netip"
	"time"

	"bulkhead.dev/bulkhead/l7"
)

// APIVersion and KindPolicy identify a Bulkhead policy document.
const (
	APIVersion = "bulkhead.dev/v1alpha1"
	KindPolicy = "Policy"
)

// The built-in groups. They are never defined in a policy.
const (
	// GroupWorld holds every address that is neither a known workload nor
	// the node itself (CIDR and FQDN groups are subsets of it).
	GroupWorld = "world"
	// GroupHost is the node itself.
	GroupHost = "host"
)

// reservedGroupNames cannot name a group: the agent's metrics fold series
// past their cardinality cap into "other" and use "none" for a workload in
// no group.
var reservedGroupNames = map[string]bool{"other": true, "none": true}

// Policy is a loaded policy: the union of every document of every file.
type Policy struct {
	// DefaultMode is the mode of workloads in no group and of groups that
	// set none. ModeUnset when no document sets it (the plan then uses
	// DefaultMode).
	DefaultMode    Mode
	DefaultModePos Pos
	Groups         []Group
	Rules          []Rule
	// Files are the files the policy was read from, in load order.
	Files []string
}

// GroupKind says how a group selects its members.
type GroupKind uint8

// The kinds of group.
const (
	GroupSelector GroupKind = iota // workloads by labels
	GroupCIDR                      // addresses by prefix
	GroupFQDN                      // addresses by the DNS names that resolved to them
	GroupBuiltin                   // world and host
)

func (k GroupKind) String() string {
	return [...]string{"selector", "cidr", "fqdn", "builtin"}[k]
}

// Group is a named set of endpoints. Exactly one of Selector, CIDRs or
// FQDNs is set.
type Group struct {
	Name     string
	Kind     GroupKind
	Selector *Selector
	CIDRs    []netip.Prefix
	Except   []netip.Prefix // addresses inside CIDRs that are not members
	FQDNs    []string       // DNS patterns, exact or "*.domain"
	// Mode applies to selector groups; ModeUnset takes the policy's default.
	Mode        Mode
	AutoPromote *AutoPromote
	// Comment is written above the group by Marshal (not read from files).
	Comment string
	Pos     Pos
}

// AutoPromote lets a group raise its own mode after a quiet period with no
// new learned edge and no violation (see package promote).
type AutoPromote struct {
	After time.Duration // the quiet period, at least one minute
	To    Mode          // the highest mode to reach: ModeMonitor or ModeProtect
}

// Rule allows flows from one group to another.
type Rule struct {
	// ID is the rule's stable identifier: Name when given, else
	// "FILE#rule-N" (FILE the file's base name, N the rule's 1-based index
	// among the file's rules, across documents).
	ID   string
	Name string
	From string // group name
	To   string // group name
	// Ports are the destination ports allowed; empty means any.
	Ports []PortRange
	// AnyApp is true when the rule allows every application protocol; App
	// is the one allowed otherwise (l7.Unknown: traffic no detector
	// recognised).
	AnyApp bool
	App    l7.App
	// Kind and Matches are the L7 conditions: Kind is KindNone when the rule
	// has none, and then any request of App is allowed.
	Kind    L7Kind
	Matches []L7Match
	// Comment is written above the rule by Marshal (not read from files).
	Comment string
	Pos     Pos
}

// AppString returns "any" or the app's name.
func (r *Rule) AppString() string {
	if r.AnyApp {
		return "any"
	}
	return r.App.String()
}

// Group returns the group named name, or nil.
func (p *Policy) Group(name string) *Group {
	for i := range p.Groups {
		if p.Groups[i].Name == name {
			return &p.Groups[i]
		}
	}
	return nil
}

// Rule returns the rule whose ID is id, or nil.
func (p *Policy) Rule(id string) *Rule {
	for i := range p.Rules {
		if p.Rules[i].ID == id {
			return &p.Rules[i]
		}
	}
	return nil
}

// ModeOf returns the mode group g runs in under this policy's defaults.
func (p *Policy) ModeOf(g *Group) Mode {
	if g.Mode != ModeUnset {
		return g.Mode
	}
	return p.EffectiveDefaultMode()
}

// EffectiveDefaultMode returns DefaultMode, or the package DefaultMode when
// the policy sets none.
func (p *Policy) EffectiveDefaultMode() Mode {
	if p.DefaultMode != ModeUnset {
		return p.DefaultMode
	}
	return DefaultMode
}
