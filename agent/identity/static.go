package identity

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strings"

	"bulkhead.dev/bulkhead/agent/internal/yamlstrict"
)

// The identity file's document header.
const (
	APIVersion   = "bulkhead.dev/v1alpha1"
	KindIdentity = "Identities"
)

// fileDoc is the YAML form of an identity file.
type fileDoc struct {
	APIVersion string      `yaml:"apiVersion"`
	Kind       string      `yaml:"kind"`
	Workloads  []fileEntry `yaml:"workloads"`
}

type fileEntry struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
	// Kind is "workload" (default: a container here or a workload elsewhere
	// in the cluster) or "external" (a known range outside the cluster).
	Kind       string         `yaml:"kind"`
	NetNS      []string       `yaml:"netns"`
	Interfaces []string       `yaml:"interfaces"`
	IPs        []netip.Addr   `yaml:"ips"`
	CIDRs      []netip.Prefix `yaml:"cidrs"`
}

// Static is the static identity file, parsed. It is both a Source (local
// containers by interface, namespace name, IP, CIDR) and a PeerSource
// (remote addresses by IP, then longest CIDR). It is immutable and safe for
// concurrent use.
type Static struct {
	file    string
	byIf    map[string]*Identity
	byNetNS map[string]*Identity
	byIP    map[netip.Addr]*Identity
	// cidrs holds one map per prefix length, longest first.
	cidrs []cidrLevel
	n     int
}

type cidrLevel struct {
	bits int
	is6  bool
	m    map[netip.Prefix]*Identity
}

