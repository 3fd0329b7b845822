package l7

import (
	"encoding/binary"
	"fmt"
)

// This file holds the streaming walk of Kafka message bodies. The layout of
// each message the parser looks into (Produce and Fetch requests; Metadata,
// CreateTopics and DescribeTopicPartitions responses) is described per
// version as plain data, a kafkaProgram of steps built once at start-up
// from the message schemas (clients/src/main/resources/common/message in
// Apache Kafka). The walker runs a program over the bytes of a message as
// they arrive: every step reads one small item (a fixed-size field, a
// length, a topic name of at most 249 bytes) and record sets, strings and
// arrays of integers are passed over without being buffered. A message of
// any size is thus walked in full with a few hundred bytes of state, and a
// topic that follows a large record set is still seen.

// kafkaOp is what a step of a program reads.
type kafkaOp uint8

const (
	kFixed    kafkaOp = iota // a fixed-size field of arg bytes: skipped
	kString                  // STRING or NULLABLE_STRING (compact when flexible): skipped
	kBytes                   // BYTES or RECORDS (nullable; compact when flexible): skipped
	kI32Array                // an array of INT32 (nullable): skipped
	kArray                   // an array of structures: count, then the steps up to its kEnd per element
	kEnd                     // end of an array element: next element, or leave the array
	kTags                    // a tagged-field section (flexible versions only): skipped
	kName                    // the topic name (NULLABLE_STRING): kept
	kID                      // the topic id (UUID): kept
	kTopic                   // the topic's name and id are read: report or learn them
)

// kafkaStep is one step of a program. arg is the size of a kFixed field and
// the index of the kEnd of a kArray.
type kafkaStep struct {
	op  kafkaOp
	arg uint8
}

// kafkaProgram is the walk of one message kind at one version.
type kafkaProgram []kafkaStep

// kafkaMaxDepth bounds the nesting of arrays in a program.
const kafkaMaxDepth = 4

// kafkaBuilder builds a program; open holds the indexes of unclosed kArray
// steps.
type kafkaBuilder struct {
	p    kafkaProgram
	open []int
}

func (b *kafkaBuilder) add(op kafkaOp, arg uint8) *kafkaBuilder {
	b.p = append(b.p, kafkaStep{op: op, arg: arg})
	return b
}

func (b *kafkaBuilder) fixed(n uint8) *kafkaBuilder { return b.add(kFixed, n) }
func (b *kafkaBuilder) str() *kafkaBuilder          { return b.add(kString, 0) }
func (b *kafkaBuilder) bytes() *kafkaBuilder        { return b.add(kBytes, 0) }
func (b *kafkaBuilder) i32s() *kafkaBuilder         { return b.add(kI32Array, 0) }
func (b *kafkaBuilder) tags() *kafkaBuilder         { return b.add(kTags, 0) }

// when adds the fixed field of n bytes only when cond holds (a field that
// exists in some versions).
func (b *kafkaBuilder) when(cond bool, n uint8) *kafkaBuilder {
	if cond {
		b.fixed(n)
	}
	return b
}

func (b *kafkaBuilder) array() *kafkaBuilder {
	b.open = append(b.open, len(b.p))
	return b.add(kArray, 0)
}

func (b *kafkaBuilder) end() *kafkaBuilder {
	start := b.open[len(b.open)-1]
	b.open = b.open[:len(b.open)-1]
	b.p[start].arg = uint8(len(b.p))
	return b.add(kEnd, 0)
}

// topic adds the reading of a topic's name and/or id and the report.
func (b *kafkaBuilder) topic(name, id bool) *kafkaBuilder {
	if name {
		b.add(kName, 0)
	}
	if id {
		b.add(kID, 0)
	}
	return b.add(kTopic, 0)
}

// program returns the finished program; it panics on a mistake in the
// builders below (a test builds every program).
func (b *kafkaBuilder) program() kafkaProgram {
	if len(b.open) != 0 || len(b.p) > 255 {
		panic("l7: kafka: malformed walk program")
	}
	return b.p
}

// Versions walked, the latest each message has in Kafka 4.1. Later
// versions of unknown layout are not walked (noted).
const (
	kafkaProduceMax      = 13
	kafkaFetchMax        = 18
	kafkaMetadataMax     = 13
	kafkaCreateTopicsMax = 7
	kafkaDescribeTPMax   = 0
)

// API keys of the messages walked besides Produce and Fetch.
const (
	kafkaMetadata     = 3
	kafkaCreateTopics = 19
	kafkaDescribeTP   = 75
)

