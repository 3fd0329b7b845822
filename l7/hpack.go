package l7

import (
	"errors"
	"fmt"

	"golang.org/x/net/http2/hpack"
)

// HPACK (RFC 7541), the header compression of HTTP/2, decoded without
// allocating: header fields are handed over as byte slices that alias the
// header block, the static table, the dynamic table or the decoder's
// scratch space, valid until the next field. The dynamic table keeps its
// entries back to back in one byte slice, oldest first, and drops evicted
// ones lazily; once its slices have grown to the table's size, decoding
// allocates nothing. Huffman-coded strings are expanded with
// golang.org/x/net/http2/hpack's decoder (pooled, into the decoder's
// scratch space).

// hpackSink receives the fields of a header block, in order.
type hpackSink interface {
	field(name, value []byte)
}

// hpackEntry is a dynamic table entry: its name then its value at off in
// hpackDecoder.data.
type hpackEntry struct{ off, nlen, vlen int32 }

// hpackDecoder is the decoding state of one direction of a connection.
type hpackDecoder struct {
	ents    []hpackEntry // ents[first:] are the entries, oldest first
	first   int
	data    []byte
	size    int // the table's size as RFC 7541 §4.1 counts it
	max     int // the table's maximum size, set by size updates
	allowed int // the most a size update may set (the receiver's SETTINGS)
	// maxString bounds a string literal (Huffman-decoded length too).
	maxString int
	scratch   hpackScratch // Huffman-decoded strings of the current field
	tmp       []byte       // an entry being inserted
}

// hpackScratch collects Huffman-decoded bytes (an io.Writer).
type hpackScratch struct{ b []byte }

func (w *hpackScratch) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// Decoding errors.
var (
	errHPACKTruncated  = errors.New("hpack: truncated header block")
	errHPACKIndex      = errors.New("hpack: invalid table index")
	errHPACKString     = errors.New("hpack: string too long")
	errHPACKUpdateLate = errors.New("hpack: dynamic table size update after a header field")
)

// reset empties the table and sets its size and the allowed maximum to
// the protocol's initial 4096 bytes.
func (d *hpackDecoder) reset(maxString int) {
	d.ents, d.first, d.data = d.ents[:0], 0, d.data[:0]
	d.size, d.max, d.allowed = 0, 4096, 4096
	d.maxString = maxString
}

// setAllowed sets the largest table size the peer's encoder may use (what
// this side's SETTINGS_HEADER_TABLE_SIZE announced).
func (d *hpackDecoder) setAllowed(n int) { d.allowed = n }

// decode decodes one whole header block and hands its fields to sink.
func (d *hpackDecoder) decode(b []byte, sink hpackSink) error {
	fields := false
	for len(b) > 0 {
		c := b[0]
		d.scratch.b = d.scratch.b[:0]
		var name, value []byte
		var err error
		switch {
		case c&0x80 != 0: // indexed header field
			var idx uint64
			if idx, b, err = hpackInt(b, 7); err != nil {
				return err
			}
			if name, value, err = d.at(idx); err != nil {
				return err
			}
		case c&0xc0 == 0x40: // literal with incremental indexing
			if name, value, b, err = d.literal(b, 6); err != nil {
				return err
			}
			// The sink first: adding may move the bytes name aliases.
			fields = true
			sink.field(name, value)
			d.add(name, value)
			continue
		case c&0xe0 == 0x20: // dynamic table size update
			// Only at the start of a block (RFC 7541 §4.2); like Go's
			// HTTP/2 servers, tolerated later while the table is empty.
			if fields && d.size > 0 {
				return errHPACKUpdateLate
			}
			var n uint64
			if n, b, err = hpackInt(b, 5); err != nil {
				return err
			}
			if n > uint64(d.allowed) {
				return fmt.Errorf("hpack: dynamic table size update to %d, beyond the %d allowed", n, d.allowed)
			}
			d.max = int(n)
			d.evict(0)
			continue
		default: // literal without indexing, or never indexed
			if name, value, b, err = d.literal(b, 4); err != nil {
				return err
			}
		}
		fields = true
		sink.field(name, value)
	}
	return nil
}

// literal decodes a literal header field whose name index has an n-bit
// prefix.
func (d *hpackDecoder) literal(b []byte, n uint8) (name, value, rest []byte, err error) {
	var idx uint64
	if idx, b, err = hpackInt(b, n); err != nil {
		return nil, nil, nil, err
	}
	if idx == 0 {
		if name, b, err = d.str(b); err != nil {
			return nil, nil, nil, err
		}
	} else if name, _, err = d.at(idx); err != nil {
		return nil, nil, nil, err
	}
	if value, b, err = d.str(b); err != nil {
		return nil, nil, nil, err
	}
	return name, value, b, nil
}

// str decodes a string literal (RFC 7541 §5.2).
func (d *hpackDecoder) str(b []byte) (s, rest []byte, err error) {
	if len(b) == 0 {
		return nil, nil, errHPACKTruncated
	}
	huff := b[0]&0x80 != 0
	n, b, err := hpackInt(b, 7)
	if err != nil {
		return nil, nil, err
	}
	if n > uint64(len(b)) {
		return nil, nil, errHPACKTruncated
	}
	raw, b := b[:n], b[n:]
	if !huff {
		if len(raw) > d.maxString {
			return nil, nil, errHPACKString
		}
		return raw, b, nil
	}
	start := len(d.scratch.b)
	if _, err := hpack.HuffmanDecode(&d.scratch, raw); err != nil {
		return nil, nil, fmt.Errorf("hpack: %w", err)
	}
	if len(d.scratch.b)-start > d.maxString {
		return nil, nil, errHPACKString
	}
	return d.scratch.b[start:], b, nil
}

