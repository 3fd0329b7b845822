package l7

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/http2/hpack"
)

// fieldList is an hpackSink that records the fields as "name: value".
type fieldList []string

func (l *fieldList) field(name, value []byte) { *l = append(*l, string(name)+": "+string(value)) }

func unhexString(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHPACKRFCExamples: the request examples of RFC 7541 Appendix C.3 (no
// Huffman) and C.4 (Huffman), three blocks each on one connection: fields
// and table sizes after each block.
func TestHPACKRFCExamples(t *testing.T) {
	want := [][]string{
		{":method: GET", ":scheme: http", ":path: /", ":authority: www.example.com"},
		{":method: GET", ":scheme: http", ":path: /", ":authority: www.example.com", "cache-control: no-cache"},
		{":method: GET", ":scheme: https", ":path: /index.html", ":authority: www.example.com", "custom-key: custom-value"},
	}
	wantSizes := []int{57, 110, 164}
	for _, tc := range []struct {
		name   string
		blocks []string
	}{{
		name: "C.3",
		blocks: []string{
			"8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
			"8286 84be 5808 6e6f 2d63 6163 6865",
			"8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
		},
	}, {
		name: "C.4",
		blocks: []string{
			"8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
			"8286 84be 5886 a8eb 1064 9cbf",
			"8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
		},
	}} {
		var d hpackDecoder
		d.reset(h2MaxString)
		for i, blk := range tc.blocks {
			var got fieldList
			if err := d.decode(unhexString(t, blk), &got); err != nil {
				t.Fatalf("%s.%d: %v", tc.name, i+1, err)
			}
			if diff := cmp.Diff(want[i], []string(got)); diff != "" {
				t.Errorf("%s.%d fields (-want +got):\n%s", tc.name, i+1, diff)
			}
			if d.size != wantSizes[i] {
				t.Errorf("%s.%d: table size %d, want %d", tc.name, i+1, d.size, wantSizes[i])
			}
		}
	}
}

func TestHPACKErrors(t *testing.T) {
	tests := []struct {
		name  string
		block string
		want  string
	}{
		{"index 0", "80", "hpack: invalid table index"},
		{"index beyond the tables", "be", "hpack: invalid table index"},
		{"literal name index beyond the tables", "7f00 0161", "hpack: invalid table index"},
		{"truncated integer", "ff", "hpack: truncated header block"},
		{"integer too large", "ff ffffffffffffff7f", "hpack: integer too large"},
		{"truncated string", "40 05 6e", "hpack: truncated header block"},
		{"literal without a value", "40 016e", "hpack: truncated header block"},
		{"size update after a field", "40 0161 0131 20", "hpack: dynamic table size update after a header field"},
		{"size update beyond the allowed size", "3fe21f", "hpack: dynamic table size update to 4097, beyond the 4096 allowed"},
		{"bad Huffman padding", "40 8100 8100", "hpack: hpack: invalid Huffman-encoded data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d hpackDecoder
			d.reset(h2MaxString)
			var got fieldList
			err := d.decode(unhexString(t, tc.block), &got)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %q (fields %q)", err, tc.want, got)
			}
		})
	}
	// A string longer than maxString, raw or Huffman-coded.
	for _, huff := range []bool{false, true} {
		var d hpackDecoder
		d.reset(16)
		enc := hpackEncode(t, 4096, huff, []string{"x-long", strings.Repeat("a", 17)})
		var got fieldList
		if err := d.decode(enc, &got); err == nil || err.Error() != "hpack: string too long" {
			t.Errorf("Huffman %v: error %v, want string too long", huff, err)
		}
	}
}

// TestHPACKTable: size updates evict, an entry larger than the table
// empties it, and a new entry may take its name from an entry it evicts.
func TestHPACKTable(t *testing.T) {
	var d hpackDecoder
	d.reset(h2MaxString)
	// Two entries of 32+1+3 bytes.
	for _, blk := range []string{"40 0161 03313131", "40 0162 03323232"} {
		var got fieldList
		if err := d.decode(unhexString(t, blk), &got); err != nil {
			t.Fatal(err)
		}
	}
	if d.size != 72 {
		t.Fatalf("size %d, want 72", d.size)
	}
	// A size update to 40 keeps the newest entry only; index 62 is b.
	var got fieldList
	if err := d.decode(unhexString(t, "3f09 be"), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"b: 222"}, []string(got)); diff != "" {
		t.Errorf("after the update (-want +got):\n%s", diff)
	}
	// A literal named after index 62 ("b") evicts "b" itself to fit: the
	// name survives.
	got = nil
	if err := d.decode(unhexString(t, "7e 03333333 be"), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"b: 333", "b: 333"}, []string(got)); diff != "" {
		t.Errorf("self-evicting insert (-want +got):\n%s", diff)
	}
	// An entry larger than the table empties it.
	got = nil
	if err := d.decode(unhexString(t, "40 0163 0a"+strings.Repeat("78", 10)+" be"), &got); err == nil || err != errHPACKIndex {
		t.Errorf("index 62 after an oversized entry: %v (fields %q), want an invalid index", err, got)
	}
	if d.size != 0 || len(d.ents) != 0 {
		t.Errorf("table after an oversized entry: size %d, %d entries", d.size, len(d.ents))
	}
}