// kafkaProduceProgram: ProduceRequest v0–13, after the request header's
// client id.
func kafkaProduceProgram(v int16) kafkaProgram {
	var b kafkaBuilder
	b.tags() // request header (flexible versions)
	if v >= 3 {
		b.str() // transactional_id
	}
	b.fixed(2).fixed(4) // acks, timeout_ms
	b.array().topic(v < 13, v >= 13)
	b.array().fixed(4).bytes().tags().end() // partitions: index, records
	b.tags().end()
	return b.program()
}

// kafkaFetchProgram: FetchRequest v0–18, after the request header's client
// id.
func kafkaFetchProgram(v int16) kafkaProgram {
	var b kafkaBuilder
	b.tags()            // request header (flexible versions)
	b.when(v <= 14, 4)  // replica_id
	b.fixed(4).fixed(4) // max_wait_ms, min_bytes
	b.when(v >= 3, 4)   // max_bytes
	b.when(v >= 4, 1)   // isolation_level
	b.when(v >= 7, 8)   // session_id, session_epoch
	b.array().topic(v < 13, v >= 13)
	b.array().fixed(4).when(v >= 9, 4).fixed(8).when(v >= 12, 4).when(v >= 5, 8).fixed(4).tags().end()
	b.tags().end()
	return b.program()
}

// kafkaMetadataProgram: MetadataResponse v10–13 (the versions with topic
// ids), after the correlation id.
func kafkaMetadataProgram(v int16) kafkaProgram {
	var b kafkaBuilder
	b.tags()                                             // response header (flexible)
	b.fixed(4)                                           // throttle_time_ms
	b.array().fixed(4).str().fixed(4).str().tags().end() // brokers: node_id, host, port, rack
	b.str().fixed(4)                                     // cluster_id, controller_id
	b.array().fixed(2).topic(true, true).fixed(1)        // topics: error_code, name, topic_id, is_internal
	b.array().fixed(2).fixed(4).fixed(4).fixed(4).i32s().i32s().i32s().tags().end()
	b.fixed(4).tags().end() // topic_authorized_operations
	return b.program()
}

// kafkaCreateTopicsProgram: CreateTopicsResponse v7, after the correlation
// id.
func kafkaCreateTopicsProgram() kafkaProgram {
	var b kafkaBuilder
	b.tags().fixed(4)                                             // response header, throttle_time_ms
	b.array().topic(true, true).fixed(2).str()                    // topics: name, topic_id, error_code, error_message
	b.fixed(4).fixed(2)                                           // num_partitions, replication_factor
	b.array().str().str().fixed(1).fixed(1).fixed(1).tags().end() // configs
	b.tags().end()
	return b.program()
}

// kafkaDescribeTPProgram: DescribeTopicPartitionsResponse v0, after the
// correlation id.
func kafkaDescribeTPProgram() kafkaProgram {
	var b kafkaBuilder
	b.tags().fixed(4)                             // response header, throttle_time_ms
	b.array().fixed(2).topic(true, true).fixed(1) // topics: error_code, name, topic_id, is_internal
	b.array().fixed(2).fixed(4).fixed(4).fixed(4).i32s().i32s().i32s().i32s().i32s().tags().end()
	b.fixed(4).tags().end() // topic_authorized_operations
	return b.program()
}

// kafkaRequestWalks and kafkaResponseWalks are the programs by API key and
// version (nil: not walked).
var (
	kafkaProduceWalks      [kafkaProduceMax + 1]kafkaProgram
	kafkaFetchWalks        [kafkaFetchMax + 1]kafkaProgram
	kafkaMetadataWalks     [kafkaMetadataMax + 1]kafkaProgram
	kafkaCreateTopicsWalks [kafkaCreateTopicsMax + 1]kafkaProgram
	kafkaDescribeTPWalks   [kafkaDescribeTPMax + 1]kafkaProgram
)

func init() {
	for v := range kafkaProduceWalks {
		kafkaProduceWalks[v] = kafkaProduceProgram(int16(v))
	}
	for v := range kafkaFetchWalks {
		kafkaFetchWalks[v] = kafkaFetchProgram(int16(v))
	}
	for v := 10; v <= kafkaMetadataMax; v++ {
		kafkaMetadataWalks[v] = kafkaMetadataProgram(int16(v))
	}
	kafkaCreateTopicsWalks[7] = kafkaCreateTopicsProgram()
	kafkaDescribeTPWalks[0] = kafkaDescribeTPProgram()
}

