package state

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var fuzzTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// FuzzDecode feeds the state file envelope's decoder arbitrary bytes. It
// must never panic; what it accepts is a schema-1 envelope of the item
// asked for whose checksum matches its data, and that data encodes back to
// an envelope that decodes to the same data.
func FuzzDecode(f *testing.F) {
	good, err := encode("graph", []byte(`{"edges":[{"src":"a","dst":"b"}]}`), fuzzTime)
	if err != nil {
		f.Fatal(err)
	}
	modes, _ := encode("modes", []byte(`{"overrides":[]}`), fuzzTime)
	for _, seed := range []struct {
		name string
		data []byte
	}{
		{"graph", good},
		{"modes", modes},
		{"graph", modes},              // another item's file
		{"graph", good[:len(good)/2]}, // truncated
		{"graph", bytes.Replace(good, []byte(`"schema":1`), []byte(`"schema":2`), 1)},
		{"graph", bytes.Replace(good, []byte(`"src":"a"`), []byte(`"src":"x"`), 1)}, // checksum mismatch
		{"graph", []byte(`{"schema":1,"item":"graph","sha256":"","data":null}`)},
		{"graph", []byte(`null`)},
		{"graph", []byte(``)},
		{"policy", []byte(`{"schema":1,"item":"policy","data":{"files":[]}}`)},
	} {
		f.Add(seed.name, seed.data)
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		env, err := decode(name, data)
		if err != nil {
			return
		}
		if env.Schema != SchemaVersion || env.Item != name {
			t.Fatalf("decode accepted schema %d item %q for %q", env.Schema, env.Item, name)
		}
		again, err := encode(name, env.Data, env.Saved)
		if err != nil {
			// The only accepted data that does not encode: an envelope
			// without "data" whose checksum is that of nothing (the item's
			// loader then refuses the empty data).
			if len(env.Data) != 0 {
				t.Fatalf("decoded data %q does not encode: %v", env.Data, err)
			}
			return
		}
		env2, err := decode(name, again)
		if err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v\n%s", err, again)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, env.Data); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c.String(), string(env2.Data)); diff != "" {
			t.Fatalf("data changed through encode (-before +after):\n%s", diff)
		}
	})
}

// FuzzDecodePolicy feeds the last good policy's decoder arbitrary bytes:
// it must never panic, accept only snapshots with named files, and what
// it accepts must survive a save and a load unchanged.
func FuzzDecodePolicy(f *testing.F) {
	for _, s := range []string{
		`{"source":"/etc/bulkhead/policy/","files":[{"name":"/etc/bulkhead/policy/shop.yaml","content":"kind: Policy\n"}],"saved":"2025-03-01T12:00:00Z"}`,
		`{"source":"/p","files":[{"name":"a.yaml","content":""},{"name":"b.yml","content":"x"}]}`,
		`{"source":"/p","files":[]}`,
		`{"files":[{"name":"","content":"x"}]}`,
		`{"files":null}`, `null`, `[]`, `{`, `{"saved":"yesterday","files":[{"name":"a"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodePolicy(data)
		if err != nil {
			return
		}
		if len(p.Files) == 0 {
			t.Fatal("accepted a snapshot without files")
		}
		for _, fl := range p.Files {
			if fl.Name == "" {
				t.Fatalf("accepted a file without a name: %+v", p)
			}
		}
		// Through the store: SavePolicy, then LoadPolicy.
		s, err := Open(t.TempDir(), Options{Now: func() time.Time { return fuzzTime }})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SavePolicy(p); err != nil {
			t.Fatalf("SavePolicy(%+v): %v", p, err)
		}
		back, ok, res := s.LoadPolicy()
		if !ok {
			t.Fatalf("LoadPolicy after SavePolicy(%+v): %+v", p, res)
		}
		p.Saved = fuzzTime
		if diff := cmp.Diff(p, back); diff != "" {
			t.Fatalf("policy changed through the store (-saved +loaded):\n%s", diff)
		}
	})
}
