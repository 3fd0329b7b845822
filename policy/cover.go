package policy

import "strings"

// Covers reports whether pattern a, for attribute attr, matches every value
// pattern b matches. It is exact for the common cases and conservative
// (false) where deciding would be costly: two different globs with several
// wildcards. Invalid patterns cover nothing.
func Covers(attr Attr, a, b string) bool {
	if a == b {
		return true
	}
	switch attrs[attr].pattern {
	case patPath:
		pa, err1 := ParsePathPattern(a)
		pb, err2 := ParsePathPattern(b)
		return err1 == nil && err2 == nil && pathCovers(pa, pb)
	case patDNS:
		pa, err1 := ParseDNSPattern(a)
		pb, err2 := ParseDNSPattern(b)
		return err1 == nil && err2 == nil && dnsCovers(pa, pb)
	default:
		fold := attrs[attr].pattern == patGlobFold
		if fold {
			a, b = strings.ToUpper(a), strings.ToUpper(b)
		}
		return globCovers(a, b)
	}
}

func globCovers(a, b string) bool {
	switch {
	case a == b || a == "*":
		return true
	case !strings.Contains(b, "*"):
		return globMatch(a, b, false)
	}
	// a = P* covers any b that starts with P (b's own stars come after P).
	if strings.Count(a, "*") == 1 && strings.HasSuffix(a, "*") {
		return strings.HasPrefix(b, a[:len(a)-1])
	}
	return false
}

func dnsCovers(a, b *DNSPattern) bool {
	switch {
	case a.any:
		return true
	case b.any:
		return false
	case a.suffix == "":
		return b.suffix == "" && a.raw == b.raw
	case b.suffix == "":
		return a.Match(b.raw)
	default: // *.x covers *.y.x
		return strings.HasSuffix(b.suffix, a.suffix)
	}
}

func pathCovers(a, b *PathPattern) bool {
	switch {
	case a.exact:
		return b.exact && a.raw == b.raw
	case b.exact:
		return a.Match(b.raw)
	case b.rest && !a.rest:
		return false
	}
	for i, bs := range b.segs {
		if i >= len(a.segs) {
			return a.rest
		}
		as := a.segs[i]
		switch as.kind {
		case segLit:
			if bs.kind != segLit || bs.lit != as.lit {
				return false
			}
		case segParam:
			if bs.kind == segLit && bs.lit == "" || bs.kind == segGlob && strings.Trim(bs.lit, "*") == "" {
				return false
			}
		case segGlob:
			switch bs.kind {
			case segLit:
				if !globMatch(as.lit, bs.lit, false) {
					return false
				}
			case segParam:
				if strings.Trim(as.lit, "*") != "" {
					return false
				}
			case segGlob:
				if !globCovers(as.lit, bs.lit) {
					return false
				}
			}
		}
	}
	if len(a.segs) > len(b.segs) {
		return false
	}
	return a.rest || !b.rest && len(a.segs) == len(b.segs)
}