// kafkaRequestWalk returns the program of a request body, nil when the
// request is not walked, and whether its version is beyond those known.
func kafkaRequestWalk(api, ver int16) (prog kafkaProgram, unknown bool) {
	switch api {
	case kafkaProduce:
		if int(ver) >= len(kafkaProduceWalks) {
			return nil, true
		}
		return kafkaProduceWalks[ver], false
	case kafkaFetch:
		if int(ver) >= len(kafkaFetchWalks) {
			return nil, true
		}
		return kafkaFetchWalks[ver], false
	}
	return nil, false
}

// kafkaResponseWalk returns the program of the response to a request, nil
// when it is not walked (it pairs no topic ids with names).
func kafkaResponseWalk(api, ver int16) kafkaProgram {
	var walks []kafkaProgram
	switch api {
	case kafkaMetadata:
		walks = kafkaMetadataWalks[:]
	case kafkaCreateTopics:
		walks = kafkaCreateTopicsWalks[:]
	case kafkaDescribeTP:
		walks = kafkaDescribeTPWalks[:]
	default:
		return nil
	}
	if ver < 0 || int(ver) >= len(walks) {
		return nil
	}
	return walks[ver]
}

// kafkaWalker is the walk of the current message of one direction.
type kafkaWalker struct {
	// left is the bytes of the message not yet consumed; 0 between
	// messages.
	left int64
	// skip is the bytes to pass over before the next step (within left).
	skip int64
	prog kafkaProgram // nil: the rest of the message is passed over
	pc   int
	flex bool
	// tags is the tagged fields left in the section being read; -1 before
	// its count.
	tags  int64
	sp    int
	stack [kafkaMaxDepth]kafkaLoop
	// The message: request API key and version, and whether it was cut
	// short (malformed).
	api, ver int16
	topics   int // topics reported or learnt
	bad      bool
	// The current topic.
	name    [kafkaMaxTopicName]byte
	nameLen int // -1: longer than kafkaMaxTopicName, or null
	id      [16]byte
	hasID   bool
}

// kafkaLoop is an array being walked: the index of its first body step and
// the elements left.
type kafkaLoop struct {
	body int
	n    int64
}

// start begins the walk of a message body of size bytes with prog.
func (w *kafkaWalker) start(size int64, prog kafkaProgram, flex bool) {
	w.left, w.skip, w.prog, w.pc, w.flex = size, 0, prog, 0, flex
	w.tags, w.sp, w.topics, w.bad = -1, 0, 0, false
	w.nameLen, w.hasID = 0, false
}

// kafkaTopicSink receives the topics a walk finds.
type kafkaTopicSink interface {
	topic(w *kafkaWalker, sink Sink)
}

// walk runs the program over data, the next bytes of the message (at most
// w.left), and returns how many it consumed: fewer than len(data) only
// when the step at hand needs more bytes than data holds. At the end of
// the program the rest of the message is passed over; bytes that break the
// layout set w.bad and pass over the rest too.
func (w *kafkaWalker) walk(data []byte, ts kafkaTopicSink, sink Sink) int {
	final := int64(len(data)) == w.left // data ends where the message ends
	off := 0
	for {
		if w.skip > 0 {
			n := min(w.skip, int64(len(data)-off))
			off += int(n)
			w.skip -= n
			if w.skip > 0 {
				return off
			}
		}
		if w.pc >= len(w.prog) {
			w.skip = w.left - int64(off)
			w.prog = nil
			if w.skip == 0 {
				return off
			}
			continue
		}
		st := w.prog[w.pc]
		rest := data[off:]
		n, next := 0, w.pc+1
		switch st.op {
		case kFixed:
			if len(rest) >= int(st.arg) {
				n = int(st.arg)
			}
		case kString, kBytes:
			var l int64
			if l, n = w.length(rest, st.op == kBytes); n > 0 {
				w.skip = l
			}
		case kI32Array:
			var c int64
			if c, n = w.count(rest); n > 0 {
				w.skip = 4 * c
			}
		case kArray:
			var c int64
			if c, n = w.count(rest); n > 0 {
				if c == 0 {
					next = int(st.arg) + 1
				} else if w.sp == len(w.stack) {
					n = -1
				} else {
					w.stack[w.sp] = kafkaLoop{body: w.pc + 1, n: c}
					w.sp++
				}
			}
		case kEnd:
			top := &w.stack[w.sp-1]
			if top.n--; top.n > 0 {
				next = top.body
			} else {
				w.sp--
			}
			w.pc = next
			continue
		case kTags:
			if !w.flex {
				w.pc = next // no section in the classic encoding
				continue
			}
			n, next = w.tagged(rest)
		case kName:
			n = w.readName(rest)
		case kID:
			if len(rest) >= 16 {
				n = copy(w.id[:], rest)
				w.hasID = true
			}
		case kTopic:
			ts.topic(w, sink)
			w.topics++
			w.nameLen, w.hasID = 0, false
			w.pc = next
			continue
		}
		if n == 0 && final {
			n = -1 // the message ends inside the item
		}
		if n < 0 {
			w.bad = true
			w.pc = len(w.prog)
			continue
		}
		if n == 0 {
			return off
		}
		off += n
		w.pc = next
		if w.skip > w.left-int64(off) {
			w.bad = true // a length beyond the message
			w.skip = 0
			w.pc = len(w.prog)
		}
	}
}

