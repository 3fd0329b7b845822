package policy

import (
	"fmt"
	"strings"
)

// PathPattern is a compiled HTTP path pattern. Three forms:
//
//   - exact: "/healthz" matches that path only;
//   - prefix: "/api/**" matches "/api" and every path below it ("**" is
//     allowed only as the last segment);
//   - glob: segments may be "{name}" (exactly one non-empty segment) or
//     contain "*" (any characters except "/"): "/users/{id}/photos/*.jpg".
//
// Paths are compared as sent, byte for byte (no percent-decoding). A request
// path that is ambiguous — with "//", a "." or ".." segment, a backslash, or
// a percent-encoded ".", "/" or "\" — matches exact patterns only, so that
// no wildcard can be bypassed by a path the server would normalise.
type PathPattern struct {
	raw         string
	exact       bool
	prefix      bool   // literal segments then "**"
	prefixSlash string // for prefix patterns: the literal part followed by "/"
	segs        []pathSeg
	rest        bool // ends with "**"
}

type segKind uint8

const (
	segLit segKind = iota
	segParam
	segGlob
)

type pathSeg struct {
	kind segKind
	lit  string // literal text, or the glob
}

// ParsePathPattern compiles an HTTP path pattern.
func ParsePathPattern(s string) (*PathPattern, error) {
	if s == "" || s[0] != '/' {
		return nil, fmt.Errorf("bad path pattern %q: must start with /", s)
	}
	if len(s) > 2048 {
		return nil, fmt.Errorf("bad path pattern %q: longer than 2048 bytes", s[:32]+"...")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == '?' || c == '#' || c == '\\' {
			return nil, fmt.Errorf("bad path pattern %q: character %q not allowed", s, c)
		}
	}
	p := &PathPattern{raw: s, exact: !strings.ContainsAny(s, "*{}")}
	if p.exact {
		return p, nil
	}
	parts := strings.Split(s[1:], "/")
	literals := true
	for i, part := range parts {
		switch {
		case part == "**":
			if i != len(parts)-1 {
				return nil, fmt.Errorf("bad path pattern %q: ** is allowed only as the last segment", s)
			}
			p.rest = true
			continue
		case part == "" && i != len(parts)-1:
			return nil, fmt.Errorf("bad path pattern %q: empty segment", s)
		case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}"):
			if !isParamName(part[1 : len(part)-1]) {
				return nil, fmt.Errorf("bad path pattern %q: bad parameter %q (want {name} with letters, digits and _)", s, part)
			}
			p.segs = append(p.segs, pathSeg{kind: segParam, lit: part})
			literals = false
		case strings.ContainsAny(part, "{}"):
			return nil, fmt.Errorf("bad path pattern %q: { and } must enclose a whole segment", s)
		case strings.Contains(part, "*"):
			p.segs = append(p.segs, pathSeg{kind: segGlob, lit: part})
			literals = false
		default:
			p.segs = append(p.segs, pathSeg{kind: segLit, lit: part})
		}
	}
	if literals && p.rest {
		p.prefix = true
		var b strings.Builder
		for _, sg := range p.segs {
			b.WriteByte('/')
			b.WriteString(sg.lit)
		}
		p.prefixSlash = b.String() + "/"
	}
	return p, nil
}

func isParamName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// String returns the pattern as written.
func (p *PathPattern) String() string { return p.raw }

// Exact reports whether the pattern matches one path only.
func (p *PathPattern) Exact() bool { return p.exact }

// Match reports whether path matches the pattern. It does not allocate.
func (p *PathPattern) Match(path string) bool {
	if p.exact {
		return path == p.raw
	}
	if len(path) == 0 || path[0] != '/' || AmbiguousPath(path) {
		return false
	}
	if p.prefix {
		return path == p.prefixSlash[:len(p.prefixSlash)-1] || strings.HasPrefix(path, p.prefixSlash)
	}
	pos := 1
	for _, sg := range p.segs {
		if pos > len(path) {
			return false
		}
		end := strings.IndexByte(path[pos:], '/')
		if end < 0 {
			end = len(path) - pos
		}
		seg := path[pos : pos+end]
		switch sg.kind {
		case segLit:
			if seg != sg.lit {
				return false
			}
		case segParam:
			if seg == "" {
				return false
			}
		case segGlob:
			if !globMatch(sg.lit, seg, false) {
				return false
			}
		}
		pos += end + 1
	}
	return p.rest || pos == len(path)+1
}

// AmbiguousPath reports whether a server might normalise path into another
// one: "//", dot segments, backslashes, or percent-encoded '.', '/', '\'.
// Such paths match exact patterns only.
func AmbiguousPath(path string) bool {
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '\\':
			return true
		case '%':
			if i+2 < len(path) {
				h, l := path[i+1], path[i+2]|0x20
				if h == '2' && (l == 'e' || l == 'f') || h == '5' && l == 'c' {
					return true
				}
			}
		case '/':
			rest := path[i+1:]
			if rest == "" {
				continue
			}
			if rest[0] == '/' {
				return true
			}
			if rest[0] == '.' {
				if len(rest) == 1 || rest[1] == '/' {
					return true
				}
				if rest[1] == '.' && (len(rest) == 2 || rest[2] == '/') {
					return true
				}
			}
		}
	}
	return false
}
