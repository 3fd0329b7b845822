package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// Reading pcap and pcapng files with gopacket's pure-Go pcapgo, hardened
// for hostile input: packets larger than maxSnap are refused instead of
// allocated, and pcapng block structure is checked before pcapgo sees it
// (ngGuard).

// maxSnap is the largest packet accepted (libpcap's MAXIMUM_SNAPLEN).
const maxSnap = 262144

// ErrNotCapture is returned (wrapped) for input that is neither pcap nor
// pcapng.
var ErrNotCapture = errors.New("not a pcap or pcapng capture")

// source yields packets with their link type.
type source interface {
	next() (data []byte, ts time.Time, link uint32, err error)
}

// openSource sniffs the format of r and returns a packet source.
func openSource(r io.Reader) (source, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: empty or shorter than a header", ErrNotCapture)
		}
		return nil, err
	}
	switch m := binary.LittleEndian.Uint32(magic); m {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		// pcapgo keeps link types in a byte (LINKTYPE_LINUX_SLL2 is 276):
		// read the header's ourselves.
		hdr, err := br.Peek(24)
		if err != nil {
			return nil, fmt.Errorf("%w: short pcap header", ErrNotCapture)
		}
		var order binary.ByteOrder = binary.LittleEndian
		if m == 0xd4c3b2a1 || m == 0x4d3cb2a1 {
			order = binary.BigEndian
		}
		link := order.Uint32(hdr[20:]) & 0xffff // upper bits: FCS information
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: bad pcap header: %v", ErrNotCapture, err)
		}
		pr.SetSnaplen(maxSnap)
		return &pcapSource{r: pr, link: link}, nil
	case 0x0a0d0d0a:
		guard := &ngGuard{r: br}
		nr, err := pcapgo.NewNgReader(bufio.NewReaderSize(guard, 64<<10), pcapgo.NgReaderOptions{
			WantMixedLinkType:  true,
			SkipUnknownVersion: true,
		})
		if err != nil {
			if guard.err != nil {
				return nil, fmt.Errorf("%w: %v", ErrNotCapture, guard.err)
			}
			return nil, fmt.Errorf("%w: bad pcapng header: %v", ErrNotCapture, err)
		}
		return &ngSource{r: nr, guard: guard}, nil
	case 0x08088b1f, 0x00088b1f:
		return nil, fmt.Errorf("%w: gzip-compressed (decompress it first)", ErrNotCapture)
	default:
		return nil, fmt.Errorf("%w: starts with bytes %x", ErrNotCapture, magic)
	}
}

type pcapSource struct {
	r    *pcapgo.Reader
	link uint32
}

func (s *pcapSource) next() ([]byte, time.Time, uint32, error) {
	data, ci, err := s.r.ZeroCopyReadPacketData()
	return data, ci.Timestamp, s.link, err
}

type ngSource struct {
	r     *pcapgo.NgReader
	guard *ngGuard
}

func (s *ngSource) next() ([]byte, time.Time, uint32, error) {
	data, ci, err := s.r.ZeroCopyReadPacketData()
	if err != nil {
		if s.guard.err != nil {
			err = s.guard.err
		}
		return nil, time.Time{}, 0, err
	}
	link := uint32(LinkEthernet)
	if len(ci.AncillaryData) > 0 {
		if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
			link = uint32(lt)
		}
	}
	// pcapgo keeps only the low byte of the link type: take the whole one
	// from the interface descriptions the guard saw.
	if i := ci.InterfaceIndex; i >= 0 && i < len(s.guard.links) && uint32(uint8(s.guard.links[i])) == link {
		link = uint32(s.guard.links[i])
	}
	return data, ci.Timestamp, link, nil
}

// ngGuard sits between the file and pcapgo's pcapng reader and checks each
// block's framing as the bytes pass: a block length that is not a multiple
// of 4, shorter than its type's fixed part, or longer than maxNgBlock, and a
// packet whose captured length exceeds its block, end the stream with an
// error instead of reaching pcapgo (which would allocate or underflow).
type ngGuard struct {
	r       io.Reader
	err     error
	hdr     [28]byte // the start of the current block
	nhdr    int
	left    uint64 // bytes of the current block not yet passed
	big     bool   // byte order of the current section
	started bool
	links   []uint16 // link types of the current section's interfaces
}

