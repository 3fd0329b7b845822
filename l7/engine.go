package l7

import (
	"fmt"
	"slices"
	"sync"
)

// Defaults of Config.
const (
	// DefaultMaxBuffer is the per-direction reassembly limit.
	DefaultMaxBuffer = 16 << 10
	// DefaultMaxDetectBytes is how much of a direction detection examines.
	DefaultMaxDetectBytes = 8 << 10
	// DefaultMaxDetectSegments is how many payload-carrying TCP segments of
	// a direction detection examines (a request line split byte by byte
	// needs one per byte).
	DefaultMaxDetectSegments = 256
	// DefaultMaxDetectDatagrams is how many UDP datagrams of a direction
	// detection examines.
	DefaultMaxDetectDatagrams = 4
)

// Config bounds the engine. The zero value means the defaults.
type Config struct {
	// MaxBuffer caps the bytes buffered per direction of a TCP flow: the
	// unconsumed part of a message plus out-of-order data.
	MaxBuffer int
	// MaxDetectBytes caps the bytes of a direction's stream that detection
	// examines before it gives up on that direction (≤ MaxBuffer).
	MaxDetectBytes int
	// MaxDetectSegments caps the payload-carrying segments of a direction
	// that detection examines.
	MaxDetectSegments int
	// MaxDetectDatagrams caps the UDP datagrams of a direction that
	// detection examines.
	MaxDetectDatagrams int
	// Parser is handed to every parser the engine creates. A nil
	// Parser.KafkaTopics gets a new KafkaTopics of DefaultKafkaTopics ids,
	// shared by the flows of the engine.
	Parser ParserConfig
}

func (c Config) withDefaults() Config {
	if c.MaxBuffer <= 0 {
		c.MaxBuffer = DefaultMaxBuffer
	}
	if c.MaxBuffer > 1<<30 {
		c.MaxBuffer = 1 << 30
	}
	if c.MaxDetectBytes <= 0 {
		c.MaxDetectBytes = DefaultMaxDetectBytes
	}
	c.MaxDetectBytes = min(c.MaxDetectBytes, c.MaxBuffer)
	if c.MaxDetectSegments <= 0 {
		c.MaxDetectSegments = DefaultMaxDetectSegments
	}
	c.MaxDetectSegments = min(c.MaxDetectSegments, 0xffff)
	if c.MaxDetectDatagrams <= 0 {
		c.MaxDetectDatagrams = DefaultMaxDetectDatagrams
	}
	c.MaxDetectDatagrams = min(c.MaxDetectDatagrams, 0xffff)
	if c.Parser.KafkaTopics == nil {
		c.Parser.KafkaTopics = NewKafkaTopics(DefaultKafkaTopics)
	}
	return c
}

// maxCandidates is the most protocols per transport (one bit each in a
// uint64 mask).
const maxCandidates = 64

// Engine holds what flows share: the configuration, the protocols per
// transport, and pools of reassembly buffers and parsers. It is safe for
// concurrent use by many goroutines, each feeding its own flows.
type Engine struct {
	cfg   Config
	cands [2][]candidate // [0] TCP, [1] UDP, in registry order
	bufs  sync.Pool      // *streamBuf
}

// candidate is a registered protocol with its pool of parsers.
type candidate struct {
	p     *Protocol
	pool  *sync.Pool // Parser values implementing Resetter
	ports []uint16   // sorted copy of p.Ports
}

// NewEngine returns an engine over every registered protocol.
func NewEngine(cfg Config) *Engine {
	e, err := NewEngineFor(cfg, Protocols())
	if err != nil {
		panic(err)
	}
	return e
}

// NewEngineFor returns an engine over the given protocols only (tests and
// tools that want a subset). It fails when a transport has more than 64.
func NewEngineFor(cfg Config, protos []*Protocol) (*Engine, error) {
	e := &Engine{cfg: cfg.withDefaults()}
	size := e.cfg.MaxBuffer
	e.bufs.New = func() any { return &streamBuf{b: make([]byte, size)} }
	for _, p := range protos {
		i := transportIndex(p.Transport)
		if i < 0 {
			return nil, fmt.Errorf("l7: new engine: protocol %v has transport %d", p.App, p.Transport)
		}
		if len(e.cands[i]) == maxCandidates {
			return nil, fmt.Errorf("l7: new engine: more than %d protocols over %v", maxCandidates, p.Transport)
		}
		ports := slices.Clone(p.Ports)
		slices.Sort(ports)
		e.cands[i] = append(e.cands[i], candidate{p: p, pool: new(sync.Pool), ports: ports})
	}
	return e, nil
}

// Config returns the configuration in effect (defaults filled in).
func (e *Engine) Config() Config { return e.cfg }

func transportIndex(t Transport) int {
	switch t {
	case TCP:
		return 0
	case UDP:
		return 1
	}
	return -1
}

func (e *Engine) getBuf() *streamBuf {
	sb := e.bufs.Get().(*streamBuf)
	sb.n, sb.nruns = 0, 0
	return sb
}

func (e *Engine) putBuf(sb *streamBuf) { e.bufs.Put(sb) }

// newParser returns a parser for candidate c, from its pool when possible.
func (e *Engine) newParser(c *candidate) Parser {
	if v := c.pool.Get(); v != nil {
		return v.(Parser)
	}
	return c.p.New(&e.cfg.Parser)
}

// freeParser resets p and pools it when it supports Reset.
func (e *Engine) freeParser(c *candidate, p Parser) {
	if r, ok := p.(Resetter); ok {
		r.Reset(&e.cfg.Parser)
		c.pool.Put(p)
	}
}

// hasPort reports whether port is one of c's well-known ports.
func (c *candidate) hasPort(port uint16) bool {
	_, ok := slices.BinarySearch(c.ports, port)
	return ok
}
