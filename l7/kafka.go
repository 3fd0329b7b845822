package l7

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Kafka wire protocol. A request is int32 size, then the request header:
// int16 api_key, int16 api_version, int32 correlation_id, nullable int16
// string client_id and, in flexible versions (header v2), tagged fields;
// then the body. A response is int32 size, int32 correlation_id (plus
// tagged fields in flexible versions), then the body; responses come back
// in the order of the requests.
//
// Produce and Fetch request bodies are walked in full as they stream by
// (kafkawalk.go), in the classic and the flexible encoding, so that every
// topic is reported, whatever the size of the record sets before it.
// Produce v13 and Fetch v13 and later name topics by id only: the parser
// then reports the name the engine's KafkaTopics knows for the id, learnt
// from the responses that pair ids and names (Metadata v10–13, CreateTopics
// v7, DescribeTopicPartitions v0) on any Kafka flow of the engine, and
// otherwise the id in its canonical text form with a note. Versions newer
// than those known are not walked (noted).
//
// Request: Command the API name in upper snake case ("PRODUCE", "FETCH",
// "API_VERSIONS"), Version the API version, ClientID the client id, and for
// Produce and Fetch one Request per topic with Topic set.

func init() {
	register(&Protocol{
		App:       Kafka,
		Transport: TCP,
		Ports:     []uint16{9092},
		Detect:    detectKafka,
		New:       appNew[kafkaParser],
	})
}

const (
	kafkaMaxMessage = 100 << 20
	kafkaProduce    = 0
	kafkaFetch      = 1
	kafkaMaxTopics  = 64
)

// kafkaAPIs holds the API names by key (Kafka 4.1).
var kafkaAPIs = [...]string{
	"PRODUCE", "FETCH", "LIST_OFFSETS", "METADATA", "LEADER_AND_ISR",
	"STOP_REPLICA", "UPDATE_METADATA", "CONTROLLED_SHUTDOWN", "OFFSET_COMMIT",
	"OFFSET_FETCH", "FIND_COORDINATOR", "JOIN_GROUP", "HEARTBEAT",
	"LEAVE_GROUP", "SYNC_GROUP", "DESCRIBE_GROUPS", "LIST_GROUPS",
	"SASL_HANDSHAKE", "API_VERSIONS", "CREATE_TOPICS", "DELETE_TOPICS",
	"DELETE_RECORDS", "INIT_PRODUCER_ID", "OFFSET_FOR_LEADER_EPOCH",
	"ADD_PARTITIONS_TO_TXN", "ADD_OFFSETS_TO_TXN", "END_TXN",
	"WRITE_TXN_MARKERS", "TXN_OFFSET_COMMIT", "DESCRIBE_ACLS", "CREATE_ACLS",
	"DELETE_ACLS", "DESCRIBE_CONFIGS", "ALTER_CONFIGS",
	"ALTER_REPLICA_LOG_DIRS", "DESCRIBE_LOG_DIRS", "SASL_AUTHENTICATE",
	"CREATE_PARTITIONS", "CREATE_DELEGATION_TOKEN", "RENEW_DELEGATION_TOKEN",
	"EXPIRE_DELEGATION_TOKEN", "DESCRIBE_DELEGATION_TOKEN", "DELETE_GROUPS",
	"ELECT_LEADERS", "INCREMENTAL_ALTER_CONFIGS",
	"ALTER_PARTITION_REASSIGNMENTS", "LIST_PARTITION_REASSIGNMENTS",
	"OFFSET_DELETE", "DESCRIBE_CLIENT_QUOTAS", "ALTER_CLIENT_QUOTAS",
	"DESCRIBE_USER_SCRAM_CREDENTIALS", "ALTER_USER_SCRAM_CREDENTIALS", "VOTE",
	"BEGIN_QUORUM_EPOCH", "END_QUORUM_EPOCH", "DESCRIBE_QUORUM",
	"ALTER_PARTITION", "UPDATE_FEATURES", "ENVELOPE", "FETCH_SNAPSHOT",
	"DESCRIBE_CLUSTER", "DESCRIBE_PRODUCERS", "BROKER_REGISTRATION",
	"BROKER_HEARTBEAT", "UNREGISTER_BROKER", "DESCRIBE_TRANSACTIONS",
	"LIST_TRANSACTIONS", "ALLOCATE_PRODUCER_IDS", "CONSUMER_GROUP_HEARTBEAT",
	"CONSUMER_GROUP_DESCRIBE", "CONTROLLER_REGISTRATION",
	"GET_TELEMETRY_SUBSCRIPTIONS", "PUSH_TELEMETRY", "ASSIGN_REPLICAS_TO_DIRS",
	"LIST_CLIENT_METRICS_RESOURCES", "DESCRIBE_TOPIC_PARTITIONS",
}

