package graphview

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// idSafe reports whether b may appear as itself in a node ID.
func idSafe(b byte) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		return true
	}
	return strings.IndexByte("-._~*@+/:", b) >= 0
}

// nodeID returns KIND:NAME with the name's unsafe bytes written %XX.
func nodeID(kind NodeKind, name string) string {
	var b strings.Builder
	b.WriteString(string(kind))
	b.WriteByte(':')
	for i := 0; i < len(name); i++ {
		c := name[i]
		if idSafe(c) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// display returns s fit to show: invalid UTF-8 bytes, control characters
// and Unicode format characters (bidirectional overrides…) are written as
// \xNN or \uNNNN, so that what a name really holds is visible. Renderers
// escape the result for their format.
func display(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// validUTF8 returns s with each invalid UTF-8 byte written \xNN, so that
// the view model is valid text (JSON cannot carry invalid UTF-8).
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// truncate shortens s to at most max runes, ending with "…" when cut.
func truncate(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
