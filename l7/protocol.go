package l7

import (
	"errors"
	"net/netip"
	"strconv"
)

// Contract changes (newest first; parsers must follow them):
//
//   - The reassembly window: a segment far outside the window (or, without
//     a SYN, before the first segment seen) is thrown away, noted
//     (NoteOutOfWindow) and makes Flow.Stopped report its direction, which
//     the engine still parses. Callers feed each side's SYN or give its ISN
//     with Flow.SetISN. Reassembly buffers grow by size class from
//     MinBuffer (Config.MaxBufferTotal, Engine.Buffered). Parsers need not
//     change: the bytes they get are in order as before, and a parser must
//     not assume that its input sits in a buffer of MaxBuffer bytes.
//   - HTTP/2 decodes HPACK with its own allocation-free decoder (hpack.go);
//     header values reach the parser as bytes copied per block.
//   - Flow.Stopped(dir): whether the engine stopped reading a direction for
//     good (parser error, reassembly limit, ErrDone, detection gave up,
//     Release). Callers ask it instead of matching note strings: a note
//     says why, Stopped says whether. Parsers need not change: returning an
//     error or ErrDone from Parse is what stops a direction; informational
//     notes must not be followed by an error unless parsing really ends.
//   - ParserConfig.KafkaTopics: state shared by the flows of an engine (the
//     Kafka topic id → name map, kafkatopics.go). NewEngine fills it when it
//     is nil; parsers must accept nil (nothing shared). It is the only
//     shared state a parser may reach, and it is safe for concurrent use.
//   - Every parser implements Resetter (a test enforces it), usually with
//     New: appNew[T] and a Reset that assigns the whole initial state.
//     Summary must return values that alias neither the parser (return a
//     copy of a summary struct) nor the input bytes (strings.Clone):
//     Release resets the parser and the buffers are reused at once.
//     appsCheckPooled (apps_test.go) checks both for every table case.
//   - Tests: the capture makers are behind the build tag "captures"
//     (captures_make_test.go; make captures), no longer behind the
//     -make-captures flag, which is gone. The test harness has one
//     formatRequest/formatResponse (field names as in Request) and one
//     textSink for the engine's and the parsers' tests.
//   - Protocol.ServerFirst: set it for protocols whose server speaks first
//     (SMTP, FTP, POP3, IMAP, MySQL, NATS…). Detection then does not match
//     them on server bytes that answer a client who spoke first (a Redis
//     "+OK" reply is not a POP3 greeting).
//   - ErrDone: Parse may return it when it needs no more bytes in that
//     direction (TLS after the ClientHello). The engine stops feeding that
//     direction without a note and frees its buffer.
//   - Summaries: Summary may return a Summaries map to put values under
//     several JSON keys (HTTP/2 puts "http" and "grpc"); any other value goes
//     under the key named after the flow's app.
//   - Resetter: a Parser may implement Reset; the engine then pools it and
//     reuses it for another flow instead of calling New. Summary values
//     already returned must not be touched by Reset.
//   - Request.App: the engine sets it to the flow's app when a parser leaves
//     it Unknown. A parser may report a refinement (HTTP → HTTP2 after an h2c
//     upgrade, HTTP2 → GRPC): the flow's app then becomes that app.
//   - Lifetime of strings: see Sink. They may alias the packet payload, the
//     reassembly buffer (unsafe.String) or parser scratch space.
//   - Tests: golden files go through bulkhead.dev/bulkhead/internal/golden,
//     which defines the flag -update once per test binary; do not define it
//     again (the test binary would panic).
//   - Engine notes are constants in l7/notes.go ("reassembly limit reached"…).

// This file is the contract between the engine (flow tracking, reassembly,
// detection order) and the per-protocol parsers, one file per protocol.
// Parsers are pure functions of the bytes they are given: no OS calls, no
// goroutines, no global state, and bounded memory whatever the input.