// kafkaMaxVersion bounds the API versions accepted: above any version
// defined today, with room for the versions clients add before brokers
// (franz-go already sends ApiVersions v5).
const kafkaMaxVersion = 30

// kafkaFlexible reports whether a request of api at version v uses the
// flexible encoding (request header v2). Only Produce and Fetch bodies are
// walked, so only their thresholds matter beyond the header, whose
// client_id keeps the classic encoding in both header versions.
func kafkaFlexible(api, v int16) bool {
	switch api {
	case kafkaProduce:
		return v >= 9
	case kafkaFetch:
		return v >= 12
	}
	return false
}

func detectKafka(dir Dir, data []byte) Match {
	if dir != FromClient {
		return NoMatch
	}
	if len(data) < 14 {
		if len(data) >= 1 && data[0] != 0 {
			return NoMatch // sizes stay below 16 MiB in practice
		}
		return NeedMore
	}
	size := binary.BigEndian.Uint32(data)
	api := int16(binary.BigEndian.Uint16(data[4:]))
	ver := int16(binary.BigEndian.Uint16(data[6:]))
	idLen := int16(binary.BigEndian.Uint16(data[12:]))
	if size < 10 || size > kafkaMaxMessage || api < 0 || int(api) >= len(kafkaAPIs) ||
		ver < 0 || ver > kafkaMaxVersion || idLen < -1 || int64(idLen) > int64(size)-10 {
		return NoMatch
	}
	// Clients open with ApiVersions, or with Metadata, SaslHandshake or
	// FindCoordinator (clients that predate ApiVersions).
	switch api {
	case 18, 3, 17, 10:
	default:
		return NoMatch
	}
	if idLen <= 0 {
		return Matched
	}
	id := data[14:]
	if len(id) > int(idLen) {
		id = id[:idLen]
	}
	if !appIsPrintable(id) {
		return NoMatch
	}
	if len(id) < int(idLen) && len(id) < 16 {
		return NeedMore
	}
	return Matched
}

// kafkaSummary is one entry of the "kafka" list of analyze's flow JSON.
type kafkaSummary struct {
	API      string   `json:"api"`
	Version  int      `json:"version"`
	ClientID string   `json:"client_id,omitempty"`
	Topics   []string `json:"topics,omitempty"`
}

const (
	// kafkaMaxClientID is the longest client id kept (longer ones are
	// truncated, noted).
	kafkaMaxClientID = 255
	// kafkaMaxPending is how many requests whose responses are walked may
	// await their response (a full list forgets the oldest).
	kafkaMaxPending = 8
)

// Notes of the Kafka parser, each reported once per flow.
const (
	NoteKafkaTopicUnresolved = "kafka: topic id without a known name (no Metadata response seen): reported as its UUID"
	NoteKafkaTopicConflict   = "kafka: topic id announced with different names: reported as its UUID"
	NoteKafkaNewVersion      = "kafka: Produce or Fetch version newer than known: topics not inspected"
	NoteKafkaBadRequest      = "kafka: malformed request body: topics may be missing"
	NoteKafkaBadResponse     = "kafka: malformed response body"
	NoteKafkaBadTopicName    = "kafka: topic name null or longer than 249 bytes"
	NoteKafkaLongClientID    = "kafka: client id longer than 255 bytes: truncated"
)

// kafkaPending is a request whose response is walked.
type kafkaPending struct {
	corr     int32
	api, ver int16
}

