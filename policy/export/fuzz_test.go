package export

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"bulkhead.dev/bulkhead/policy"
)

// fullMatch compiles re the way the proxy applies it: to the whole value.
func fullMatch(t *testing.T, re string) *regexp.Regexp {
	t.Helper()
	c, err := regexp.Compile("^(?:" + re + ")$")
	if err != nil {
		t.Fatalf("regular expression %q does not compile: %v", re, err)
	}
	return c
}

// printable reports whether s has no control character (which no request
// line or header carries).
func printable(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f })
}

// FuzzPathRegex: the regular expression exported for a path pattern
// matches exactly the paths the pattern matches, except paths a server
// might normalise into others (Bulkhead then matches exact patterns only,
// Cilium's regular expression may match more).
func FuzzPathRegex(f *testing.F) {
	for _, s := range [][2]string{
		{"/users/{id}", "/users/42"}, {"/users/{id}", "/users/"}, {"/api/**", "/api"}, {"/api/**", "/api/"},
		{"/api/**", "/api/x/y"}, {"/api/**", "/apix"}, {"/static/*.css", "/static/a.css"}, {"/static/*.css", "/static/a/b.css"},
		{"/a.b", "/aXb"}, {"/**", "/"}, {"/v*/items/{x}/**", "/v1/items/3/a"}, {"/x/", "/x/"}, {"/a+b", "/aab"},
		{"/api/**", "/api/../admin"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		p, err := policy.ParsePathPattern(pattern)
		if err != nil || !printable(path) || path == "" || !utf8.ValidString(pattern) {
			// A request path is never empty; a pattern that is not UTF-8 is
			// not exported (see ciliumConditions).
			return
		}
		got, want := fullMatch(t, pathRegex(pattern)).MatchString(path), p.Match(path)
		switch {
		case want && !got:
			t.Errorf("pattern %q matches %q, its regular expression %q does not (narrower)", pattern, path, pathRegex(pattern))
		case got && !want && !policy.AmbiguousPath(path):
			t.Errorf("regular expression %q of pattern %q matches %q, the pattern does not (wider)", pathRegex(pattern), pattern, path)
		}
	})
}

// FuzzHostRegex: the regular expression exported for an HTTP host pattern
// matches a Host header when Bulkhead's pattern matches the name the L7
// engine reads from it (spaces, a ":port" and a trailing dot stripped,
// lower case), and only then; for a header that is no well-formed name
// (empty labels, other characters) it may match less, never more.
func FuzzHostRegex(f *testing.F) {
	for _, s := range [][2]string{
		{"api.example.com", "api.example.com"}, {"api.example.com", "API.Example.com:8080"}, {"api.example.com", "apixexample.com"},
		{"*.example.com", "a.b.example.com"}, {"*.example.com", "example.com"}, {"*.example.com", "a.example.com."},
		{"*.example.com", "a.example.com.evil.net"}, {"x_y.internal", "x_y.internal:80"}, {"*.0", " .0."},
	} {
		f.Add(s[0], s[1])
	}
	label := regexp.MustCompile(`^[-a-z0-9_]+$`)
	f.Fuzz(func(t *testing.T, pattern, host string) {
		p, err := policy.ParseDNSPattern(pattern)
		if err != nil || p.Any() || !printable(host) || !utf8.ValidString(host) || strings.ContainsAny(host, "[]") {
			return
		}
		name := strings.TrimSpace(host)
		if i := strings.LastIndexByte(name, ':'); i >= 0 {
			name = name[:i]
		}
		name = strings.ToLower(strings.TrimSuffix(name, "."))
		wellFormed := name != "" && strings.TrimSpace(host) == host
		for _, l := range strings.Split(name, ".") {
			wellFormed = wellFormed && label.MatchString(l)
		}
		re := hostRegex(p.String())
		got, want := fullMatch(t, re).MatchString(host), p.Match(name)
		if got && !want || wellFormed && got != want {
			t.Errorf("host %q: regular expression %q says %v, pattern %q on %q says %v", host, re, got, pattern, name, want)
		}
	})
}
