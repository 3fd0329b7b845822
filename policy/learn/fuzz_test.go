package learn

import (
	"bytes"
	"os"
	"testing"

	"bulkhead.dev/bulkhead/policy"
)

// FuzzReadJSON checks that any input is either refused or read into a
// snapshot that writes back identically and generates a valid policy.
func FuzzReadJSON(f *testing.F) {
	data, err := os.ReadFile("testdata/graph.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"version":1,"workloads":[],"edges":[{"src":{"addr":"::ffff:1.2.3.4"},"dst":{"fqdn":"X.COM."},"proto":"udp","port":53,"app":"dns","values":[{"name":"a.x.com","count":2}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadJSON(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := s.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		first := bytes.Clone(buf.Bytes())
		again, err := ReadJSON(&buf)
		if err != nil {
			t.Fatalf("written graph does not read back: %v", err)
		}
		var buf2 bytes.Buffer
		again.WriteJSON(&buf2)
		if !bytes.Equal(first, buf2.Bytes()) {
			t.Fatalf("not stable:\n%s\n%s", first, buf2.Bytes())
		}
		if _, err := Generate(s, Options{}); err != nil {
			t.Fatalf("a readable graph does not generate a valid policy: %v", err)
		}
	})
}

// FuzzGeneralisePath checks that a generalised path is a pattern that
// matches the path it came from.
func FuzzGeneralisePath(f *testing.F) {
	for _, s := range []string{"/users/123", "/a/550e8400-e29b-41d4-a716-446655440000/b", "/x/../1", "/%2e/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		g := GeneralisePath(path)
		if g == path {
			return
		}
		p, err := policy.ParsePathPattern(g)
		if err != nil {
			t.Fatalf("%q → %q: not a pattern: %v", path, g, err)
		}
		if !p.Match(path) {
			t.Fatalf("%q → %q does not match the original", path, g)
		}
	})
}