// hpackEncode encodes name, value pairs with x/net's encoder at the given
// table size (a size update first when it is not 4096).
func hpackEncode(t testing.TB, tableSize uint32, huff bool, kv []string) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	enc.SetMaxDynamicTableSizeLimit(tableSize)
	enc.SetMaxDynamicTableSize(tableSize)
	for i := 0; i+1 < len(kv); i += 2 {
		if err := enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1], Sensitive: !huff && i%6 == 4}); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// xnetDecode decodes blocks with x/net's decoder, the reference.
func xnetDecode(blocks [][]byte, allowed uint32) ([][]string, error) {
	var out [][]string
	var cur []string
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) { cur = append(cur, f.Name+": "+f.Value) })
	dec.SetAllowedMaxDynamicTableSize(allowed)
	dec.SetMaxStringLength(h2MaxString)
	for _, b := range blocks {
		cur = nil
		if _, err := dec.Write(b); err != nil {
			return out, err
		}
		if err := dec.Close(); err != nil {
			return out, err
		}
		out = append(out, cur)
	}
	return out, nil
}

// TestHPACKDifferential: random header lists over long connections
// (dynamic table churn, eviction, size updates, Huffman and raw strings,
// never-indexed fields), encoded by x/net, decode to what x/net decodes.
func TestHPACKDifferential(t *testing.T) {
	names := []string{":method", ":path", ":authority", "user-agent", "content-type", "x-a", "x-b", "cookie", "accept"}
	values := []string{"GET", "POST", "/", "/orders.v1.Orders/Create", "api.example", "grpc-go/1.60", "application/grpc", "", "v"}
	for seed := int64(0); seed < 50; seed++ {
		rng := rand.New(rand.NewSource(seed))
		sizes := []uint32{0, 64, 256, 4096}
		huff := rng.Intn(2) == 0
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		enc.SetMaxDynamicTableSizeLimit(4096)
		enc.SetMaxDynamicTableSize(sizes[rng.Intn(4)])
		var blocks [][]byte
		for range 40 {
			buf.Reset()
			if rng.Intn(8) == 0 {
				enc.SetMaxDynamicTableSize(sizes[rng.Intn(4)])
			}
			for range rng.Intn(10) {
				v := values[rng.Intn(len(values))]
				if rng.Intn(3) == 0 {
					v += strings.Repeat(fmt.Sprint(rng.Intn(100)), rng.Intn(40))
				}
				f := hpack.HeaderField{Name: names[rng.Intn(len(names))], Value: v, Sensitive: rng.Intn(10) == 0}
				if !huff {
					f.Value = strings.ToUpper(f.Value) + "\x7f" // rarely shorter in Huffman
				}
				if err := enc.WriteField(f); err != nil {
					t.Fatal(err)
				}
			}
			blocks = append(blocks, append([]byte(nil), buf.Bytes()...))
		}
		want, err := xnetDecode(blocks, 4096)
		if err != nil {
			t.Fatalf("seed %d: x/net: %v", seed, err)
		}
		var d hpackDecoder
		d.reset(h2MaxString)
		for i, b := range blocks {
			var got fieldList
			if err := d.decode(b, &got); err != nil {
				t.Fatalf("seed %d block %d: %v", seed, i, err)
			}
			if diff := cmp.Diff(want[i], []string(got), cmp.Comparer(func(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") })); diff != "" {
				t.Fatalf("seed %d block %d (-x/net +ours):\n%s", seed, i, diff)
			}
		}
	}
}

// TestAllocsHPACK: decoding allocates nothing once the table's slices have
// grown.
func TestAllocsHPACK(t *testing.T) {
	skipUnderRace(t)
	blocks := [][]byte{
		hpackEncode(t, 4096, true, []string{":method", "POST", ":path", "/orders.v1.Orders/Create", ":authority", "orders:50051",
			"content-type", "application/grpc", "user-agent", "grpc-go/1.60", "x-request-id", "4c8d6f0e"}),
		hpackEncode(t, 4096, false, []string{":method", "GET", ":path", "/v1/items", "x-long", strings.Repeat("z", 300)}),
	}
	var d hpackDecoder
	d.reset(h2MaxString)
	var sink h2Block
	sink.start(1, true)
	allocs := testing.AllocsPerRun(1000, func() {
		for _, b := range blocks {
			sink.start(1, true)
			if err := d.decode(b, &sink); err != nil {
				panic(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per pair of blocks", allocs)
	}
}

// FuzzHPACK decodes fuzzed header blocks (one connection, blocks split at
// 0xff 0xfe) with this decoder and with x/net's: both must accept the same
// blocks and give the same fields.
func FuzzHPACK(f *testing.F) {
	for _, s := range []string{
		"8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d fffe 8286 84be 5808 6e6f 2d63 6163 6865",
		"8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
		"3f09 40 0161 03313131 be",
		"20 40 0161 0131",
	} {
		f.Add(unhexString(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		blocks := bytes.Split(in, []byte{0xff, 0xfe})
		want, werr := xnetDecode(blocks, 4096)
		var d hpackDecoder
		d.reset(h2MaxString)
		for i, b := range blocks {
			var got fieldList
			err := d.decode(b, &got)
			if i == len(want) { // x/net failed on this block
				if err == nil {
					t.Fatalf("block %d: x/net fails (%v), ours gives %q", i, werr, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("block %d: ours fails (%v), x/net gives %q", i, err, want[i])
			}
			if strings.Join(want[i], "\n") != strings.Join(got, "\n") {
				t.Fatalf("block %d: x/net %q, ours %q", i, want[i], got)
			}
		}
	})
}
