package policy

import (
	"fmt"
	"strings"
)

// DNSPattern is a compiled domain-name pattern, used by FQDN groups, DNS
// query-name, TLS SNI and HTTP host conditions. Three forms:
//
//   - exact: "api.example.com" (case-insensitive, a trailing dot ignored);
//   - wildcard: "*.example.com" matches every name with one or more labels
//     before ".example.com", not "example.com" itself;
//   - "*": every name (not allowed in FQDN groups: use the world group).
type DNSPattern struct {
	raw    string // normalised: lower case, no trailing dot
	any    bool
	suffix string // ".example.com" for wildcards
}

// ParseDNSPattern compiles a domain-name pattern.
func ParseDNSPattern(s string) (*DNSPattern, error) {
	if s == "*" {
		return &DNSPattern{raw: s, any: true}, nil
	}
	name := strings.ToLower(strings.TrimSuffix(s, "."))
	p := &DNSPattern{raw: name}
	if rest, ok := strings.CutPrefix(name, "*."); ok {
		name = rest
		p.suffix = "." + rest
	}
	if err := checkDomainName(name); err != nil {
		return nil, fmt.Errorf("bad name pattern %q: %w", s, err)
	}
	return p, nil
}

// checkDomainName accepts names of letters, digits, '-' and '_' in labels of
// 1 to 63 bytes, at most 253 bytes in all.
func checkDomainName(name string) error {
	if name == "" {
		return fmt.Errorf("empty name")
	}
	if len(name) > 253 {
		return fmt.Errorf("longer than 253 bytes")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" {
			return fmt.Errorf("empty label")
		}
		if len(label) > 63 {
			return fmt.Errorf("label %q longer than 63 bytes", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				if c == '*' {
					return fmt.Errorf("'*' is allowed only as the whole first label")
				}
				return fmt.Errorf("character %q not allowed in a name", c)
			}
		}
	}
	return nil
}

// String returns the normalised pattern.
func (p *DNSPattern) String() string { return p.raw }

// Any reports whether the pattern is "*".
func (p *DNSPattern) Any() bool { return p.any }

// Wildcard reports whether the pattern is "*.domain", and returns domain.
func (p *DNSPattern) Wildcard() (domain string, ok bool) {
	if p.suffix == "" {
		return "", false
	}
	return p.suffix[1:], true
}

// Match reports whether name matches (case-insensitive; a trailing dot is
// ignored). It does not allocate.
func (p *DNSPattern) Match(name string) bool {
	name = strings.TrimSuffix(name, ".")
	switch {
	case name == "":
		return false
	case p.any:
		return true
	case p.suffix != "":
		return len(name) > len(p.suffix) && strings.EqualFold(name[len(name)-len(p.suffix):], p.suffix)
	default:
		return strings.EqualFold(name, p.raw)
	}
}