// Dir is the direction of data within a flow.
type Dir uint8

const (
	// FromClient is data sent by the client (the side that opened the flow).
	FromClient Dir = 0
	// FromServer is data sent by the server.
	FromServer Dir = 1
)

func (d Dir) String() string {
	if d == FromServer {
		return "server"
	}
	return "client"
}

// Transport is the transport protocol a Protocol runs over.
type Transport uint8

const (
	TCP Transport = 6
	UDP Transport = 17
)

// String returns "tcp" or "udp" (the IP protocol number for anything else).
func (t Transport) String() string {
	switch t {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	}
	return "ipproto-" + strconv.Itoa(int(t))
}

// Match is a detector's answer about the bytes it was shown.
type Match uint8

const (
	// NoMatch: these bytes are not this protocol.
	NoMatch Match = iota
	// NeedMore: the bytes are a valid prefix of this protocol but too short
	// to tell; ask again when more have arrived.
	NeedMore
	// Matched: the bytes are this protocol.
	Matched
)

// Protocol describes one application protocol the engine can detect and
// parse. A protocol that runs over both TCP and UDP (DNS) registers one
// Protocol per transport.
type Protocol struct {
	App       App
	Transport Transport
	// ServerFirst marks a protocol whose server speaks first (a greeting or
	// banner). Its Detect is not asked about server bytes when the client
	// spoke first: such bytes answer the client, they are no greeting.
	ServerFirst bool
	// Ports are the protocol's well-known server ports. They are used only to
	// break ties between protocols whose detectors all said Matched; they
	// never identify a flow on their own.
	Ports []uint16
	// Detect inspects the first bytes seen in direction dir: for TCP a
	// prefix of that direction's stream (it is called again with a longer
	// prefix after NeedMore), for UDP one datagram. It must not retain data
	// and must not allocate.
	Detect func(dir Dir, data []byte) Match
	// New returns fresh per-flow parser state for a flow identified as this
	// protocol.
	New func(cfg *ParserConfig) Parser
}

// ParserConfig tells a parser what its caller wants kept.
type ParserConfig struct {
	// Summaries asks the parser to keep what Summary returns (analyze sets
	// it). When false (the agent), a parser keeps O(1) state per flow and
	// reports through the Sink only.
	Summaries bool
	// MaxRecords caps the list entries a Summary keeps (requests, queries,
	// commands…; zero means 256); beyond it the parser notes "records
	// truncated" once.
	MaxRecords int
	// KafkaTopics resolves the topic ids of modern Kafka requests to names
	// learnt from the Metadata responses of every Kafka flow (see
	// KafkaTopics). The engine makes one per Engine when it is nil; give
	// several engines the same one to share what their flows learn.
	KafkaTopics *KafkaTopics
}

// Parser extracts attributes from one flow of a detected protocol.
type Parser interface {
	// Parse consumes bytes sent in direction dir.
	//
	// TCP: data is that direction's in-order stream starting at the first
	// byte not yet consumed. Parse returns how many bytes it consumed (whole
	// messages); the engine keeps the rest and calls again with more bytes
	// appended. Returning 0 means "need more bytes".
	//
	// UDP: data is one whole datagram; the count returned is ignored.
	//
	// Every request completed is reported with sink.Request, every response
	// with sink.Response. A non-nil error means the bytes do not follow the
	// protocol: the engine stops parsing that direction and notes the error.
	// Parse must never panic, loop without progress or grow memory without
	// bound, whatever the bytes.
	Parse(dir Dir, data []byte, sink Sink) (consumed int, err error)
	// Summary returns what was learnt about the flow, for analyze's JSON
	// output under the key named after the app (e.g. "redis": {...}), as a
	// value encoding/json marshals. nil when nothing was learnt or when
	// ParserConfig.Summaries was false.
	Summary() any
}