// length reads a string or bytes length: int16 (strings) or int32 (bytes)
// in the classic encoding, an unsigned varint N+1 in the compact one; null
// (-1, or 0 compact) is 0. n is the bytes read: 0 when more are needed,
// -1 when the length is invalid.
func (w *kafkaWalker) length(b []byte, isBytes bool) (l int64, n int) {
	if w.flex {
		v, n := kafkaUvarint(b)
		if n <= 0 || v == 0 {
			return 0, n
		}
		return int64(v - 1), n
	}
	if isBytes {
		if len(b) < 4 {
			return 0, 0
		}
		l = int64(int32(binary.BigEndian.Uint32(b)))
		n = 4
	} else {
		if len(b) < 2 {
			return 0, 0
		}
		l = int64(int16(binary.BigEndian.Uint16(b)))
		n = 2
	}
	if l < -1 {
		return 0, -1
	}
	return max(l, 0), n
}

// count reads an array length (null is 0).
func (w *kafkaWalker) count(b []byte) (int64, int) {
	if w.flex {
		v, n := kafkaUvarint(b)
		if n <= 0 || v == 0 {
			return 0, n
		}
		return int64(v - 1), n
	}
	if len(b) < 4 {
		return 0, 0
	}
	c := int64(int32(binary.BigEndian.Uint32(b)))
	if c < -1 {
		return 0, -1
	}
	return max(c, 0), 4
}

// tagged reads the next item of a tagged-field section: its count, or one
// field's tag and size (its data is then skipped). next is the step after
// it once the section is done.
func (w *kafkaWalker) tagged(b []byte) (n, next int) {
	if w.tags < 0 {
		c, n := kafkaUvarint(b)
		if n <= 0 {
			return n, w.pc
		}
		if c == 0 {
			w.tags = -1
			return n, w.pc + 1
		}
		w.tags = int64(c)
		return n, w.pc
	}
	_, n1 := kafkaUvarint(b)
	if n1 <= 0 {
		return n1, w.pc
	}
	size, n2 := kafkaUvarint(b[n1:])
	if n2 <= 0 {
		return n2, w.pc
	}
	w.skip = int64(size)
	if w.tags--; w.tags == 0 {
		w.tags = -1
		return n1 + n2, w.pc + 1
	}
	return n1 + n2, w.pc
}

// readName reads a topic name into w.name: nameLen -1 when it is null or
// longer than a legal name (it is then passed over).
func (w *kafkaWalker) readName(b []byte) int {
	l, n := w.length(b, false)
	if n <= 0 {
		return n
	}
	if l == 0 && w.nullString(b) {
		w.nameLen = -1
		return n
	}
	if l > kafkaMaxTopicName {
		w.nameLen = -1
		w.skip = l
		return n
	}
	if int64(len(b)-n) < l {
		return 0
	}
	w.nameLen = copy(w.name[:], b[n:n+int(l)])
	return n + int(l)
}

// nullString reports whether the string length at b encodes null.
func (w *kafkaWalker) nullString(b []byte) bool {
	if w.flex {
		return b[0] == 0
	}
	return b[0] == 0xff && b[1] == 0xff
}

// kafkaUvarint reads an unsigned varint of at most 5 bytes (Kafka's
// 32-bit varints): n is 0 when more bytes are needed, -1 when it is
// invalid.
func kafkaUvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < 5; i++ {
		if i == len(b) {
			return 0, 0
		}
		c := b[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

// String describes the program, for tests and debugging.
func (p kafkaProgram) String() string {
	names := [...]string{"fixed", "string", "bytes", "int32s", "array", "end", "tags", "name", "id", "topic"}
	s := ""
	for i, st := range p {
		if i > 0 {
			s += " "
		}
		switch st.op {
		case kFixed:
			s += fmt.Sprintf("fixed%d", st.arg)
		default:
			s += names[st.op]
		}
	}
	return s
}
