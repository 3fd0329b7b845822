package l7

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Kafka wire protocol. A request is int32 size, then the request header:
// int16 api_key, int16 api_version, int32 correlation_id, nullable int16
// string client_id and, in flexible versions (header v2), tagged fields;
// then the body. Responses carry only the correlation id in their header,
// so they are framed and passed over.
//
// Produce (from v3: transactional_id) and Fetch bodies are walked for their
// topics, in both the classic and the flexible encoding (compact strings
// and arrays as unsigned varints + 1, tagged fields): Produce from v9 and
// Fetch from v12. Fetch from v13 names topics by UUID only; the Topic is
// then that UUID in its canonical text form. Only the first appWindow bytes
// of a request are inspected: topics that come after a larger record set
// are not reported.
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
		New:       newKafkaParser,
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

type kafkaParser struct {
	skip [2]appSkip
	req  Request
	buf  appBuf
	recs appRecords[kafkaSummary]
	cur  *kafkaSummary
}

func newKafkaParser(cfg *ParserConfig) Parser {
	return &kafkaParser{recs: newAppRecords[kafkaSummary](appCfg(cfg))}
}

func (p *kafkaParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	return appFrames(dir, data, &p.skip[dir], p, sink)
}

func (p *kafkaParser) frameLen(dir Dir, rest []byte) (int64, error) {
	if len(rest) < 4 {
		return 0, nil
	}
	n := int64(binary.BigEndian.Uint32(rest))
	if n > kafkaMaxMessage || (dir == FromClient && n < 10) || n < 4 {
		return 0, fmt.Errorf("kafka: %v message size %d out of range", dir, n)
	}
	return 4 + n, nil
}

func (p *kafkaParser) frame(dir Dir, msg []byte, sink Sink) error {
	if dir == FromClient {
		return p.request(msg[4:], sink)
	}
	return nil
}

func (p *kafkaParser) request(b []byte, sink Sink) error {
	r := kafkaReader{b: b}
	api, ver := r.int16(), r.int16()
	r.int32() // correlation id
	clientID := r.nullableString()
	if r.bad {
		return fmt.Errorf("kafka: request header cut short")
	}
	if api < 0 || int(api) >= len(kafkaAPIs) || ver < 0 || ver > kafkaMaxVersion {
		return fmt.Errorf("kafka: unknown api key %d version %d", api, ver)
	}
	p.cur = nil
	if p.recs.on {
		p.recs.add(sink, kafkaSummary{API: kafkaAPIs[api], Version: int(ver), ClientID: string(clientID)})
		if n := len(p.recs.list); n > 0 && !p.recs.full {
			p.cur = &p.recs.list[n-1]
		}
	}
	if api != kafkaProduce && api != kafkaFetch {
		p.report(sink, api, ver, clientID, nil)
		return nil
	}
	r.flex = kafkaFlexible(api, ver)
	if r.flex {
		r.tags()
	}
	topics := 0
	each := func(topic []byte) {
		topics++
		p.report(sink, api, ver, clientID, topic)
		if p.cur != nil && len(p.cur.Topics) < kafkaMaxTopics {
			p.cur.Topics = append(p.cur.Topics, strings.Clone(p.req.Topic))
		}
	}
	if api == kafkaProduce {
		r.produceTopics(ver, &p.buf, each)
	} else {
		r.fetchTopics(ver, &p.buf, each)
	}
	if topics == 0 {
		p.report(sink, api, ver, clientID, nil)
	}
	return nil
}

func (p *kafkaParser) report(sink Sink, api, ver int16, clientID, topic []byte) {
	p.req = Request{App: Kafka, Command: kafkaAPIs[api], Version: appItoa(int(ver)),
		ClientID: appStr(clientID), Topic: appStr(topic)}
	sink.Request(&p.req)
}

