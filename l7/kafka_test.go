package l7

import (
	"encoding/binary"
	"strings"
	"testing"
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

func TestKafkaParse(t *testing.T) {
	appsRunCases(t, Kafka, TCP, []appsCase{{
		name: "franz-go",
		chunks: []appsChunk{cli(kafkaAPIVersions), srv(kafkaResponse), cli(kafkaProduce9), srv(kafkaResponse),
			cli(kafkaFetch16), srv(kafkaResponse)},
		want: []string{
			`req kafka Command="API_VERSIONS" Version="4" ClientID="kgo"`,
			`req kafka Command="PRODUCE" Version="9" Topic="orders" ClientID="kgo"`,
			`req kafka Command="PRODUCE" Version="9" Topic="audit" ClientID="kgo"`,
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
		want:    []string{`req kafka Command="PRODUCE" Version="7"`},
		summary: `[{"api":"PRODUCE","version":7}]`,
	}, {
		name:   "unknown api",
		chunks: []appsChunk{cli(kafkaReq(200, 0, 0, "", ""))},
		want:   []string{`error kafka: unknown api key 200 version 0`},
	}})
}

func FuzzKafka(f *testing.F) {
	appsFuzz(f, Kafka, TCP, []appsChunk{cli(kafkaAPIVersions + kafkaProduce9 + kafkaFetch16 + kafkaProduce7 + kafkaFetch11), srv(kafkaResponse)})
}
