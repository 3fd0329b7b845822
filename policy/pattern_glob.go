package policy

import (
	"fmt"
	"strings"
)

// Glob is a compiled pattern where "*" matches any run of characters
// (including none); every other character matches itself. Globs of command
// and method names compare case-insensitively (ASCII).
type Glob struct {
	raw  string
	fold bool
}

// ParseGlob compiles a glob. fold makes it case-insensitive.
func ParseGlob(s string, fold bool) (*Glob, error) {
	if s == "" {
		return nil, fmt.Errorf("empty pattern")
	}
	if len(s) > 1024 {
		return nil, fmt.Errorf("bad pattern %q: longer than 1024 bytes", s[:32]+"...")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c == 0x7f {
			return nil, fmt.Errorf("bad pattern %q: control character %q", s, c)
		}
	}
	if fold {
		s = strings.ToUpper(s)
	}
	return &Glob{raw: s, fold: fold}, nil
}

// String returns the pattern (upper-cased when case-insensitive).
func (g *Glob) String() string { return g.raw }

// Match reports whether s matches. It does not allocate.
func (g *Glob) Match(s string) bool { return globMatch(g.raw, s, g.fold) }

// globMatch matches s against pattern where '*' matches any run of bytes.
// Linear backtracking over the last star: O(len(pattern)*len(s)) at worst.
func globMatch(pattern, s string, fold bool) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && byteEq(pattern[p], s[i], fold):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func byteEq(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	if b >= 'a' && b <= 'z' {
		b -= 'a' - 'A'
	}
	return a == b
}
