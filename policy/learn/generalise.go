package learn

import (
	"cmp"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

// IDParam is the path segment that replaces identifiers.
const IDParam = "{id}"

// GeneralisePath replaces the segments of an HTTP path that are clearly
// identifiers with "{id}": decimal numbers, UUIDs, hexadecimal strings of 16
// or more digits (hashes), hexadecimal strings of 8 or more that mix digits
// and letters, and long tokens (24 or more letters and digits, mixing both).
// Ambiguous paths (see policy.PathPattern) are returned unchanged, and so are
// segments that already use pattern syntax.
func GeneralisePath(path string) string {
	if path == "" || path[0] != '/' || !needsWork(path) || policy.AmbiguousPath(path) || strings.ContainsAny(path, "*{}") {
		return path
	}
	if _, err := policy.ParsePathPattern(path); err != nil {
		return path
	}
	segs := strings.Split(path[1:], "/")
	for i, s := range segs {
		if IsID(s) {
			segs[i] = IDParam
		}
	}
	return "/" + strings.Join(segs, "/")
}

// needsWork reports whether any segment might be an id: a digit appears.
func needsWork(path string) bool { return strings.ContainsAny(path, "0123456789") }

// IsID reports whether a path segment is an identifier (see GeneralisePath).
func IsID(s string) bool {
	if s == "" {
		return false
	}
	digits, hexLetters, letters, other := 0, 0, 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F':
			hexLetters++
			letters++
		case c >= 'g' && c <= 'z' || c >= 'G' && c <= 'Z':
			letters++
		case c == '-' || c == '_':
			other++
		default:
			return false
		}
	}
	switch {
	case digits == len(s):
		return true
	case isUUID(s):
		return true
	case other == 0 && digits+hexLetters == len(s) && (len(s) >= 16 || len(s) >= 8 && digits > 0 && hexLetters > 0):
		return true
	case len(s) >= 24 && digits > 0 && letters > 0:
		return true
	}
	return false
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// publicSuffixes are suffixes under which names belong to unrelated owners:
// a wildcard never covers one of them or a domain directly below the root.
var publicSuffixes = map[string]bool{
	"com": true, "net": true, "org": true, "io": true, "dev": true, "app": true, "info": true,
	"biz": true, "edu": true, "gov": true, "mil": true, "int": true, "cloud": true, "ai": true,
	"co": true, "me": true, "tv": true, "us": true, "uk": true, "de": true, "fr": true, "eu": true,
	"jp": true, "cn": true, "in": true, "au": true, "br": true, "ru": true, "nl": true, "ca": true,
	"co.uk": true, "org.uk": true, "ac.uk": true, "gov.uk": true, "com.au": true, "net.au": true,
	"org.au": true, "co.jp": true, "ne.jp": true, "or.jp": true, "com.br": true, "com.cn": true,
	"co.in": true, "co.nz": true, "co.za": true, "com.mx": true, "com.tr": true,
	"local": true, "internal": true, "lan": true, "svc": true, "cluster.local": true,
	"svc.cluster.local": true, "amazonaws.com": true, "cloudfront.net": true,
	"azurewebsites.net": true, "blob.core.windows.net": true, "appspot.com": true,
	"herokuapp.com": true, "github.io": true, "googleusercontent.com": true,
	"in-addr.arpa": true, "ip6.arpa": true, "arpa": true,
}

// PublicSuffix reports whether domain is in the built-in list of public
// suffixes (com, net, org, io, co.uk, …), under which a wildcard must never
// be generated.
func PublicSuffix(domain string) bool { return publicSuffixes[domain] }

// WildcardNames generalises DNS names: when at least threshold distinct
// names lie under one domain (that is not a public suffix), they are replaced
// by "*.domain". The deepest such domain wins. The result maps every input
// name to its pattern (the name itself when not generalised).
func WildcardNames(names []string, threshold int) map[string]string {
	out := make(map[string]string, len(names))
	for _, n := range names {
		out[n] = n
	}
	if threshold <= 1 {
		threshold = 2
	}
	uniq := slices.Clone(names)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	// candidate domains, deepest first
	count := map[string]int{}
	for _, n := range uniq {
		for _, d := range parents(n) {
			count[d]++
		}
	}
	var domains []string
	for d, c := range count {
		if c >= threshold {
			domains = append(domains, d)
		}
	}
	sort.Slice(domains, func(i, j int) bool {
		di, dj := strings.Count(domains[i], "."), strings.Count(domains[j], ".")
		return di > dj || di == dj && domains[i] < domains[j]
	})
	for _, d := range domains {
		var under []string
		for _, n := range uniq {
			if out[n] == n && strings.HasSuffix(n, "."+d) {
				under = append(under, n)
			}
		}
		if len(under) < threshold {
			continue
		}
		for _, n := range under {
			out[n] = "*." + d
		}
	}
	return out
}