// LoadStatic reads and validates an identity file.
func LoadStatic(path string) (*Static, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: read %s: %w", path, err)
	}
	return ParseStatic(path, data)
}

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,251}[a-z0-9])?$`)
	labelKeyRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$`)
	labelValRE = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$`)
)

// ParseStatic parses an identity file; file names it in errors. Every
// problem is reported, each with its line and field:
//
//	identity: ids.yaml: line 7: workloads[1].cidrs[0]: 198.18.0.5/24 has host bits set (did you mean 198.18.0.0/24?)
func ParseStatic(file string, data []byte) (*Static, error) {
	var doc fileDoc
	pos, err := yamlstrict.Decode(data, &doc)
	if err != nil {
		return nil, fmt.Errorf("identity: %s: %w", file, err)
	}
	s := &Static{
		file:    file,
		byIf:    map[string]*Identity{},
		byNetNS: map[string]*Identity{},
		byIP:    map[netip.Addr]*Identity{},
	}
	var errs []error
	fail := func(path, format string, a ...any) {
		errs = append(errs, &yamlstrict.Error{Line: lineOf(pos, path), Path: path, Msg: fmt.Sprintf(format, a...)})
	}
	if doc.APIVersion != APIVersion {
		fail("apiVersion", "must be %q, got %q", APIVersion, doc.APIVersion)
	}
	if doc.Kind != KindIdentity {
		fail("kind", "must be %q, got %q", KindIdentity, doc.Kind)
	}
	names := map[string]string{}   // name → path of its entry
	claimed := map[string]string{} // "interface x" → path that claimed it
	cidrs := map[netip.Prefix]*Identity{}
	claim := func(what, path string) bool {
		if first, dup := claimed[what]; dup {
			fail(path, "%s already named by %s (line %d)", what, first, pos[first])
			return false
		}
		claimed[what] = path
		return true
	}
	for i, e := range doc.Workloads {
		p := fmt.Sprintf("workloads[%d]", i)
		id := &Identity{Name: e.Name, Labels: e.Labels, Source: "file"}
		switch e.Kind {
		case "", "workload":
			id.Kind = Cluster // Local when it names a container here
		case "external":
			id.Kind = External
		default:
			fail(p+".kind", `must be "workload" or "external", got %q`, e.Kind)
		}
		switch {
		case e.Name == "":
			fail(p+".name", "must not be empty")
		case e.Name == WorldName || e.Name == HostName:
			fail(p+".name", "%q is a built-in identity", e.Name)
		case !nameRE.MatchString(e.Name):
			fail(p+".name", "%q is not a valid name (lower-case letters, digits, '.', '_', '-'; at most 253)", e.Name)
		default:
			if first, dup := names[e.Name]; dup {
				fail(p+".name", "workload %q already defined at %s (line %d)", e.Name, first, pos[first+".name"])
			}
			names[e.Name] = p
		}
		for _, k := range sortedKeys(e.Labels) {
			lp := p + ".labels." + k
			if !labelKeyRE.MatchString(k) {
				fail(lp, "bad label key %q", k)
			}
			if !labelValRE.MatchString(e.Labels[k]) {
				fail(lp, "bad label value %q (at most 63 letters, digits, '-', '_', '.')", e.Labels[k])
			}
		}
		if len(e.NetNS)+len(e.Interfaces)+len(e.IPs)+len(e.CIDRs) == 0 {
			fail(p, "names nothing: give netns, interfaces, ips or cidrs")
		}
		if id.Kind == External && len(e.NetNS)+len(e.Interfaces) > 0 {
			fail(p+".kind", "an external range cannot name a network namespace or interface")
		}
		for j, v := range e.NetNS {
			fp := fmt.Sprintf("%s.netns[%d]", p, j)
			if v == "" {
				fail(fp, "must not be empty")
			} else if claim("network namespace "+v, fp) {
				s.byNetNS[v] = id
			}
		}
		for j, v := range e.Interfaces {
			fp := fmt.Sprintf("%s.interfaces[%d]", p, j)
			if v == "" || len(v) > 15 {
				fail(fp, "bad interface name %q (1 to 15 characters)", v)
			} else if claim("interface "+v, fp) {
				s.byIf[v] = id
			}
		}
		for j, v := range e.IPs {
			fp := fmt.Sprintf("%s.ips[%d]", p, j)
			a := normAddr(v)
			if !a.IsValid() || a.IsUnspecified() {
				fail(fp, "bad address %s", v)
			} else if claim("address "+a.String(), fp) {
				s.byIP[a] = id
			}
		}
		for j, v := range e.CIDRs {
			fp := fmt.Sprintf("%s.cidrs[%d]", p, j)
			if v.Masked() != v {
				fail(fp, "%s has host bits set (did you mean %s?)", v, v.Masked())
				continue
			}
			if claim("prefix "+v.String(), fp) {
				cidrs[v] = id
			}
		}
		s.n++
	}
	sort.SliceStable(errs, func(i, j int) bool {
		return errs[i].(*yamlstrict.Error).Line < errs[j].(*yamlstrict.Error).Line
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("identity: %s: %w", file, err)
	}
	levels := map[[2]int]map[netip.Prefix]*Identity{}
	for p, id := range cidrs {
		k := [2]int{p.Bits(), b2i(p.Addr().Is6())}
		if levels[k] == nil {
			levels[k] = map[netip.Prefix]*Identity{}
		}
		levels[k][p] = id
	}
	for k, m := range levels {
		s.cidrs = append(s.cidrs, cidrLevel{bits: k[0], is6: k[1] == 1, m: m})
	}
	sort.Slice(s.cidrs, func(i, j int) bool { return s.cidrs[i].bits > s.cidrs[j].bits })
	return s, nil
}

// lineOf returns the line of path, or of its closest parent that has one
// (a missing field has no line of its own).
func lineOf(pos yamlstrict.Positions, path string) int {
	for path != "" {
		if l, ok := pos[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// File returns the path the identities were read from.
func (s *Static) File() string { return s.file }

// Len returns the number of entries.
func (s *Static) Len() int { return s.n }

// Name implements Source.
func (s *Static) Name() string { return "file" }

// Workload implements Source: interface, then namespace name, then IP, then
// longest CIDR.
func (s *Static) Workload(c Container) (Workload, bool) {
	if id, ok := s.byIf[c.HostIf]; ok && c.HostIf != "" {
		return Workload{Name: id.Name, Labels: id.Labels}, true
	}
	if id, ok := s.byNetNS[c.NetNS]; ok && c.NetNS != "" {
		return Workload{Name: id.Name, Labels: id.Labels}, true
	}
	for _, a := range c.Addrs {
		if id, ok := s.byIP[normAddr(a)]; ok && id.Kind != External {
			return Workload{Name: id.Name, Labels: id.Labels}, true
		}
	}
	best, bestBits := (*Identity)(nil), -1
	for _, a := range c.Addrs {
		if id, bits := s.cidr(normAddr(a)); id != nil && id.Kind != External && bits > bestBits {
			best, bestBits = id, bits
		}
	}
	if best != nil {
		return Workload{Name: best.Name, Labels: best.Labels}, true
	}
	return Workload{}, false
}

// Peer implements PeerSource: IP, then longest CIDR.
func (s *Static) Peer(addr netip.Addr) (Identity, bool) {
	a := normAddr(addr)
	if id, ok := s.byIP[a]; ok {
		return *id, true
	}
	if id, _ := s.cidr(a); id != nil {
		return *id, true
	}
	return Identity{}, false
}

func (s *Static) cidr(a netip.Addr) (*Identity, int) {
	for _, l := range s.cidrs {
		if l.is6 != a.Is6() {
			continue
		}
		p, err := a.Prefix(l.bits)
		if err != nil {
			continue
		}
		if id, ok := l.m[p]; ok {
			return id, l.bits
		}
	}
	return nil, -1
}