const maxNgBlock = maxSnap + 4096

var errNgBlock = errors.New("malformed pcapng block")

// Read passes on the bytes before the first malformed block; the error
// comes with the next Read.
func (g *ngGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if ok, verr := g.check(p[:n]); verr != nil {
		g.err = verr
		if ok == 0 {
			return 0, verr
		}
		return ok, nil
	}
	return n, err
}

// check follows block boundaries through b. On error, ok is the length of
// b before the block that is malformed.
func (g *ngGuard) check(b []byte) (ok int, err error) {
	total := len(b)
	blockStart := 0
	defer func() {
		if err != nil {
			ok = blockStart
		}
	}()
	for len(b) > 0 {
		if g.left == 0 && g.nhdr == 0 {
			blockStart = total - len(b)
		}
		if g.left == 0 {
			// A new block: its first 12 bytes give its type and length.
			c := copy(g.hdr[g.nhdr:12], b)
			g.nhdr += c
			b = b[c:]
			if g.nhdr < 12 {
				return total, nil
			}
			if err := g.header(); err != nil {
				return 0, err
			}
			if g.left == 0 {
				g.nhdr = 0
			}
			continue
		}
		k := min(uint64(len(b)), g.left)
		if g.nhdr < len(g.hdr) {
			before := g.nhdr
			g.nhdr += copy(g.hdr[g.nhdr:], b[:k])
			if err := g.head(before); err != nil {
				return 0, err
			}
		}
		g.left -= k
		b = b[k:]
		if g.left == 0 {
			g.nhdr = 0
		}
	}
	return total, nil
}

// header checks the first 12 bytes of a block.
func (g *ngGuard) header() error {
	if binary.LittleEndian.Uint32(g.hdr[:]) == 0x0a0d0d0a {
		switch binary.LittleEndian.Uint32(g.hdr[8:]) {
		case 0x1a2b3c4d:
			g.big = false
		case 0x4d3c2b1a:
			g.big = true
		default:
			return fmt.Errorf("%w: bad byte-order magic", errNgBlock)
		}
		g.started = true
		g.links = g.links[:0]
	} else if !g.started {
		return fmt.Errorf("%w: no section header", errNgBlock)
	}
	typ, length := g.u32(0), uint64(g.u32(4))
	if length%4 != 0 || length < minNgBlock(typ) || length > maxNgBlock {
		return fmt.Errorf("%w: type %#x with length %d", errNgBlock, typ, length)
	}
	if typ == 3 && g.u32(8) > maxSnap { // simple packet: original length
		return fmt.Errorf("%w: simple packet of %d bytes", errNgBlock, g.u32(8))
	}
	g.left = length - 12
	return g.head(0)
}

func (g *ngGuard) u32(off int) uint32 {
	if g.big {
		return binary.BigEndian.Uint32(g.hdr[off:])
	}
	return binary.LittleEndian.Uint32(g.hdr[off:])
}

// head looks at a block's first bytes as they arrive (before of them had
// been seen): a packet block's captured length must fit its block, and an
// interface description's link type is recorded.
func (g *ngGuard) head(before int) error {
	switch typ := g.u32(0); typ {
	case 6, 2: // enhanced packet, (obsolete) packet: captured length at 20
		if before < 24 && g.nhdr >= 24 {
			if caplen, length := g.u32(20), g.u32(4); caplen > length-32 {
				return fmt.Errorf("%w: captured length %d beyond its block", errNgBlock, caplen)
			}
		}
	case 1: // interface description: link type at 8
		if before < 10 && g.nhdr >= 10 && len(g.links) < 1<<16 {
			lt := binary.LittleEndian.Uint16(g.hdr[8:])
			if g.big {
				lt = binary.BigEndian.Uint16(g.hdr[8:])
			}
			g.links = append(g.links, lt)
		}
	}
	return nil
}

// minNgBlock is the smallest valid total length of a block type.
func minNgBlock(typ uint32) uint64 {
	switch typ {
	case 0x0a0d0d0a: // section header
		return 28
	case 1: // interface description
		return 20
	case 6, 2: // enhanced packet, packet
		return 32
	case 3: // simple packet
		return 16
	case 5: // interface statistics
		return 24
	}
	return 12
}