type kafkaParser struct {
	w         [2]kafkaWalker
	topics    *KafkaTopics
	clientID  [kafkaMaxClientID]byte
	clientLen int
	pend      [kafkaMaxPending]kafkaPending
	npend     int
	noted     uint8 // bits: the notes above already reported
	req       Request
	uuid      [36]byte
	recs      appRecords[kafkaSummary]
	cur       int // index in recs.list of the request being walked; -1: none
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *kafkaParser) Reset(cfg *ParserConfig) {
	c := appCfg(cfg)
	*p = kafkaParser{topics: c.KafkaTopics, recs: newAppRecords[kafkaSummary](c), cur: -1}
}

func (p *kafkaParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	w := &p.w[dir]
	off := 0
	for off < len(data) {
		if w.left == 0 {
			n, err := p.begin(dir, data[off:], sink)
			if err != nil || n == 0 {
				return off, err
			}
			off += n
			if w.left == 0 {
				p.end(dir, sink)
			}
			continue
		}
		chunk := data[off:]
		if int64(len(chunk)) > w.left {
			chunk = chunk[:w.left]
		}
		n := w.walk(chunk, p, sink)
		off += n
		w.left -= int64(n)
		if w.left == 0 {
			p.end(dir, sink)
		} else if n < len(chunk) {
			break // the walk needs more bytes
		}
	}
	return off, nil
}

// begin reads the size and header of the message at the start of b and
// starts the walk of its body. It returns the bytes read, 0 when more are
// needed.
func (p *kafkaParser) begin(dir Dir, b []byte, sink Sink) (int, error) {
	if len(b) < 8 {
		return 0, nil
	}
	size := int64(binary.BigEndian.Uint32(b))
	if size > kafkaMaxMessage || (dir == FromClient && size < 10) || size < 4 {
		return 0, fmt.Errorf("kafka: %v message size %d out of range", dir, size)
	}
	if dir == FromServer {
		corr := int32(binary.BigEndian.Uint32(b[4:]))
		var prog kafkaProgram
		if api, ver, ok := p.answered(corr); ok {
			prog = kafkaResponseWalk(api, ver)
		}
		p.w[dir].start(size-4, prog, true)
		return 8, nil
	}
	return p.request(b, size, sink)
}

// request reads a request header and starts the walk of the body.
func (p *kafkaParser) request(b []byte, size int64, sink Sink) (int, error) {
	if len(b) < 14 {
		return 0, nil
	}
	msg := b[4:min(int64(len(b)), 4+size)]
	r := kafkaReader{b: msg}
	api, ver := r.int16(), r.int16()
	corr := r.int32()
	if idLen := int64(int16(binary.BigEndian.Uint16(b[12:]))); 14+idLen > appWindow {
		return 0, fmt.Errorf("kafka: request header with a client id of %d bytes", idLen)
	}
	clientID := r.nullableString()
	if api < 0 || int(api) >= len(kafkaAPIs) || ver < 0 || ver > kafkaMaxVersion {
		return 0, fmt.Errorf("kafka: unknown api key %d version %d", api, ver)
	}
	if r.bad {
		if int64(len(b)) >= 4+size {
			return 0, fmt.Errorf("kafka: request header cut short")
		}
		return 0, nil
	}
	hdr := 4 + len(msg) - len(r.b)
	p.clientLen = copy(p.clientID[:], clientID)
	if len(clientID) > kafkaMaxClientID {
		p.note(sink, 1<<6, NoteKafkaLongClientID)
	}
	p.cur = -1
	if p.recs.on {
		n := len(p.recs.list)
		p.recs.add(sink, kafkaSummary{API: kafkaAPIs[api], Version: int(ver), ClientID: string(clientID)})
		if len(p.recs.list) > n {
			p.cur = n
		}
	}
	if kafkaResponseWalk(api, ver) != nil {
		p.await(corr, api, ver)
	}
	w := &p.w[FromClient]
	prog, unknown := kafkaRequestWalk(api, ver)
	w.start(size-int64(hdr-4), prog, kafkaFlexible(api, ver))
	w.api, w.ver = api, ver
	if prog == nil {
		if unknown {
			p.note(sink, 1<<2, NoteKafkaNewVersion)
		}
		p.report(sink, api, ver, "")
	}
	return hdr, nil
}

