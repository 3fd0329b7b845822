package l7

import (
	"encoding/binary"
	"testing"
)

// cqlFrame frames a v3+ frame (version byte includes the direction bit).
func cqlFrame(version byte, stream int16, op byte, body string) string {
	h := []byte{version, 0}
	h = binary.BigEndian.AppendUint16(h, uint16(stream))
	h = append(h, op)
	h = binary.BigEndian.AppendUint32(h, uint32(len(body)))
	return string(h) + body
}

// Frames modelled on gocql v1.7 (a real exchange is recorded in l7/testdata/captures/cassandra.pcap).
var (
	cqlOptions   = cqlFrame(0x04, 0, 0x05, "")
	cqlSupported = cqlFrame(0x84, 0, 0x06, "\x00\x01\x00\x0bCQL_VERSION\x00\x01\x00\x053.4.5")
	cqlStartup   = cqlFrame(0x04, 1, 0x01, "\x00\x01\x00\x0bCQL_VERSION\x00\x053.0.0")
	cqlReady     = cqlFrame(0x84, 1, 0x02, "")
	cqlQuery     = cqlFrame(0x04, 2, 0x07, "\x00\x00\x00\x1fSELECT * FROM shop.items LIMIT 1"[:4+31]+"\x00\x01\x00")
	cqlError     = cqlFrame(0x84, 2, 0x00, "\x00\x00\x22\x00\x00\x0bno keyspace")
)

func TestCassandraDetect(t *testing.T) {
	tests := []struct {
		dir  Dir
		in   string
		want Match
	}{
		{FromClient, cqlOptions, Matched},
		{FromClient, cqlStartup, Matched},
		{FromClient, cqlOptions[:5], NeedMore},
		{FromClient, cqlQuery, NoMatch}, // connections open with OPTIONS or STARTUP
		{FromClient, cqlFrame(0x04, 0, 0x06, ""), NoMatch},
		{FromServer, cqlSupported, Matched},
		{FromServer, cqlOptions, NoMatch},
		{FromClient, "GET / HTTP/1.1\r\n", NoMatch},
	}
	for _, tc := range tests {
		if got := detectCassandra(tc.dir, []byte(tc.in)); got != tc.want {
			t.Errorf("detectCassandra(%v, %q) = %v, want %v", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestCassandraParse(t *testing.T) {
	appsRunCases(t, Cassandra, TCP, []appsCase{{
		name:   "gocql",
		chunks: []appsChunk{cli(cqlOptions), srv(cqlSupported), cli(cqlStartup), srv(cqlReady), cli(cqlQuery), srv(cqlError)},
		want: []string{
			`req cassandra Command="OPTIONS" Version="4"`,
			`resp cassandra Status=0 Version="4"`,
			`req cassandra Command="STARTUP" Version="4"`,
			`resp cassandra Status=0 Version="4"`,
			`req cassandra Command="QUERY" Version="4"`,
			`resp cassandra Status=8704 Version="4"`,
		},
		summary: `{"version":4,"requests":[{"opcode":"OPTIONS"},{"opcode":"STARTUP"},{"opcode":"QUERY","statement":"SELECT"}]}`,
	}, {
		name:    "v5 framing",
		chunks:  []appsChunk{cli(cqlFrame(0x05, 0, 0x01, "")), srv(cqlFrame(0x85, 0, 0x02, "")), cli("\x01\x02\x03\x04\x05\x06")},
		want:    []string{`req cassandra Command="STARTUP" Version="5"`, `resp cassandra Status=0 Version="5"`, `note CQL v5 framing`},
		summary: `{"version":5,"requests":[{"opcode":"STARTUP"}]}`,
	}, {
		name:   "bad version",
		chunks: []appsChunk{cli("\x09\x00\x00\x00\x05\x00\x00\x00\x00")},
		want:   []string{`error cassandra: client frame with version byte 0x9`},
	}})
}

func FuzzCassandra(f *testing.F) {
	appsFuzz(f, Cassandra, TCP, []appsChunk{cli(cqlOptions + cqlStartup + cqlQuery), srv(cqlSupported + cqlReady + cqlError)})
}
