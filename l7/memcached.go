package l7

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Memcached, text and binary protocols. Text commands are lower-case lines
// ("get k1 k2", "set k 0 0 5"); storage commands ("set", "add", "replace",
// "append", "prepend", "cas" and the meta "ms") are followed by a data
// block of the announced size and CR LF, which is skipped. Binary packets
// have a 24-byte header: magic (0x80 request, 0x81 response), opcode, key
// length, extras length, data type, vbucket/status, total body length,
// opaque and CAS. Text replies carry no status code and are not parsed.
//
// Request: Command the command in upper case ("GET", "SET"; for binary the
// opcode name: "GETK", "SETQ"…).
// Response: binary responses, Status their status field (0 = no error).

func init() {
	register(&Protocol{
		App:       Memcached,
		Transport: TCP,
		Ports:     []uint16{11211},
		Detect:    detectMemcached,
		New:       appNew[memcachedParser],
	})
}

const memcachedMaxBody = 128 << 20

// memcachedText lists the text commands; storage commands carry a data
// block whose size is the argument at index dataArg (counting the command
// as 0).
var memcachedText = []struct {
	name    string
	dataArg int
}{
	{"get", 0}, {"gets", 0}, {"gat", 0}, {"gats", 0}, {"set", 4}, {"add", 4},
	{"replace", 4}, {"append", 4}, {"prepend", 4}, {"cas", 4}, {"delete", 0},
	{"incr", 0}, {"decr", 0}, {"touch", 0}, {"stats", 0}, {"version", 0},
	{"verbosity", 0}, {"flush_all", 0}, {"quit", 0}, {"shutdown", 0},
	{"cache_memlimit", 0}, {"lru_crawler", 0}, {"slabs", 0}, {"watch", 0},
	{"mg", 0}, {"ms", 2}, {"md", 0}, {"ma", 0}, {"mn", 0}, {"me", 0},
}

// memcachedDetectVerbs are the text commands a connection may open with
// that no other protocol uses first (case matters: memcached's are lower
// case, and upper-case "GET"/"DELETE" belong to HTTP).
var memcachedDetectVerbs = []string{
	"get", "gets", "gat", "gats", "set", "add", "replace", "append", "prepend",
	"cas", "delete", "incr", "decr", "touch", "stats", "version", "verbosity",
	"flush_all", "mg", "ms", "md", "ma", "mn", "me", "lru_crawler", "slabs",
}

var memcachedOpcodes = [...]string{
	0x00: "GET", 0x01: "SET", 0x02: "ADD", 0x03: "REPLACE", 0x04: "DELETE",
	0x05: "INCREMENT", 0x06: "DECREMENT", 0x07: "QUIT", 0x08: "FLUSH",
	0x09: "GETQ", 0x0a: "NOOP", 0x0b: "VERSION", 0x0c: "GETK", 0x0d: "GETKQ",
	0x0e: "APPEND", 0x0f: "PREPEND", 0x10: "STAT", 0x11: "SETQ", 0x12: "ADDQ",
	0x13: "REPLACEQ", 0x14: "DELETEQ", 0x15: "INCREMENTQ", 0x16: "DECREMENTQ",
	0x17: "QUITQ", 0x18: "FLUSHQ", 0x19: "APPENDQ", 0x1a: "PREPENDQ",
	0x1b: "VERBOSITY", 0x1c: "TOUCH", 0x1d: "GAT", 0x1e: "GATQ",
	0x20: "SASL_LIST_MECHS", 0x21: "SASL_AUTH", 0x22: "SASL_STEP", 0x23: "GATK",
	0x24: "GATKQ",
}

func detectMemcached(dir Dir, data []byte) Match {
	if len(data) == 0 {
		return NeedMore
	}
	if data[0] == 0x80 || data[0] == 0x81 {
		if (dir == FromClient) != (data[0] == 0x80) {
			return NoMatch
		}
		return memcachedDetectBinary(data)
	}
	if dir == FromServer {
		return NoMatch
	}
	for i := 0; i < len(data) && i < 16; i++ {
		if 'A' <= data[i] && data[i] <= 'Z' {
			return NoMatch
		}
	}
	return appDetectVerb(data, memcachedDetectVerbs)
}

