package l7

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaReq frames a request: header v1 (classic client id) plus body.
func kafkaReq(api, ver int16, corr int32, clientID, body string) string {
	h := make([]byte, 14)
	binary.BigEndian.PutUint32(h, uint32(10+len(clientID)+len(body)))
	binary.BigEndian.PutUint16(h[4:], uint16(api))
	binary.BigEndian.PutUint16(h[6:], uint16(ver))
	binary.BigEndian.PutUint32(h[8:], uint32(corr))
	binary.BigEndian.PutUint16(h[12:], uint16(len(clientID)))
	return string(h) + clientID + body
}

func kafkaI16(v int16) string   { return string(binary.BigEndian.AppendUint16(nil, uint16(v))) }
func kafkaI32(v int32) string   { return string(binary.BigEndian.AppendUint32(nil, uint32(v))) }
func kafkaI64(v int64) string   { return string(binary.BigEndian.AppendUint64(nil, uint64(v))) }
func kafkaStr(s string) string  { return kafkaI16(int16(len(s))) + s }
func kafkaCStr(s string) string { return string(binary.AppendUvarint(nil, uint64(len(s)+1))) + s }
func kafkaCArr(n int) string    { return string(binary.AppendUvarint(nil, uint64(n+1))) }

// Requests modelled on franz-go v1.22 talking to kfake
// (a real exchange is recorded in l7/testdata/captures/kafka.pcap).
var (
	kafkaAPIVersions = kafkaReq(18, 4, 0, "kgo", "\x00"+kafkaCStr("kgo")+kafkaCStr("1.20.0")+"\x00")
	// Produce v9 (flexible): header tags, transactional_id null, acks -1,
	// timeout, 2 topics with one partition each.
	kafkaProduce9 = kafkaReq(0, 9, 2, "kgo", "\x00"+"\x00"+kafkaI16(-1)+kafkaI32(10000)+kafkaCArr(2)+
		kafkaCStr("orders")+kafkaCArr(1)+kafkaI32(0)+kafkaCStr(strings.Repeat("r", 70))+"\x00"+"\x00"+
		kafkaCStr("audit")+kafkaCArr(1)+kafkaI32(0)+"\x00"+"\x00"+"\x00")
	// Produce v7 (classic).
	kafkaProduce7 = kafkaReq(0, 7, 3, "app", kafkaI16(-1)+kafkaI16(1)+kafkaI32(1500)+kafkaI32(1)+
		kafkaStr("orders")+kafkaI32(1)+kafkaI32(0)+kafkaI32(4)+"RECS")
	// Fetch v11 (classic): replica -1, waits, isolation, session, 1 topic.
	kafkaFetch11 = kafkaReq(1, 11, 4, "app", kafkaI32(-1)+kafkaI32(500)+kafkaI32(1)+kafkaI32(1<<20)+"\x00"+kafkaI32(0)+kafkaI32(-1)+
		kafkaI32(1)+kafkaStr("orders")+kafkaI32(1)+kafkaI32(0)+kafkaI32(-1)+kafkaI64(0)+kafkaI64(-1)+kafkaI32(1<<20)+
		kafkaI32(0)+kafkaStr(""))
	// Fetch v16 (flexible, topic ids).
	kafkaFetch16 = kafkaReq(1, 16, 5, "kgo", "\x00"+kafkaI32(500)+kafkaI32(1)+kafkaI32(1<<20)+"\x00"+kafkaI32(0)+kafkaI32(-1)+
		kafkaCArr(1)+"\x0f\x1e\x2d\x3c\x4b\x5a\x69\x78\x87\x96\xa5\xb4\xc3\xd2\xe1\xf0"+kafkaCArr(1)+kafkaI32(0)+kafkaI32(-1)+
		kafkaI64(0)+kafkaI32(-1)+kafkaI64(-1)+kafkaI32(1<<20)+"\x00"+"\x00"+kafkaCArr(0)+kafkaCStr("")+"\x00")
	kafkaResponse = kafkaI32(8) + kafkaI32(0) + kafkaI32(0)
)