// Sink receives what parsers find. The *Request and *Response, and every
// string and slice in them, are valid only during the call: parsers may
// alias their buffers (the packet payload, the engine's reassembly buffer,
// parser scratch space) with unsafe.String, and those bytes are reused or
// overwritten as soon as the call returns. A Sink that keeps anything must
// copy it (strings.Clone).
//
// The engine calls the Sink from the goroutine feeding the flow, inside
// Flow.TCP or Flow.UDP.
type Sink interface {
	Request(r *Request)
	Response(r *Response)
	// Note records a remark about the flow, e.g. "STARTTLS".
	Note(note string)
}

// ErrDone is returned by Parse when the parser needs no more bytes in that
// direction: everything it extracts has been reported. It is not an error in
// the bytes; the engine stops feeding that direction and notes nothing.
var ErrDone = errors.New("l7: parser needs no more bytes")

// Summaries is a Summary value that spreads over several JSON keys of a
// flow ("http" and "grpc" for a gRPC connection). Keys are JSON field names;
// values are what encoding/json marshals.
type Summaries map[string]any

// Resetter is implemented by parsers that can be reused for another flow
// (all of this package's). Reset returns the parser to the state New(cfg)
// would give; it must drop (not reuse) whatever a previous Summary call
// returned.
type Resetter interface {
	Reset(cfg *ParserConfig)
}

// Request holds the attributes of one application request that policies
// match on. For protocols without requests (TLS, QUIC, SSH, handshakes) it
// describes the connection set-up. Fields that do not apply are empty.
//
// Normalisation: Method and Command are upper case; Host is lower case with
// any port and trailing dot removed; Path excludes the query string and the
// fragment, has percent-encoded unreserved characters (ALPHA, DIGIT, "-",
// ".", "_", "~") decoded and dot segments ("/./", "/../") removed
// (RFC 3986 §6.2.2), so that "/api/../admin" is matched as "/admin".
type Request struct {
	App App

	// HTTP, HTTP/2 and gRPC.
	Method    string // HTTP method ("GET"); for gRPC the HTTP/2 method ("POST")
	Host      string // Host header or :authority; TLS and QUIC SNI; DNS query name
	Path      string // request path without the query string
	UserAgent string

	// gRPC, from a :path of "/package.Service/Method".
	GRPCService string // "package.Service"
	GRPCMethod  string // "Method"

	// DNS.
	QType uint16 // query type of the question whose name is in Host
	DNSID uint16

	// TLS and QUIC ClientHello.
	ALPN    []string
	Version string // TLS: highest offered version ("1.3"); QUIC: version ("1")
	JA4     string

	// Command verbs: Redis, Memcached, SMTP, IMAP, POP3, FTP, NATS, MQTT
	// ("PUBLISH", "SUBSCRIBE", "CONNECT"), Kafka API name ("PRODUCE"),
	// MongoDB command ("FIND"), Cassandra and ZooKeeper opcode names, and the
	// SQL statement kind for MySQL and PostgreSQL ("SELECT", "INSERT").
	Command string

	// Databases: MySQL, PostgreSQL, MongoDB.
	User     string
	Database string

	// Kafka and MQTT: one topic per Request (a Kafka Produce to three topics
	// is three Requests with the same Command).
	Topic    string
	ClientID string
}

// Response holds what a server answered.
type Response struct {
	App App
	// Status is the HTTP status code, the DNS rcode, or the protocol's
	// error/status code where it has one; -1 when there is none.
	Status int
	// DNS only: the message id, the question, and the answers.
	DNSID   uint16
	QName   string
	QType   uint16
	Answers []DNSAnswer
	// TLS and QUIC: the version the server chose ("1.3").
	Version string
}

// DNSAnswer is one resource record of a DNS answer section.
type DNSAnswer struct {
	Name string
	Type uint16
	TTL  uint32
	// Addr is set for A and AAAA records.
	Addr netip.Addr
	// Data is the record data in presentation format (the address for A and
	// AAAA, the target name for CNAME…).
	Data string
}