// hpackInt decodes an integer with an n-bit prefix (RFC 7541 §5.1).
func hpackInt(b []byte, n uint8) (v uint64, rest []byte, err error) {
	if len(b) == 0 {
		return 0, nil, errHPACKTruncated
	}
	limit := uint64(1)<<n - 1
	v = uint64(b[0]) & limit
	if v < limit {
		return v, b[1:], nil
	}
	for i, shift := 1, uint(0); i < len(b); i, shift = i+1, shift+7 {
		if shift > 28 {
			return 0, nil, errors.New("hpack: integer too large")
		}
		v += uint64(b[i]&0x7f) << shift
		if b[i]&0x80 == 0 {
			return v, b[i+1:], nil
		}
	}
	return 0, nil, errHPACKTruncated
}

// at returns the entry at index idx of the static then the dynamic table.
func (d *hpackDecoder) at(idx uint64) (name, value []byte, err error) {
	switch {
	case idx == 0:
		return nil, nil, errHPACKIndex
	case idx <= uint64(len(hpackStatic)):
		e := &hpackStatic[idx-1]
		return e[0], e[1], nil
	}
	i := idx - uint64(len(hpackStatic)) // 1: the newest entry
	if i > uint64(len(d.ents)-d.first) {
		return nil, nil, errHPACKIndex
	}
	e := d.ents[len(d.ents)-int(i)]
	return d.data[e.off : e.off+e.nlen], d.data[e.off+e.nlen : e.off+e.nlen+e.vlen], nil
}

// add inserts an entry (RFC 7541 §4.4): older entries are evicted to make
// room; an entry larger than the table empties it and is not kept. name
// may alias an entry that eviction drops: it is copied first.
func (d *hpackDecoder) add(name, value []byte) {
	size := len(name) + len(value) + 32
	if size > d.max {
		d.evict(d.max + 1)
		return
	}
	d.tmp = append(append(d.tmp[:0], name...), value...)
	d.evict(size)
	d.compact()
	d.ents = append(d.ents, hpackEntry{off: int32(len(d.data)), nlen: int32(len(name)), vlen: int32(len(value))})
	d.data = append(d.data, d.tmp...)
	d.size += size
}

// evict drops the oldest entries until room more bytes fit within max.
func (d *hpackDecoder) evict(room int) {
	for d.first < len(d.ents) && d.size+room > d.max {
		e := d.ents[d.first]
		d.size -= int(e.nlen+e.vlen) + 32
		d.first++
	}
	if d.first == len(d.ents) {
		d.ents, d.first, d.data = d.ents[:0], 0, d.data[:0]
	}
}

// compact moves the live entries to the front of their slices once the
// evicted ones take as many entries or bytes as they do, so that the
// slices stay within twice the table's size.
func (d *hpackDecoder) compact() {
	if d.first == 0 {
		return
	}
	dead := d.ents[d.first].off
	if d.first < len(d.ents)-d.first && int(dead) < len(d.data)-int(dead) {
		return
	}
	n := copy(d.ents, d.ents[d.first:])
	d.ents, d.first = d.ents[:n], 0
	for i := range d.ents {
		d.ents[i].off -= dead
	}
	d.data = d.data[:copy(d.data, d.data[dead:])]
}

// hpackStatic is the static table of RFC 7541 Appendix A.
var hpackStatic = func() [][2][]byte {
	fields := [...][2]string{
		{":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"},
		{":path", "/index.html"}, {":scheme", "http"}, {":scheme", "https"}, {":status", "200"},
		{":status", "204"}, {":status", "206"}, {":status", "304"}, {":status", "400"},
		{":status", "404"}, {":status", "500"}, {"accept-charset", ""}, {"accept-encoding", "gzip, deflate"},
		{"accept-language", ""}, {"accept-ranges", ""}, {"accept", ""}, {"access-control-allow-origin", ""},
		{"age", ""}, {"allow", ""}, {"authorization", ""}, {"cache-control", ""},
		{"content-disposition", ""}, {"content-encoding", ""}, {"content-language", ""}, {"content-length", ""},
		{"content-location", ""}, {"content-range", ""}, {"content-type", ""}, {"cookie", ""},
		{"date", ""}, {"etag", ""}, {"expect", ""}, {"expires", ""},
		{"from", ""}, {"host", ""}, {"if-match", ""}, {"if-modified-since", ""},
		{"if-none-match", ""}, {"if-range", ""}, {"if-unmodified-since", ""}, {"last-modified", ""},
		{"link", ""}, {"location", ""}, {"max-forwards", ""}, {"proxy-authenticate", ""},
		{"proxy-authorization", ""}, {"range", ""}, {"referer", ""}, {"refresh", ""},
		{"retry-after", ""}, {"server", ""}, {"set-cookie", ""}, {"strict-transport-security", ""},
		{"transfer-encoding", ""}, {"user-agent", ""}, {"vary", ""}, {"via", ""},
		{"www-authenticate", ""},
	}
	t := make([][2][]byte, len(fields))
	for i, f := range fields {
		t[i] = [2][]byte{[]byte(f[0]), []byte(f[1])}
	}
	return t
}()
