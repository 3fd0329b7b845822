package l7

import (
	"bytes"
	"unsafe"
)

// Normalisation of the attributes policies match on (see Request), shared
// by HTTP, HTTP/2, TLS, QUIC and DNS. Results alias their input when it is
// already normal, else a scratch buffer the caller owns: no allocation once
// the scratch has grown to the largest value seen.

// bstr returns b as a string without copying (valid while b is unchanged).
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// sbytes returns the bytes of s without copying. They must not be
// modified.
func sbytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// lowerASCII returns b lower-cased: b itself when it has no upper-case
// letter, else a copy appended to *scratch.
func lowerASCII(b []byte, scratch *[]byte) []byte {
	i := 0
	for i < len(b) && !('A' <= b[i] && b[i] <= 'Z') {
		i++
	}
	if i == len(b) {
		return b
	}
	start := len(*scratch)
	*scratch = append(*scratch, b...)
	out := (*scratch)[start:]
	for j := i; j < len(out); j++ {
		if c := out[j]; 'A' <= c && c <= 'Z' {
			out[j] = c + 'a' - 'A'
		}
	}
	return out
}

// normHost normalises a host name or authority: lower case, the port and a
// trailing dot removed, brackets of an IPv6 literal removed.
func normHost(b []byte, scratch *[]byte) []byte {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		if i := bytes.IndexByte(b, ']'); i > 0 {
			b = b[1:i]
		}
	} else if i := bytes.LastIndexByte(b, ':'); i >= 0 && bytes.IndexByte(b[:i], ':') < 0 {
		// One colon: host:port. Several (an unbracketed IPv6 address) are
		// left alone.
		b = b[:i]
	}
	b = bytes.TrimSuffix(b, []byte("."))
	return lowerASCII(b, scratch)
}

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// normPath returns the path of a request target: the query and fragment
// cut, percent-encoded unreserved characters decoded (other percent
// escapes get upper-case hex digits), and dot segments removed
// (RFC 3986 §5.2.4, §6.2.2).
func normPath(target []byte, scratch *[]byte) []byte {
	if i := bytes.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	if !needsPathNorm(target) {
		return target
	}
	start := len(*scratch)
	out := *scratch
	// Percent-decoding.
	for i := 0; i < len(target); i++ {
		c := target[i]
		if c == '%' && i+2 < len(target) {
			hi, ok1 := unhex(target[i+1])
			lo, ok2 := unhex(target[i+2])
			if ok1 && ok2 {
				if d := hi<<4 | lo; isUnreserved(d) {
					out = append(out, d)
				} else {
					out = append(out, '%', upperHex(target[i+1]), upperHex(target[i+2]))
				}
				i += 2
				continue
			}
		}
		out = append(out, c)
	}
	// Dot segments, in place over the decoded copy.
	dec := out[start:]
	n := removeDotSegments(dec)
	*scratch = out[:start+n]
	return (*scratch)[start:]
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// needsPathNorm reports whether p has a percent escape or a dot segment.
func needsPathNorm(p []byte) bool {
	if bytes.IndexByte(p, '%') >= 0 {
		return true
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '.' {
			continue
		}
		// A dot segment is "." or ".." between slashes (or at the ends).
		if (i == 0 || p[i-1] == '/') &&
			(i+1 == len(p) || p[i+1] == '/' ||
				p[i+1] == '.' && (i+2 == len(p) || p[i+2] == '/')) {
			return true
		}
	}
	return false
}

// removeDotSegments rewrites p without "." and ".." segments and returns the
// new length. It only moves bytes towards the start.
func removeDotSegments(p []byte) int {
	abs := len(p) > 0 && p[0] == '/'
	w := 0 // output length
	i := 0
	if abs {
		i = 1
		w = 1
	}
	for i <= len(p) {
		j := i
		for j < len(p) && p[j] != '/' {
			j++
		}
		seg := p[i:j]
		last := j == len(p)
		switch {
		case len(seg) == 1 && seg[0] == '.':
			// Drop; a trailing "." leaves the directory's slash.
		case len(seg) == 2 && seg[0] == '.' && seg[1] == '.':
			// Remove the previous segment.
			if w > 0 && (!abs || w > 1) {
				k := w - 1
				if p[k] == '/' {
					k--
				}
				for k >= 0 && p[k] != '/' {
					k--
				}
				w = k + 1
				if abs && w == 0 {
					w = 1
				}
			}
		default:
			w += copy(p[w:], seg)
			if !last {
				p[w] = '/'
				w++
			}
		}
		if last {
			break
		}
		i = j + 1
	}
	if w == 0 && abs {
		w = 1
	}
	return w
}
