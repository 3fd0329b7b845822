package policy

import (
	"testing"

	"bulkhead.dev/bulkhead/l7"
)

func TestPathPattern(t *testing.T) {
	tests := []struct {
		pattern string
		yes     []string
		no      []string
	}{
		{"/healthz", []string{"/healthz"}, []string{"/healthz/", "/healthz/x", "/health", ""}},
		{"/api/**", []string{"/api", "/api/", "/api/v1/users"}, []string{"/apix", "/ap", "/api/../admin", "/api//x", "/api/%2e%2e/x"}},
		{"/**", []string{"/", "/x", "/a/b/c"}, []string{"", "x", "/a/./b"}},
		{"/users/{id}", []string{"/users/1", "/users/abc"}, []string{"/users/", "/users", "/users/1/x", "/users/.."}},
		{"/users/{id}/photos/*.jpg", []string{"/users/1/photos/a.jpg", "/users/1/photos/.jpg"}, []string{"/users/1/photos/a.png", "/users/1/photos/x/a.jpg"}},
		{"/static/*", []string{"/static/a.css", "/static/"}, []string{"/static", "/static/a/b"}},
		{"/v*/items", []string{"/v1/items", "/v/items"}, []string{"/x1/items"}},
		{"/a/{x}/**", []string{"/a/b", "/a/b/c/d"}, []string{"/a", "/a/"}},
		{"/a/", []string{"/a/"}, []string{"/a"}},
		{"/a//b", []string{"/a//b"}, []string{"/a/b"}}, // exact patterns match ambiguous paths literally
	}
	for _, tt := range tests {
		p, err := ParsePathPattern(tt.pattern)
		if err != nil {
			t.Fatalf("ParsePathPattern(%q): %v", tt.pattern, err)
		}
		checkMatches(t, tt.pattern, p.Match, tt.yes, tt.no)
	}
}

func TestPathPatternErrors(t *testing.T) {
	for _, s := range []string{"", "users", "/a/**/b", "/a/{id", "/a/{}", "/a/{1x}", "/a/x{y}", "/a//{id}", "/a b", "/a?x=1", "/a#f", `/a\b`} {
		if _, err := ParsePathPattern(s); err == nil {
			t.Errorf("ParsePathPattern(%q): want an error", s)
		}
	}
}

