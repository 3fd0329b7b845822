package policy

import (
	"errors"
	"os"
	"strings"
	"testing"

	"bulkhead.dev/bulkhead/l7"
)

// FuzzParse checks that any input either loads (and then compiles,
// evaluates and marshals back to an equivalent policy) or fails with an
// ErrorList whose every entry names the file.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/shop.yaml", "testdata/eval.yaml", "testdata/errors.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(header + "  rules: [{from: world, to: host, ports: [tcp/1-2]}]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("---\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pol, err := Parse("f.yaml", data)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error is not a non-empty ErrorList: %v", err)
			}
			for _, e := range list {
				if e.Pos.File != "f.yaml" || !strings.HasPrefix(e.Error(), "f.yaml") {
					t.Fatalf("error without file: %v", e)
				}
			}
			return
		}
		plan, err := Compile(pol)
		if err != nil {
			t.Fatalf("a valid policy does not compile: %v", err)
		}
		if n := len(plan.GroupNames()); n != len(pol.Groups)+2 {
			t.Fatalf("%d group names for %d groups plus world and host", n, len(pol.Groups))
		}
		req := &l7.Request{Method: "GET", Path: "/a/b", Host: "x.example.com", Command: "GET"}
		for _, r := range pol.Rules {
			src := plan.Workload(Workload{Name: r.From}, true)
			dst := plan.Workload(Workload{Name: r.To}, false)
			plan.Evaluate(&Flow{Src: src, Dst: dst, Proto: l7.TCP, Port: 80, AppKnown: true, App: r.App, Request: req})
		}
		out, err := Marshal(pol, "f")
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		back, err := Parse("f.yaml", out)
		if err != nil {
			t.Fatalf("marshalled policy does not load: %v\n%s", err, out)
		}
		if len(back.Rules) != len(pol.Rules) || len(back.Groups) != len(pol.Groups) {
			t.Fatalf("round trip lost rules or groups")
		}
	})
}

func FuzzPathPattern(f *testing.F) {
	for _, s := range []string{"/users/{id}", "/api/**", "/static/*.css", "/", "/a//b", "/{x}/{y}/**"} {
		f.Add(s, "/users/12")
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		p, err := ParsePathPattern(pattern)
		if err != nil {
			return
		}
		p.Match(path)
		if p.Exact() && !p.Match(pattern) {
			t.Fatalf("exact pattern %q does not match itself", pattern)
		}
		if !Covers(AttrPath, pattern, pattern) {
			t.Fatalf("%q does not cover itself", pattern)
		}
		if p.Match(path) && AmbiguousPath(path) && !p.Exact() {
			t.Fatalf("wildcard %q matched ambiguous %q", pattern, path)
		}
	})
}

func FuzzDNSPattern(f *testing.F) {
	for _, s := range []string{"*.example.com", "github.com", "*", "_srv._tcp.x.org"} {
		f.Add(s, "a.example.com")
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		p, err := ParseDNSPattern(pattern)
		if err != nil {
			return
		}
		m := p.Match(name)
		if m && strings.EqualFold(name, p.String()) == false && !p.Any() {
			if _, wild := p.Wildcard(); !wild {
				t.Fatalf("exact %q matched %q", pattern, name)
			}
		}
		if again, err := ParseDNSPattern(p.String()); err != nil || again.String() != p.String() {
			t.Fatalf("normalised pattern %q does not parse back: %v", p.String(), err)
		}
	})
}

func FuzzGlob(f *testing.F) {
	f.Add("a*b*c", "aXbYc", false)
	f.Add("GET", "get", true)
	f.Fuzz(func(t *testing.T, pattern, s string, fold bool) {
		g, err := ParseGlob(pattern, fold)
		if err != nil {
			return
		}
		g.Match(s)
		if !strings.Contains(g.String(), "*") && !fold && g.Match(s) != (s == g.String()) {
			t.Fatalf("literal %q vs %q", pattern, s)
		}
		if !g.Match(g.String()) && !fold {
			t.Fatalf("%q does not match itself", pattern)
		}
	})
}

func FuzzParsePort(f *testing.F) {
	for _, s := range []string{"tcp/80", "udp/1-65535", "any", "tcp/any", "tcp/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParsePort(s)
		if err != nil {
			return
		}
		back, err := ParsePort(r.String())
		if err != nil || back != r {
			t.Fatalf("%q → %v → %q → %v, %v", s, r, r.String(), back, err)
		}
	})
}