// parents returns the proper parent domains of name that a wildcard may
// cover: at least two labels, not a public suffix.
func parents(name string) []string {
	var out []string
	for i := strings.IndexByte(name, '.'); i >= 0; {
		d := name[i+1:]
		if strings.Contains(d, ".") && !PublicSuffix(d) {
			out = append(out, d)
		}
		j := strings.IndexByte(d, '.')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return out
}

// CollapsePorts turns the ports seen for one protocol into port ranges:
// consecutive ports join into one range; past threshold distinct ports, the
// whole span becomes one range when it is at most maxSpan ports wide, else
// the protocol's every port.
func CollapsePorts(proto l7.Transport, ports []uint16, threshold, maxSpan int) (ranges []policy.PortRange, collapsed bool) {
	ps := slices.Clone(ports)
	slices.Sort(ps)
	ps = slices.Compact(ps)
	if len(ps) == 0 {
		return nil, false
	}
	if len(ps) > threshold {
		lo, hi := ps[0], ps[len(ps)-1]
		if int(hi)-int(lo)+1 <= maxSpan {
			return []policy.PortRange{{Proto: proto, Lo: lo, Hi: hi}}, true
		}
		return []policy.PortRange{{Proto: proto, Lo: 1, Hi: 65535}}, true
	}
	for _, p := range ps {
		if n := len(ranges); n > 0 && ranges[n-1].Hi+1 == p {
			ranges[n-1].Hi = p
			continue
		}
		ranges = append(ranges, policy.PortRange{Proto: proto, Lo: p, Hi: p})
	}
	return ranges, false
}

// GroupAddrs maps external addresses to prefixes: the addresses of one /24
// (IPv4) or /64 (IPv6) share that prefix when at least threshold of them
// were seen; the others get their own /32 or /128.
func GroupAddrs(addrs []netip.Addr, threshold int) map[netip.Addr]netip.Prefix {
	byNet := map[netip.Prefix][]netip.Addr{}
	for _, a := range addrs {
		bits := 24
		if a.Is6() {
			bits = 64
		}
		n, _ := a.Prefix(bits)
		if !slices.Contains(byNet[n], a) {
			byNet[n] = append(byNet[n], a)
		}
	}
	out := map[netip.Addr]netip.Prefix{}
	for n, as := range byNet {
		for _, a := range as {
			if threshold > 0 && len(as) >= threshold {
				out[a] = n
			} else {
				out[a] = netip.PrefixFrom(a, a.BitLen())
			}
		}
	}
	return out
}

// GeneralisePaths replaces, among HTTP paths sharing a method, a host and
// every segment but the last, a last segment that takes more than threshold
// distinct values with "{param}". It returns the mapping from each input
// entry to its generalised path.
func GeneralisePaths(entries []Values, threshold int) []Values {
	type parentKey struct{ method, host, parent string }
	distinct := map[parentKey]map[string]bool{}
	keyOf := func(v *Values) (parentKey, string, bool) {
		p := v[policy.AttrPath]
		i := strings.LastIndexByte(p, '/')
		if i < 0 || strings.HasSuffix(p, "**") {
			return parentKey{}, "", false
		}
		return parentKey{v[policy.AttrMethod], v[policy.AttrHost], p[:i]}, p[i+1:], true
	}
	for i := range entries {
		if k, last, ok := keyOf(&entries[i]); ok {
			if distinct[k] == nil {
				distinct[k] = map[string]bool{}
			}
			distinct[k][last] = true
		}
	}
	out := make([]Values, len(entries))
	for i := range entries {
		out[i] = entries[i]
		k, _, ok := keyOf(&entries[i])
		if ok && len(distinct[k]) > threshold {
			cand := k.parent + "/{param}"
			if _, err := policy.ParsePathPattern(cand); err == nil && !strings.Contains(k.parent, "{param}") {
				out[i][policy.AttrPath] = cand
			}
		}
	}
	slices.SortFunc(out, func(a, b Values) int { return compareValues(&a, &b) })
	return slices.CompactFunc(out, func(a, b Values) bool { return cmp.Compare(compareValues(&a, &b), 0) == 0 })
}

// PublicSuffixCount returns the size of the built-in public suffix list.
func PublicSuffixCount() int { return len(publicSuffixes) }
