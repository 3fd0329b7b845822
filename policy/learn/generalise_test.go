package learn

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bulkhead.dev/bulkhead/l7"
	"bulkhead.dev/bulkhead/policy"
)

func TestGeneralisePath(t *testing.T) {
	for in, want := range map[string]string{
		"/users/123":                              "/users/{id}",
		"/users/123/orders/456":                   "/users/{id}/orders/{id}",
		"/u/550e8400-e29b-41d4-a716-446655440000": "/u/{id}",
		"/blob/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08": "/blob/{id}",
		"/commit/a1b2c3d4":            "/commit/{id}",
		"/t/AbCdEfGhIjKlMnOpQrStUv12": "/t/{id}",
		"/api/v1/users":               "/api/v1/users",
		"/deadbeef":                   "/deadbeef", // letters only: a word
		"/static/app.js":              "/static/app.js",
		"/2024/report":                "/{id}/report",
		"/users/123/../admin":         "/users/123/../admin", // ambiguous: kept exact
		"/a/{b}/1":                    "/a/{b}/1",
		"":                            "",
		"*":                           "*",
	} {
		if got := GeneralisePath(in); got != want {
			t.Errorf("GeneralisePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWildcardNames(t *testing.T) {
	names := []string{"a.cdn.example.com", "b.cdn.example.com", "c.cdn.example.com", "x.example.com",
		"one.com", "two.com", "three.com", "a.co.uk", "b.co.uk", "c.co.uk", "github.com"}
	got := WildcardNames(names, 3)
	want := map[string]string{
		"a.cdn.example.com": "*.cdn.example.com", "b.cdn.example.com": "*.cdn.example.com", "c.cdn.example.com": "*.cdn.example.com",
		"x.example.com": "x.example.com",
		"one.com":       "one.com", "two.com": "two.com", "three.com": "three.com", // never *.com
		"a.co.uk": "a.co.uk", "b.co.uk": "b.co.uk", "c.co.uk": "c.co.uk", // never *.co.uk
		"github.com": "github.com",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	// With a lower threshold the shallower domain collects what is left.
	got = WildcardNames([]string{"a.cdn.example.com", "b.cdn.example.com", "x.example.com"}, 2)
	want = map[string]string{"a.cdn.example.com": "*.cdn.example.com", "b.cdn.example.com": "*.cdn.example.com", "x.example.com": "x.example.com"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestCollapsePorts(t *testing.T) {
	tests := []struct {
		ports     []uint16
		want      string
		collapsed bool
	}{
		{[]uint16{80}, "[tcp/80]", false},
		{[]uint16{8080, 80, 8081, 8082, 80}, "[tcp/80 tcp/8080-8082]", false},
		{[]uint16{9000, 9003, 9010, 9020, 9030, 9040, 9050, 9060, 9070}, "[tcp/9000-9070]", true},
		{[]uint16{22, 80, 443, 3306, 5432, 6379, 8080, 9090, 27017}, "[tcp/any]", true},
	}
	for _, tt := range tests {
		r, c := CollapsePorts(l7.TCP, tt.ports, 8, 1024)
		if got := portsString(r); got != tt.want || c != tt.collapsed {
			t.Errorf("CollapsePorts(%v) = %s, %v; want %s, %v", tt.ports, got, c, tt.want, tt.collapsed)
		}
	}
}

func portsString(rs []policy.PortRange) string {
	s := "["
	for i, r := range rs {
		if i > 0 {
			s += " "
		}
		s += r.String()
	}
	return s + "]"
}

func TestGroupAddrs(t *testing.T) {
	a := netip.MustParseAddr
	got := GroupAddrs([]netip.Addr{a("203.0.113.1"), a("203.0.113.2"), a("203.0.113.3"), a("198.51.100.9"), a("2001:db8::1")}, 3)
	want := map[netip.Addr]netip.Prefix{
		a("203.0.113.1"):  netip.MustParsePrefix("203.0.113.0/24"),
		a("203.0.113.2"):  netip.MustParsePrefix("203.0.113.0/24"),
		a("203.0.113.3"):  netip.MustParsePrefix("203.0.113.0/24"),
		a("198.51.100.9"): netip.MustParsePrefix("198.51.100.9/32"),
		a("2001:db8::1"):  netip.MustParsePrefix("2001:db8::1/128"),
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(x, y netip.Prefix) bool { return x == y }), cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestGeneralisePaths(t *testing.T) {
	var in []Values
	for _, p := range []string{"/files/a.txt", "/files/b.txt", "/files/c.txt", "/files/d.txt", "/other"} {
		var v Values
		v[policy.AttrMethod], v[policy.AttrPath] = "GET", p
		in = append(in, v)
	}
	var got []string
	for _, v := range GeneralisePaths(in, 3) {
		got = append(got, v[policy.AttrPath])
	}
	if d := cmp.Diff([]string{"/files/{param}", "/other"}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestValuesOf(t *testing.T) {
	v, ok := ValuesOf(l7.HTTP, &l7.Request{Method: "get", Path: "/users/7", Host: "API.local.", UserAgent: "curl"})
	var want Values
	want[policy.AttrMethod], want[policy.AttrPath], want[policy.AttrHost] = "GET", "/users/{id}", "api.local"
	if !ok || v != want {
		t.Errorf("ValuesOf http = %v, %v", v, ok)
	}
	if _, ok := ValuesOf(l7.SSH, &l7.Request{Version: "2.0"}); ok {
		t.Errorf("ssh has no L7 conditions")
	}
	if _, ok := ValuesOf(l7.Redis, &l7.Request{}); ok {
		t.Errorf("empty request has no values")
	}
}
