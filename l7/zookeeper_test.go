package l7

import (
	"encoding/binary"
	"strings"
	"testing"
)

func zkPkt(body string) string {
	return string(binary.BigEndian.AppendUint32(nil, uint32(len(body)))) + body
}

func zkI32(v int32) string { return string(binary.BigEndian.AppendUint32(nil, uint32(v))) }

// Packets modelled on go-zookeeper/zk v1.0.4 and ZooKeeper 3.8
// (a real exchange is recorded in l7/testdata/captures/zookeeper.pcap).
var (
	zkConnect  = zkPkt(zkI32(0) + strings.Repeat("\x00", 8) + zkI32(30000) + strings.Repeat("\x00", 8) + zkI32(16) + strings.Repeat("\x00", 16))
	zkConnResp = zkPkt(zkI32(0) + zkI32(30000) + "\x01\x00\x00\x42\x13\x37\x00\x01" + zkI32(16) + strings.Repeat("\x5a", 16))
	zkGetData  = zkPkt(zkI32(1) + zkI32(4) + zkI32(13) + "/config/app1" + "/" + "\x01")
	zkReplyErr = zkPkt(zkI32(1) + strings.Repeat("\x00", 7) + "\x05" + zkI32(-101))
	zkCreate   = zkPkt(zkI32(2) + zkI32(1) + zkI32(5) + "/lock" + zkI32(0) + zkI32(0) + zkI32(0))
	zkClose    = zkPkt(zkI32(3) + zkI32(-11))
)

func TestZooKeeperDetect(t *testing.T) {
	tests := []struct {
		dir  Dir
		in   string
		want Match
	}{
		{FromClient, zkConnect, Matched},
		{FromClient, zkConnect[:10], NeedMore},
		{FromClient, "ruok", Matched},
		{FromClient, "stat", NoMatch},
		{FromClient, zkGetData, NoMatch},
		{FromServer, zkConnResp, Matched},
		{FromServer, zkReplyErr, NoMatch},
		{FromClient, "GET / HTTP/1.1\r\n", NoMatch},
	}
	for _, tc := range tests {
		if got := detectZooKeeper(tc.dir, []byte(tc.in)); got != tc.want {
			t.Errorf("detectZooKeeper(%v, %q) = %v, want %v", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestZooKeeperParse(t *testing.T) {
	appsRunCases(t, ZooKeeper, TCP, []appsCase{{
		name:   "session",
		chunks: []appsChunk{cli(zkConnect), srv(zkConnResp), cli(zkGetData), srv(zkReplyErr), cli(zkCreate + zkClose)},
		want: []string{
			`req zookeeper Command="CONNECT"`,
			`resp zookeeper Status=0`,
			`req zookeeper Command="GETDATA" Path="/config/app1/"`,
			`resp zookeeper Status=-101`,
			`req zookeeper Command="CREATE" Path="/lock"`,
			`req zookeeper Command="CLOSESESSION"`,
		},
		summary: `{"session_timeout_ms":30000,"requests":[{"op":"CONNECT"},{"op":"GETDATA","path":"/config/app1/"},{"op":"CREATE","path":"/lock"},{"op":"CLOSESESSION"}]}`,
	}, {
		name:    "four-letter word",
		chunks:  []appsChunk{cli("mntr")},
		want:    []string{`req zookeeper Command="MNTR"`},
		summary: `{"requests":[{"op":"MNTR"}]}`,
	}, {
		name:   "huge packet",
		chunks: []appsChunk{cli("\x7f\x00\x00\x00")},
		want:   []string{`error zookeeper: client packet length 2130706432 exceeds 16777216`},
	}})
}

func FuzzZooKeeper(f *testing.F) {
	appsFuzz(f, ZooKeeper, TCP, []appsChunk{cli(zkConnect + zkGetData + zkCreate + zkClose), srv(zkConnResp + zkReplyErr)})
}