func TestAmbiguousPath(t *testing.T) {
	for s, want := range map[string]bool{
		"/a/b": false, "/a/b/": false, "/a/.hidden": false, "/a/..b": false, "/": false,
		"/a//b": true, "/a/./b": true, "/a/../b": true, "/a/.": true, "/a/..": true,
		"/a/%2e%2e/b": true, "/a%2Fb": true, `/a\b`: true, "/a/%5C": true, "/a/%41": false,
	} {
		if got := AmbiguousPath(s); got != want {
			t.Errorf("AmbiguousPath(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern string
		fold    bool
		yes, no []string
	}{
		{"GET", true, []string{"GET", "get"}, []string{"GETX", "POST"}},
		{"*", false, []string{"", "anything"}, nil},
		{"orders.*", false, []string{"orders.", "orders.eu"}, []string{"order", "xorders.eu"}},
		{"*.v1.*", false, []string{"a.v1.b", ".v1."}, []string{"a.v2.b"}},
		{"a*b*c", false, []string{"abc", "aXbYc", "abbbc"}, []string{"acb", "ab"}},
		{"Users", false, []string{"Users"}, []string{"users"}},
	}
	for _, tt := range tests {
		g, err := ParseGlob(tt.pattern, tt.fold)
		if err != nil {
			t.Fatal(err)
		}
		checkMatches(t, tt.pattern, g.Match, tt.yes, tt.no)
	}
	for _, s := range []string{"", "a\x00b", "tab\there"} {
		if _, err := ParseGlob(s, false); err == nil {
			t.Errorf("ParseGlob(%q): want an error", s)
		}
	}
}

func TestDNSPattern(t *testing.T) {
	tests := []struct {
		pattern string
		yes, no []string
	}{
		{"api.example.com", []string{"api.example.com", "API.Example.com.", "api.example.com."}, []string{"example.com", "x.api.example.com"}},
		{"*.example.com", []string{"a.example.com", "a.b.example.com", "A.EXAMPLE.COM"}, []string{"example.com", "aexample.com", ".example.com"}},
		{"*", []string{"x", "a.b"}, []string{""}},
		{"_sip._tcp.example.com", []string{"_sip._tcp.example.com"}, nil},
	}
	for _, tt := range tests {
		p, err := ParseDNSPattern(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		checkMatches(t, tt.pattern, p.Match, tt.yes, tt.no)
	}
	for _, s := range []string{"", "a..b", "*.", "a.*.com", "ex ample.com", "*example.com", "**.x.com", "a.b-*.com", string(make([]byte, 300))} {
		if _, err := ParseDNSPattern(s); err == nil {
			t.Errorf("ParseDNSPattern(%q): want an error", s)
		}
	}
}

func TestParsePort(t *testing.T) {
	tests := []struct {
		in   string
		want PortRange
		err  bool
	}{
		{in: "tcp/8080", want: PortRange{l7.TCP, 8080, 8080}},
		{in: "udp/53", want: PortRange{l7.UDP, 53, 53}},
		{in: "tcp/8000-8080", want: PortRange{l7.TCP, 8000, 8080}},
		{in: "tcp/any", want: PortRange{l7.TCP, 1, 65535}},
		{in: "any", want: AnyPort},
		{in: "tcp/80000", err: true},
		{in: "tcp/0", err: true},
		{in: "tcp/90-80", err: true},
		{in: "sctp/80", err: true},
		{in: "80", err: true},
		{in: "tcp/", err: true},
		{in: "tcp/8a", err: true},
		{in: "tcp/-5", err: true},
	}
	for _, tt := range tests {
		got, err := ParsePort(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParsePort(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if !tt.err {
			if got != tt.want {
				t.Errorf("ParsePort(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if back, _ := ParsePort(got.String()); back != got {
				t.Errorf("ParsePort(%q).String() = %q does not parse back", tt.in, got.String())
			}
		}
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		attr Attr
		a, b string
		want bool
	}{
		{AttrPath, "/users/**", "/users/{id}", true},
		{AttrPath, "/users/{id}", "/users/**", false},
		{AttrPath, "/users/{id}", "/users/42", true},
		{AttrPath, "/**", "/a/*/b/**", true},
		{AttrPath, "/a/*", "/a/{x}", true},
		{AttrPath, "/a/x*", "/a/{x}", false},
		{AttrPath, "/a/{x}", "/a/b/c", false},
		{AttrPath, "/a/*.jpg", "/a/x.jpg", true},
		{AttrPath, "/a", "/a/**", false},
		{AttrName, "*.example.com", "a.example.com", true},
		{AttrName, "*.example.com", "*.a.example.com", true},
		{AttrName, "*.a.example.com", "*.example.com", false},
		{AttrName, "*", "*.x.com", true},
		{AttrName, "x.com", "*.x.com", false},
		{AttrCommand, "*", "GET", true},
		{AttrCommand, "get", "GET", true},
		{AttrTopic, "orders.*", "orders.eu.*", true},
		{AttrTopic, "orders.eu", "orders.*", false},
	}
	for _, tt := range tests {
		if got := Covers(tt.attr, tt.a, tt.b); got != tt.want {
			t.Errorf("Covers(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// checkMatches checks that match accepts every string of yes and none of no.
func checkMatches(t *testing.T, pattern string, match func(string) bool, yes, no []string) {
	t.Helper()
	for _, s := range yes {
		if !match(s) {
			t.Errorf("%q should match %q", pattern, s)
		}
	}
	for _, s := range no {
		if match(s) {
			t.Errorf("%q should not match %q", pattern, s)
		}
	}
}