// kafkaReader decodes Kafka's primitive types; bad is set (and every later
// read returns zero values) once the bytes run out or make no sense.
type kafkaReader struct {
	b    []byte
	flex bool
	bad  bool
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

func (r *kafkaReader) uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// nullableString reads a classic int16-length string (-1 for null).
func (r *kafkaReader) nullableString() []byte {
	n := r.int16()
	if n < 0 {
		return nil
	}
	return r.take(int(n))
}

// string reads a string in the reader's encoding (compact when flexible).
func (r *kafkaReader) string() []byte {
	if !r.flex {
		return r.nullableString()
	}
	n := r.uvarint()
	if n == 0 || n > uint64(len(r.b))+1 {
		if n != 0 {
			r.bad = true
		}
		return nil
	}
	return r.take(int(n - 1))
}

// bytes skips a BYTES/RECORDS field (int32 or compact length, null ok).
func (r *kafkaReader) bytes() {
	if r.flex {
		if n := r.uvarint(); n > 0 {
			r.take(int(min(n-1, uint64(len(r.b))+1)))
		}
		return
	}
	if n := r.int32(); n > 0 {
		r.take(int(n))
	}
}

// array reads an array length; -1 (null) reads as 0.
func (r *kafkaReader) array() int {
	if r.flex {
		n := r.uvarint()
		if n == 0 {
			return 0
		}
		return int(min(n-1, 1<<20))
	}
	n := r.int32()
	if n < 0 {
		return 0
	}
	return int(n)
}

// tags skips a tagged-field section (flexible versions only).
func (r *kafkaReader) tags() {
	if !r.flex {
		return
	}
	n := r.uvarint()
	for i := uint64(0); i < n && !r.bad; i++ {
		r.uvarint()
		r.take(int(min(r.uvarint(), uint64(len(r.b))+1)))
	}
}

func (r *kafkaReader) produceTopics(ver int16, buf *appBuf, each func([]byte)) {
	if ver >= 3 {
		r.string() // transactional_id
	}
	r.take(2 + 4) // acks, timeout_ms
	topics := r.array()
	for i := 0; i < topics && i < kafkaMaxTopics && !r.bad; i++ {
		var name []byte
		if ver >= 13 {
			id := r.take(16) // topic_id
			if r.bad {
				return
			}
			buf.reset()
			name = kafkaUUID(buf, id)
		} else {
			name = r.string()
		}
		if r.bad {
			return
		}
		each(name)
		parts := r.array()
		for j := 0; j < parts && !r.bad; j++ {
			r.int32()
			r.bytes()
			r.tags()
		}
		r.tags()
	}
}

func (r *kafkaReader) fetchTopics(ver int16, buf *appBuf, each func([]byte)) {
	if ver <= 14 {
		r.int32() // replica_id
	}
	r.take(4 + 4) // max_wait_ms, min_bytes
	if ver >= 3 {
		r.int32() // max_bytes
	}
	if ver >= 4 {
		r.take(1) // isolation_level
	}
	if ver >= 7 {
		r.take(4 + 4) // session_id, session_epoch
	}
	topics := r.array()
	for i := 0; i < topics && i < kafkaMaxTopics && !r.bad; i++ {
		if ver >= 13 {
			id := r.take(16)
			if r.bad {
				return
			}
			buf.reset()
			each(kafkaUUID(buf, id))
		} else {
			name := r.string()
			if r.bad {
				return
			}
			each(name)
		}
		parts := r.array()
		per := 4 + 8 + 4 // partition, fetch_offset, partition_max_bytes
		if ver >= 9 {
			per += 4 // current_leader_epoch
		}
		if ver >= 12 {
			per += 4 // last_fetched_epoch
		}
		if ver >= 5 {
			per += 8 // log_start_offset
		}
		for j := 0; j < parts && !r.bad; j++ {
			r.take(per)
			r.tags()
		}
		r.tags()
	}
}

// kafkaUUID formats a 16-byte topic id as 8-4-4-4-12 hex in buf.
func kafkaUUID(buf *appBuf, id []byte) []byte {
	const hexd = "0123456789abcdef"
	start := buf.n
	for i, c := range id {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			buf.b[buf.n] = '-'
			buf.n++
		}
		buf.b[buf.n], buf.b[buf.n+1] = hexd[c>>4], hexd[c&15]
		buf.n += 2
	}
	return buf.b[start:buf.n]
}

func (p *kafkaParser) Summary() any {
	if len(p.recs.list) == 0 {
		return nil
	}
	return p.recs.list
}