// end finishes the message of direction dir.
func (p *kafkaParser) end(dir Dir, sink Sink) {
	w := &p.w[dir]
	if dir == FromServer {
		if w.bad {
			p.note(sink, 1<<4, NoteKafkaBadResponse)
		}
		return
	}
	if _, unknown := kafkaRequestWalk(w.api, w.ver); unknown || (w.api != kafkaProduce && w.api != kafkaFetch) {
		return // reported by request
	}
	if w.bad {
		p.note(sink, 1<<3, NoteKafkaBadRequest)
	}
	if w.topics == 0 {
		p.report(sink, w.api, w.ver, "")
	}
}

// topic implements kafkaTopicSink: a request's topic is reported, a
// response's (id, name) pair is announced to the engine's KafkaTopics.
func (p *kafkaParser) topic(w *kafkaWalker, sink Sink) {
	if w == &p.w[FromServer] {
		if w.hasID && w.nameLen > 0 {
			p.topics.Announce(w.id, w.name[:w.nameLen])
		}
		return
	}
	var topic string
	switch {
	case w.hasID:
		name, st := p.topics.Lookup(w.id)
		if st == KafkaTopicKnown {
			topic = name
			break
		}
		topic = bstr(kafkaUUID(p.uuid[:0], w.id[:]))
		if st == KafkaTopicConflict {
			p.note(sink, 1<<1, NoteKafkaTopicConflict)
		} else {
			p.note(sink, 1<<0, NoteKafkaTopicUnresolved)
		}
	case w.nameLen >= 0:
		topic = bstr(w.name[:w.nameLen])
	default:
		p.note(sink, 1<<5, NoteKafkaBadTopicName)
	}
	p.report(sink, w.api, w.ver, topic)
	if p.cur >= 0 && len(p.recs.list[p.cur].Topics) < kafkaMaxTopics {
		p.recs.list[p.cur].Topics = append(p.recs.list[p.cur].Topics, strings.Clone(topic))
	}
}

func (p *kafkaParser) report(sink Sink, api, ver int16, topic string) {
	p.req = Request{App: Kafka, Command: kafkaAPIs[api], Version: appItoa(int(ver)),
		ClientID: bstr(p.clientID[:p.clientLen]), Topic: topic}
	sink.Request(&p.req)
}

// note reports text once per flow; bit identifies it.
func (p *kafkaParser) note(sink Sink, bit uint8, text string) {
	if p.noted&bit == 0 {
		p.noted |= bit
		sink.Note(text)
	}
}

// await records a request whose response is walked; a full list forgets
// its oldest entry.
func (p *kafkaParser) await(corr int32, api, ver int16) {
	if p.npend == len(p.pend) {
		copy(p.pend[:], p.pend[1:])
		p.npend--
	}
	p.pend[p.npend] = kafkaPending{corr: corr, api: api, ver: ver}
	p.npend++
}

// answered returns the request that a response with correlation id corr
// answers, when it is one whose response is walked. Requests before it got
// no response (Kafka answers in order) and are forgotten.
func (p *kafkaParser) answered(corr int32) (api, ver int16, ok bool) {
	for i := 0; i < p.npend; i++ {
		if p.pend[i].corr == corr {
			e := p.pend[i]
			p.npend = copy(p.pend[:], p.pend[i+1:p.npend])
			return e.api, e.ver, true
		}
	}
	return 0, 0, false
}

// kafkaReader decodes the classic fields of a request header; bad is set
// (and every later read returns zero values) once the bytes run out or
// make no sense.
type kafkaReader struct {
	b   []byte
	bad bool
}

func (r *kafkaReader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *kafkaReader) int16() int16 {
	if b := r.take(2); b != nil {
		return int16(binary.BigEndian.Uint16(b))
	}
	return 0
}

func (r *kafkaReader) int32() int32 {
	if b := r.take(4); b != nil {
		return int32(binary.BigEndian.Uint32(b))
	}
	return 0
}

// nullableString reads a classic int16-length string (-1 for null).
func (r *kafkaReader) nullableString() []byte {
	n := r.int16()
	if n < 0 {
		return nil
	}
	return r.take(int(n))
}

// kafkaUUID appends a 16-byte topic id to dst as 8-4-4-4-12 hex.
func kafkaUUID(dst, id []byte) []byte {
	const hexd = "0123456789abcdef"
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexd[c>>4], hexd[c&15])
	}
	return dst
}

func (p *kafkaParser) Summary() any {
	if len(p.recs.list) == 0 {
		return nil
	}
	return p.recs.list
}
