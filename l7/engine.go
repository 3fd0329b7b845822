package l7

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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
	// MinBuffer is the smallest reassembly buffer: a direction that must
	// keep bytes takes one of this size, and a buffer twice as large each
	// time it needs more room, up to MaxBuffer.
	MinBuffer = 512
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
	// MaxBufferTotal caps the bytes of reassembly buffers that the flows of
	// the engine hold together (Engine.Buffered). A direction that needs a
	// buffer, or a larger one, beyond it stops with NoteBufferBudget. Zero
	// means no cap: the bound is then 2 × MaxBuffer per flow fed.
	MaxBufferTotal int64
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
	c.MaxBufferTotal = max(c.MaxBufferTotal, 0)
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
	// sizes are the buffer size classes: MinBuffer, doubling, the last
	// one MaxBuffer; bufs pools the *streamBuf of each class.
	sizes []int
	bufs  []sync.Pool
	held  atomic.Int64 // bytes of the buffers flows hold
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
	for size := MinBuffer; ; size *= 2 {
		size = min(size, e.cfg.MaxBuffer)
		e.sizes = append(e.sizes, size)
		if size == e.cfg.MaxBuffer {
			break
		}
	}
	e.bufs = make([]sync.Pool, len(e.sizes))
	for i, size := range e.sizes {
		class := uint8(i)
		e.bufs[i].New = func() any { return &streamBuf{b: make([]byte, size), class: class} }
	}
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

// Buffered returns the bytes of reassembly buffers that the engine's flows
// hold now (whole buffers, whatever they contain; buffers back in the
// pools are not counted).
func (e *Engine) Buffered() int64 { return e.held.Load() }

// getBuf returns an empty buffer of the smallest class that holds size
// bytes (size ≤ MaxBuffer), or nil when taking it would exceed
// MaxBufferTotal. exchange is the size of a buffer the caller gives back
// in return (0 if none; then putBuf with held false): it counts as held
// already.
func (e *Engine) getBuf(size, exchange int) *streamBuf {
	class := 0
	for class < len(e.sizes)-1 && e.sizes[class] < size {
		class++
	}
	n := int64(e.sizes[class] - exchange)
	if held := e.held.Add(n); n > 0 && e.cfg.MaxBufferTotal > 0 && held > e.cfg.MaxBufferTotal {
		e.held.Add(-n)
		return nil
	}
	sb := e.bufs[class].Get().(*streamBuf)
	sb.n, sb.nruns = 0, 0
	return sb
}

// putBuf gives sb back to its pool. held says whether it was counted in
// Buffered (false when getBuf already accounted for the exchange).
func (e *Engine) putBuf(sb *streamBuf, held bool) {
	if held {
		e.held.Add(-int64(len(sb.b)))
	}
	e.bufs[sb.class].Put(sb)
}

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