// memcachedDetectBinary checks a binary header: a known opcode, data type
// 0 and key plus extras within the body.
func memcachedDetectBinary(h []byte) Match {
	if len(h) >= 2 && (int(h[1]) >= len(memcachedOpcodes) || memcachedOpcodes[h[1]] == "") {
		return NoMatch
	}
	if len(h) < 24 {
		return NeedMore
	}
	key, ext, body := int(binary.BigEndian.Uint16(h[2:])), int(h[4]), int64(binary.BigEndian.Uint32(h[8:]))
	if h[5] != 0 || int64(key+ext) > body || body > memcachedMaxBody {
		return NoMatch
	}
	return Matched
}

// memcachedSummary is the "memcached" object of analyze's flow JSON.
type memcachedSummary struct {
	Protocol string   `json:"protocol"` // "text" or "binary"
	Commands []string `json:"commands,omitempty"`
}

type memcachedParser struct {
	binary  bool
	decided bool
	lines   appLineReader
	skip    [2]appSkip
	req     Request
	resp    Response
	buf     appBuf
	recs    appRecords[string]
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *memcachedParser) Reset(cfg *ParserConfig) {
	*p = memcachedParser{recs: newAppRecords[string](appCfg(cfg))}
}

func (p *memcachedParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	if len(data) == 0 {
		return 0, nil
	}
	if !p.decided {
		p.decided = true
		p.binary = data[0] == 0x80 || data[0] == 0x81
	}
	if !p.binary {
		if dir == FromServer {
			return len(data), nil
		}
		return p.text(data, sink)
	}
	return appFrames(dir, data, &p.skip[dir], p, sink)
}

func (p *memcachedParser) frameLen(dir Dir, rest []byte) (int64, error) {
	if len(rest) < 24 {
		return 0, nil
	}
	body := int64(binary.BigEndian.Uint32(rest[8:]))
	if rest[0] != 0x80 && rest[0] != 0x81 || body > memcachedMaxBody {
		return 0, fmt.Errorf("memcached: bad binary %v header (magic %#x, body %d)", dir, rest[0], body)
	}
	return 24 + body, nil
}

func (p *memcachedParser) frame(_ Dir, msg []byte, sink Sink) error {
	if msg[0] == 0x81 {
		p.resp = Response{App: Memcached, Status: int(binary.BigEndian.Uint16(msg[6:]))}
		sink.Response(&p.resp)
		return nil
	}
	op := "UNKNOWN"
	if int(msg[1]) < len(memcachedOpcodes) && memcachedOpcodes[msg[1]] != "" {
		op = memcachedOpcodes[msg[1]]
	}
	p.report(sink, op)
	return nil
}

func (p *memcachedParser) text(data []byte, sink Sink) (int, error) {
	off := 0
	for off < len(data) {
		if p.skip[FromClient] > 0 {
			off += p.skip[FromClient].take(data[off:])
			continue
		}
		line, used, ok := p.lines.next(data[off:])
		if used == 0 {
			break
		}
		off += used
		if !ok || len(line) == 0 {
			continue
		}
		word, args := appFirstWord(line)
		dataArg := -1
		for _, c := range memcachedText {
			if string(word) == c.name {
				dataArg = c.dataArg
				break
			}
		}
		if dataArg < 0 {
			return off, fmt.Errorf("memcached: unknown command %.20q", word)
		}
		p.buf.reset()
		p.report(sink, p.buf.upper(word))
		if dataArg > 0 {
			var a []byte
			for i := 0; i < dataArg; i++ {
				a, args = appFirstWord(args)
			}
			size, okN := memcachedSize(a)
			if !okN {
				return off, fmt.Errorf("memcached: bad data size %.20q in %q command", a, word)
			}
			p.skip[FromClient] = appSkip(size + 2)
		}
	}
	return off, nil
}

// memcachedSize parses a decimal data block size.
func memcachedSize(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n <= memcachedMaxBody
}

func (p *memcachedParser) report(sink Sink, cmd string) {
	p.req = Request{App: Memcached, Command: cmd}
	sink.Request(&p.req)
	if p.recs.on {
		p.recs.add(sink, strings.Clone(cmd))
	}
}

func (p *memcachedParser) Summary() any {
	if !p.recs.on || !p.decided {
		return nil
	}
	s := &memcachedSummary{Protocol: "text", Commands: p.recs.list}
	if p.binary {
		s.Protocol = "binary"
	}
	return s
}