func TestKafkaDetect(t *testing.T) {
	tests := []struct {
		in   string
		want Match
	}{
		{kafkaAPIVersions, Matched},
		{kafkaProduce9, NoMatch}, // connections open with ApiVersions or Metadata
		{kafkaReq(3, 12, 1, "sarama", ""), Matched},
		{kafkaAPIVersions[:8], NeedMore},
		{kafkaReq(99, 0, 0, "x", ""), NoMatch},
		{kafkaReq(18, 31, 0, "x", ""), NoMatch},
		{kafkaReq(18, 3, 0, "\x01\x02", ""), NoMatch},
		{"GET / HTTP/1.1\r\n", NoMatch},
	}
	for _, tc := range tests {
		if got := detectKafka(FromClient, []byte(tc.in)); got != tc.want {
			t.Errorf("detectKafka(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := detectKafka(FromServer, []byte(kafkaResponse)); got != NoMatch {
		t.Errorf("detectKafka(server) = %v, want NoMatch", got)
	}
}

// Conversations built with franz-go's kmsg, the encoder of a real client
// library (franz-go v1.22 and kfake speak these versions).

// Topic ids of the kmsg conversations.
var (
	kafkaIDOrders = [16]byte{0x16, 0xb0, 0xa1, 0x0b, 0xbd, 0x1a, 0xf0, 0xb8, 0xe0, 0x17, 0x8a, 0xa3, 0x52, 0x81, 0x34, 0x06}
	kafkaIDAudit  = [16]byte{0xd1, 0xa8, 0x99, 0x1c, 0x9a, 0x08, 0xac, 0x5d, 0x9b, 0x9d, 0x12, 0x0c, 0xb3, 0x70, 0xe8, 0x20}
)

const kafkaUUIDOrders = "16b0a10b-bd1a-f0b8-e017-8aa352813406"

// kafkaKReq frames a request built with kmsg the way franz-go sends it
// (client id "billing").
func kafkaKReq(r kmsg.Request, ver int16, corr int32) string {
	r.SetVersion(ver)
	return string(kmsg.NewRequestFormatter(kmsg.FormatterClientID("billing")).AppendRequest(nil, r, corr))
}

// kafkaKResp frames a response built with kmsg: size, correlation id, the
// header's tagged fields when flexible (except ApiVersions), body.
func kafkaKResp(r kmsg.Response, ver int16, corr int32) string {
	r.SetVersion(ver)
	b := binary.BigEndian.AppendUint32(make([]byte, 4), uint32(corr))
	if r.IsFlexible() && r.Key() != 18 {
		b = append(b, 0)
	}
	b = r.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return string(b)
}

// kafkaNamed is a topic and its id.
type kafkaNamed struct {
	name string
	id   [16]byte
}

func kafkaMetadataReq(ver int16, corr int32, names ...string) string {
	r := kmsg.NewPtrMetadataRequest()
	for _, n := range names {
		t := kmsg.NewMetadataRequestTopic()
		t.Topic = kmsg.StringPtr(n)
		r.Topics = append(r.Topics, t)
	}
	return kafkaKReq(r, ver, corr)
}

// kafkaMetadataResp is a Metadata response with three brokers and three
// partitions per topic.
func kafkaMetadataResp(ver int16, corr int32, topics ...kafkaNamed) string {
	r := kmsg.NewPtrMetadataResponse()
	for n := int32(1); n <= 3; n++ {
		r.Brokers = append(r.Brokers, kmsg.MetadataResponseBroker{NodeID: n, Host: "kafka-" + appItoa(int(n)) + ".shop.test", Port: 9092,
			Rack: kmsg.StringPtr("rack-a")})
	}
	r.ClusterID = kmsg.StringPtr("kfake-cluster")
	for _, tp := range topics {
		t := kmsg.NewMetadataResponseTopic()
		t.Topic = kmsg.StringPtr(tp.name)
		t.TopicID = tp.id
		for p := int32(0); p < 3; p++ {
			pt := kmsg.NewMetadataResponseTopicPartition()
			pt.Partition, pt.Leader, pt.Replicas, pt.ISR = p, 1+p, []int32{1, 2, 3}, []int32{1, 2}
			t.Partitions = append(t.Partitions, pt)
		}
		r.Topics = append(r.Topics, t)
	}
	return kafkaKResp(r, ver, corr)
}

// kafkaProduceReq produces records bytes to each topic (by name before v13,
// by id from v13).
func kafkaProduceReq(ver int16, corr int32, records int, topics ...kafkaNamed) string {
	r := kmsg.NewPtrProduceRequest()
	r.Acks, r.TimeoutMillis = -1, 10000
	for _, tp := range topics {
		t := kmsg.NewProduceRequestTopic()
		t.Topic, t.TopicID = tp.name, tp.id
		p := kmsg.NewProduceRequestTopicPartition()
		p.Records = []byte(strings.Repeat("r", records))
		t.Partitions = append(t.Partitions, p)
		r.Topics = append(r.Topics, t)
	}
	return kafkaKReq(r, ver, corr)
}

// kafkaFetchReq fetches two partitions of each topic; the partitions carry
// tagged fields (high watermark).
func kafkaFetchReq(ver int16, corr int32, topics ...kafkaNamed) string {
	r := kmsg.NewPtrFetchRequest()
	for _, tp := range topics {
		t := kmsg.NewFetchRequestTopic()
		t.Topic, t.TopicID = tp.name, tp.id
		for i := int32(0); i < 2; i++ {
			p := kmsg.NewFetchRequestTopicPartition()
			p.Partition, p.HighWatermark = i, 42
			t.Partitions = append(t.Partitions, p)
		}
		r.Topics = append(r.Topics, t)
	}
	return kafkaKReq(r, ver, corr)
}

func kafkaCreateTopicsReq(corr int32, names ...string) string {
	r := kmsg.NewPtrCreateTopicsRequest()
	for _, n := range names {
		t := kmsg.NewCreateTopicsRequestTopic()
		t.Topic, t.NumPartitions, t.ReplicationFactor = n, 3, 1
		r.Topics = append(r.Topics, t)
	}
	return kafkaKReq(r, 7, corr)
}

// kafkaCreateTopicsResp answers CreateTopics v7 with each topic's id and
// configs (and a tagged config error code).
func kafkaCreateTopicsResp(corr int32, topics ...kafkaNamed) string {
	r := kmsg.NewPtrCreateTopicsResponse()
	for _, tp := range topics {
		t := kmsg.NewCreateTopicsResponseTopic()
		t.Topic, t.TopicID, t.NumPartitions, t.ReplicationFactor, t.ConfigErrorCode = tp.name, tp.id, 3, 1, 1
		for _, kv := range [][2]string{{"cleanup.policy", "delete"}, {"retention.ms", "604800000"}} {
			c := kmsg.NewCreateTopicsResponseTopicConfig()
			c.Name, c.Value = kv[0], kmsg.StringPtr(kv[1])
			t.Configs = append(t.Configs, c)
		}
		r.Topics = append(r.Topics, t)
	}
	return kafkaKResp(r, 7, corr)
}

func kafkaDescribeTPReq(corr int32, names ...string) string {
	r := kmsg.NewPtrDescribeTopicPartitionsRequest()
	for _, n := range names {
		t := kmsg.NewDescribeTopicPartitionsRequestTopic()
		t.Topic = n
		r.Topics = append(r.Topics, t)
	}
	return kafkaKReq(r, 0, corr)
}

func kafkaDescribeTPResp(corr int32, topics ...kafkaNamed) string {
	r := kmsg.NewPtrDescribeTopicPartitionsResponse()
	for _, tp := range topics {
		t := kmsg.NewDescribeTopicPartitionsResponseTopic()
		t.Topic, t.TopicID = kmsg.StringPtr(tp.name), tp.id
		p := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
		p.Replicas, p.ISR, p.EligibleLeaderReplicas = []int32{1, 2}, []int32{1}, []int32{2}
		t.Partitions = append(t.Partitions, p)
		r.Topics = append(r.Topics, t)
	}
	return kafkaKResp(r, 0, corr)
}

var (
	kafkaOrders  = kafkaNamed{"orders", kafkaIDOrders}
	kafkaAudit   = kafkaNamed{"audit", kafkaIDAudit}
	kafkaAPIVer4 = kafkaKReq(kmsg.NewPtrApiVersionsRequest(), 4, 0)
	// kafkaAck is a response passed over (no request awaits it).
	kafkaAck = kafkaI32(8) + kafkaI32(99) + kafkaI32(0)
)

func TestKafkaParse(t *testing.T) {
	const (
		apiVersions = `req kafka Command="API_VERSIONS" Version="4" ClientID="billing"`
		metadata12  = `req kafka Command="METADATA" Version="12" ClientID="billing"`
	)
	// A Metadata response cut short inside its last partition (the size
	// says where it ends).
	cutMeta := []byte(kafkaMetadataResp(12, 1, kafkaOrders))
	cutMeta = cutMeta[:len(cutMeta)-12]
	binary.BigEndian.PutUint32(cutMeta, uint32(len(cutMeta)-4))
	// A flexible request whose header carries a 20 KB tagged field: more
	// than the engine buffers, so the parser must stream it.
	bigTag := []byte(kafkaProduceReq(9, 1, 10, kafkaOrders))
	hdr := 14 + len("billing")
	tag := append(binary.AppendUvarint([]byte{1, 7}, 20000), strings.Repeat("t", 20000)...)
	bigTag = append(bigTag[:hdr:hdr], append(tag, bigTag[hdr+1:]...)...)
	binary.BigEndian.PutUint32(bigTag, uint32(len(bigTag)-4))
	appsRunCases(t, Kafka, TCP, []appsCase{{
		name: "franz-go: metadata, then produce and fetch by topic id",
		chunks: []appsChunk{cli(kafkaAPIVer4), srv(kafkaAck), cli(kafkaMetadataReq(12, 1, "orders", "audit")),
			srv(kafkaMetadataResp(12, 1, kafkaOrders, kafkaAudit)), cli(kafkaProduceReq(13, 2, 100, kafkaOrders, kafkaAudit)), srv(kafkaAck),
			cli(kafkaFetchReq(16, 3, kafkaOrders))},
		want: []string{
			apiVersions, metadata12,
			`req kafka Command="PRODUCE" Version="13" Topic="orders" ClientID="billing"`,
			`req kafka Command="PRODUCE" Version="13" Topic="audit" ClientID="billing"`,
			`req kafka Command="FETCH" Version="16" Topic="orders" ClientID="billing"`,
		},
		summary: `[{"api":"API_VERSIONS","version":4,"client_id":"billing"},{"api":"METADATA","version":12,"client_id":"billing"},
			{"api":"PRODUCE","version":13,"client_id":"billing","topics":["orders","audit"]},
			{"api":"FETCH","version":16,"client_id":"billing","topics":["orders"]}]`,
	}, {
		name:   "topic id never announced",
		chunks: []appsChunk{cli(kafkaAPIVer4), cli(kafkaProduceReq(13, 1, 10, kafkaOrders))},
		want: []string{apiVersions, "note " + NoteKafkaTopicUnresolved,
			`req kafka Command="PRODUCE" Version="13" Topic="` + kafkaUUIDOrders + `" ClientID="billing"`},
		summary: `[{"api":"API_VERSIONS","version":4,"client_id":"billing"},
			{"api":"PRODUCE","version":13,"client_id":"billing","topics":["` + kafkaUUIDOrders + `"]}]`,
	}, {
		name: "topic id announced with two names",
		chunks: []appsChunk{cli(kafkaMetadataReq(12, 1, "orders")), srv(kafkaMetadataResp(12, 1, kafkaOrders)),
			cli(kafkaMetadataReq(12, 2, "payments")), srv(kafkaMetadataResp(12, 2, kafkaNamed{"payments", kafkaIDOrders})),
			cli(kafkaFetchReq(13, 3, kafkaOrders))},
		want: []string{metadata12, metadata12, "note " + NoteKafkaTopicConflict,
			`req kafka Command="FETCH" Version="13" Topic="` + kafkaUUIDOrders + `" ClientID="billing"`},
		summary: `[{"api":"METADATA","version":12,"client_id":"billing"},{"api":"METADATA","version":12,"client_id":"billing"},
			{"api":"FETCH","version":13,"client_id":"billing","topics":["` + kafkaUUIDOrders + `"]}]`,
	}, {
		// The old parser looked at the first 8 KiB of a request only.
		name:   "topics after large record sets",
		chunks: []appsChunk{cli(kafkaProduceReq(9, 1, 20000, kafkaOrders, kafkaAudit)), cli(kafkaProduceReq(7, 2, 20000, kafkaAudit, kafkaOrders))},
		want: []string{
			`req kafka Command="PRODUCE" Version="9" Topic="orders" ClientID="billing"`,
			`req kafka Command="PRODUCE" Version="9" Topic="audit" ClientID="billing"`,
			`req kafka Command="PRODUCE" Version="7" Topic="audit" ClientID="billing"`,
			`req kafka Command="PRODUCE" Version="7" Topic="orders" ClientID="billing"`,
		},
		summary: `[{"api":"PRODUCE","version":9,"client_id":"billing","topics":["orders","audit"]},
			{"api":"PRODUCE","version":7,"client_id":"billing","topics":["audit","orders"]}]`,
	}, {
		name: "create topics and describe topic partitions announce ids",
		chunks: []appsChunk{cli(kafkaCreateTopicsReq(1, "orders")), srv(kafkaCreateTopicsResp(1, kafkaOrders)),
			cli(kafkaDescribeTPReq(2, "audit")), srv(kafkaDescribeTPResp(2, kafkaAudit)), cli(kafkaFetchReq(18, 3, kafkaOrders, kafkaAudit))},
		want: []string{
			`req kafka Command="CREATE_TOPICS" Version="7" ClientID="billing"`,
			`req kafka Command="DESCRIBE_TOPIC_PARTITIONS" Version="0" ClientID="billing"`,
			`req kafka Command="FETCH" Version="18" Topic="orders" ClientID="billing"`,
			`req kafka Command="FETCH" Version="18" Topic="audit" ClientID="billing"`,
		},
		summary: `[{"api":"CREATE_TOPICS","version":7,"client_id":"billing"},{"api":"DESCRIBE_TOPIC_PARTITIONS","version":0,"client_id":"billing"},
			{"api":"FETCH","version":18,"client_id":"billing","topics":["orders","audit"]}]`,
	}, {
		name: "metadata v9 has no ids; unrequested responses are passed over",
		chunks: []appsChunk{cli(kafkaMetadataReq(9, 1, "orders")), srv(kafkaMetadataResp(9, 1, kafkaOrders)),
			srv(kafkaMetadataResp(12, 7, kafkaOrders)), cli(kafkaFetchReq(13, 2, kafkaOrders))},
		want: []string{`req kafka Command="METADATA" Version="9" ClientID="billing"`, "note " + NoteKafkaTopicUnresolved,
			`req kafka Command="FETCH" Version="13" Topic="` + kafkaUUIDOrders + `" ClientID="billing"`},
		summary: `[{"api":"METADATA","version":9,"client_id":"billing"},{"api":"FETCH","version":13,"client_id":"billing","topics":["` + kafkaUUIDOrders + `"]}]`,
	}, {
		name: "metadata response cut short",
		chunks: []appsChunk{cli(kafkaMetadataReq(12, 1, "orders")), srv(string(cutMeta)), srv(kafkaAck),
			cli(kafkaProduceReq(13, 2, 10, kafkaOrders))},
		want: []string{metadata12, "note " + NoteKafkaBadResponse,
			`req kafka Command="PRODUCE" Version="13" Topic="orders" ClientID="billing"`},
		summary: `[{"api":"METADATA","version":12,"client_id":"billing"},{"api":"PRODUCE","version":13,"client_id":"billing","topics":["orders"]}]`,
	}, {
		name:   "hand-made franz-go requests",
		chunks: []appsChunk{cli(kafkaAPIVersions), srv(kafkaResponse), cli(kafkaProduce9), srv(kafkaResponse), cli(kafkaFetch16), srv(kafkaResponse)},
		want: []string{
			`req kafka Command="API_VERSIONS" Version="4" ClientID="kgo"`,
			`req kafka Command="PRODUCE" Version="9" Topic="orders" ClientID="kgo"`,
			`req kafka Command="PRODUCE" Version="9" Topic="audit" ClientID="kgo"`,
			"note " + NoteKafkaTopicUnresolved,
			`req kafka Command="FETCH" Version="16" Topic="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0" ClientID="kgo"`,
		},
		summary: `[{"api":"API_VERSIONS","version":4,"client_id":"kgo"},{"api":"PRODUCE","version":9,"client_id":"kgo","topics":["orders","audit"]},
			{"api":"FETCH","version":16,"client_id":"kgo","topics":["0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"]}]`,
	}, {
		name:   "classic versions",
		chunks: []appsChunk{cli(kafkaProduce7 + kafkaFetch11)},
		want: []string{
			`req kafka Command="PRODUCE" Version="7" Topic="orders" ClientID="app"`,
			`req kafka Command="FETCH" Version="11" Topic="orders" ClientID="app"`,
		},
		summary: `[{"api":"PRODUCE","version":7,"client_id":"app","topics":["orders"]},{"api":"FETCH","version":11,"client_id":"app","topics":["orders"]}]`,
	}, {
		name:    "body cut short reports the api without topic",
		chunks:  []appsChunk{cli(kafkaReq(0, 7, 1, "", kafkaI16(-1)))},
		want:    []string{"note " + NoteKafkaBadRequest, `req kafka Command="PRODUCE" Version="7"`},
		summary: `[{"api":"PRODUCE","version":7}]`,
	}, {
		name:    "large tagged field in a request header",
		chunks:  []appsChunk{cli(string(bigTag)), cli(kafkaFetchReq(12, 2, kafkaAudit))},
		want:    []string{`req kafka Command="PRODUCE" Version="9" Topic="orders" ClientID="billing"`, `req kafka Command="FETCH" Version="12" Topic="audit" ClientID="billing"`},
		summary: `[{"api":"PRODUCE","version":9,"client_id":"billing","topics":["orders"]},{"api":"FETCH","version":12,"client_id":"billing","topics":["audit"]}]`,
	}, {
		name:    "version newer than known",
		chunks:  []appsChunk{cli(kafkaReq(0, 14, 1, "app", "\x00\x00\x00"))},
		want:    []string{"note " + NoteKafkaNewVersion, `req kafka Command="PRODUCE" Version="14" ClientID="app"`},
		summary: `[{"api":"PRODUCE","version":14,"client_id":"app"}]`,
	}, {
		name:   "unknown api",
		chunks: []appsChunk{cli(kafkaReq(200, 0, 0, "", ""))},
		want:   []string{`error kafka: unknown api key 200 version 0`},
	}})
}

// TestKafkaTopicsAcrossFlows: a Metadata response on one connection names
// the topic ids of a Produce on another connection of the same engine (or
// of engines that share a KafkaTopics), not of another engine.
func TestKafkaTopicsAcrossFlows(t *testing.T) {
	metadata := []seg{cseg(kafkaAPIVer4), sseg(kafkaAck), cseg(kafkaMetadataReq(12, 1, "orders", "audit")),
		sseg(kafkaMetadataResp(12, 1, kafkaOrders, kafkaAudit))}
	produce := []seg{cseg(kafkaAPIVer4), sseg(kafkaAck), cseg(kafkaProduceReq(13, 1, 3000, kafkaAudit, kafkaOrders))}
	resolved := []string{
		`req kafka Command="API_VERSIONS" Version="4" ClientID="billing"`,
		`req kafka Command="PRODUCE" Version="13" Topic="audit" ClientID="billing"`,
		`req kafka Command="PRODUCE" Version="13" Topic="orders" ClientID="billing"`,
	}
	one := NewEngine(Config{})
	other := NewEngine(Config{})
	sharing := NewEngine(Config{Parser: ParserConfig{KafkaTopics: one.Config().Parser.KafkaTopics}})
	runTCP(t, one, 9092, false, metadata...)
	if n := one.Config().Parser.KafkaTopics.Len(); n != 2 {
		t.Fatalf("the engine learnt %d topic ids, want 2", n)
	}
	for _, tc := range []struct {
		name string
		e    *Engine
		want []string
	}{
		{"same engine", one, resolved},
		{"engine sharing the KafkaTopics", sharing, resolved},
		{"other engine", other, []string{
			`req kafka Command="API_VERSIONS" Version="4" ClientID="billing"`,
			"note " + NoteKafkaTopicUnresolved,
			`req kafka Command="PRODUCE" Version="13" Topic="d1a8991c-9a08-ac5d-9b9d-120cb370e820" ClientID="billing"`,
			`req kafka Command="PRODUCE" Version="13" Topic="` + kafkaUUIDOrders + `" ClientID="billing"`,
		}},
	} {
		got, _ := runTCP(t, tc.e, 9092, false, produce...)
		var reqs []string
		for _, l := range got {
			if !strings.HasPrefix(l, "resp ") {
				reqs = append(reqs, l)
			}
		}
		if diff := cmp.Diff(tc.want, reqs); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

// TestKafkaPrograms checks the walk programs: arrays balanced and shallow,
// every array element reads at least one byte (no loop without progress),
// and the layouts of a few versions spelt out.
func TestKafkaPrograms(t *testing.T) {
	all := map[string]kafkaProgram{}
	for v, p := range kafkaProduceWalks {
		all["produce v"+appItoa(v)] = p
	}
	for v, p := range kafkaFetchWalks {
		all["fetch v"+appItoa(v)] = p
	}
	for v := 10; v <= kafkaMetadataMax; v++ {
		all["metadata v"+appItoa(v)] = kafkaMetadataWalks[v]
	}
	all["create topics v7"] = kafkaCreateTopicsWalks[7]
	all["describe topic partitions v0"] = kafkaDescribeTPWalks[0]
	for name, p := range all {
		depth := 0
		for i, st := range p {
			switch st.op {
			case kArray:
				depth++
				if depth > kafkaMaxDepth {
					t.Errorf("%s: arrays nested deeper than %d", name, kafkaMaxDepth)
				}
				end := int(st.arg)
				if end <= i || end >= len(p) || p[end].op != kEnd {
					t.Errorf("%s: array at %d ends at %d, not at a kEnd", name, i, end)
					continue
				}
				if p[i+1].op == kEnd || p[i+1].op == kTags || p[i+1].op == kTopic {
					t.Errorf("%s: array at %d: its elements may read nothing", name, i)
				}
			case kEnd:
				depth--
			}
		}
		if depth != 0 {
			t.Errorf("%s: unbalanced arrays", name)
		}
	}
	for name, want := range map[string]string{
		"produce v13":  "tags string fixed2 fixed4 array id topic array fixed4 bytes tags end tags end",
		"fetch v4":     "tags fixed4 fixed4 fixed4 fixed4 fixed1 array name topic array fixed4 fixed8 fixed4 tags end tags end",
		"fetch v18":    "tags fixed4 fixed4 fixed4 fixed1 fixed8 array id topic array fixed4 fixed4 fixed8 fixed4 fixed8 fixed4 tags end tags end",
		"metadata v12": "tags fixed4 array fixed4 string fixed4 string tags end string fixed4 array fixed2 name id topic fixed1 array fixed2 fixed4 fixed4 fixed4 int32s int32s int32s tags end fixed4 tags end",
	} {
		if got := all[name].String(); got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

func FuzzKafka(f *testing.F) {
	appsFuzz(f, Kafka, TCP, []appsChunk{cli(kafkaAPIVersions + kafkaProduce9 + kafkaFetch16 + kafkaProduce7 + kafkaFetch11), srv(kafkaResponse)},
		[]appsChunk{cli(kafkaMetadataReq(12, 1, "orders") + kafkaProduceReq(13, 2, 40, kafkaOrders, kafkaAudit)),
			srv(kafkaMetadataResp(12, 1, kafkaOrders, kafkaAudit) + kafkaAck)},
		[]appsChunk{cli(kafkaCreateTopicsReq(1, "orders") + kafkaDescribeTPReq(2, "audit") + kafkaFetchReq(18, 3, kafkaOrders)),
			srv(kafkaCreateTopicsResp(1, kafkaOrders) + kafkaDescribeTPResp(2, kafkaAudit))})
}
