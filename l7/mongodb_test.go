package l7

import (
	"encoding/binary"
	"testing"
)

// bsonDocOf builds a BSON document from raw elements.
func bsonDocOf(elems ...string) string {
	body := ""
	for _, e := range elems {
		body += e
	}
	var h [4]byte
	binary.LittleEndian.PutUint32(h[:], uint32(4+len(body)+1))
	return string(h[:]) + body + "\x00"
}

func bsonStr(name, v string) string {
	var h [4]byte
	binary.LittleEndian.PutUint32(h[:], uint32(len(v)+1))
	return "\x02" + name + "\x00" + string(h[:]) + v + "\x00"
}

func bsonInt(name string, v int32) string {
	var h [4]byte
	binary.LittleEndian.PutUint32(h[:], uint32(v))
	return "\x10" + name + "\x00" + string(h[:])
}

func bsonDouble(name string, v uint64) string {
	var h [8]byte
	binary.LittleEndian.PutUint64(h[:], v)
	return "\x01" + name + "\x00" + string(h[:])
}

// mongoMsg frames an OP_MSG or OP_QUERY/OP_REPLY body.
func mongoMsg(reqID, respTo, op uint32, body string) string {
	var h [16]byte
	binary.LittleEndian.PutUint32(h[:], uint32(16+len(body)))
	binary.LittleEndian.PutUint32(h[4:], reqID)
	binary.LittleEndian.PutUint32(h[8:], respTo)
	binary.LittleEndian.PutUint32(h[12:], op)
	return string(h[:]) + body
}

// Messages modelled on the MongoDB Go driver v2.9
// (a real exchange is recorded in l7/testdata/captures/mongodb.pcap).
var (
	mongoHelloQuery = mongoMsg(1, 0, 2004, "\x00\x00\x00\x00admin.$cmd\x00\x00\x00\x00\x00\xff\xff\xff\xff"+
		bsonDocOf(bsonInt("isMaster", 1), bsonStr("helloOk", "x")))
	mongoHelloReply = mongoMsg(7, 1, 1, "\x08\x00\x00\x00"+"\x00\x00\x00\x00\x00\x00\x00\x00"+"\x00\x00\x00\x00"+"\x01\x00\x00\x00"+
		bsonDocOf(bsonInt("maxWireVersion", 21), bsonDouble("ok", 0x3ff0000000000000)))
	mongoFind = mongoMsg(2, 0, 2013, "\x00\x00\x00\x00"+"\x00"+
		bsonDocOf(bsonStr("find", "orders"), bsonInt("limit", 1), bsonStr("$db", "shop")))
	mongoInsert = mongoMsg(3, 0, 2013, "\x00\x00\x00\x00"+"\x01"+"\x1a\x00\x00\x00documents\x00"+bsonDocOf(bsonInt("a", 1))+
		"\x00"+bsonDocOf(bsonStr("insert", "orders"), bsonStr("$db", "shop")))
	mongoMsgReply = mongoMsg(8, 2, 2013, "\x00\x00\x00\x00"+"\x00"+bsonDocOf(bsonInt("n", 1), bsonInt("ok", 1)))
	mongoMsgFail  = mongoMsg(9, 3, 2013, "\x00\x00\x00\x00"+"\x00"+bsonDocOf(bsonDouble("ok", 0), bsonStr("errmsg", "unauthorized")))
)

func TestMongoDBDetect(t *testing.T) {
	tests := []struct {
		dir  Dir
		in   string
		want Match
	}{
		{FromClient, mongoHelloQuery, Matched},
		{FromClient, mongoFind, Matched},
		{FromClient, mongoFind[:10], NeedMore},
		{FromClient, mongoHelloReply, NoMatch},
		{FromServer, mongoHelloReply, Matched},
		{FromServer, mongoMsgReply, Matched},
		{FromClient, mongoMsg(1, 0, 2013, "\x00\x00\x00\x08\x00"), NoMatch}, // unknown flag bits
		{FromClient, mongoMsg(1, 0, 2004, "\x00\x00\x00\x00nodot\x00"), NoMatch},
		{FromClient, "GET / HTTP/1.1\r\n", NoMatch},
	}
	for _, tc := range tests {
		if got := detectMongoDB(tc.dir, []byte(tc.in)); got != tc.want {
			t.Errorf("detectMongoDB(%v, %q) = %v, want %v", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestMongoDBParse(t *testing.T) {
	appsRunCases(t, MongoDB, TCP, []appsCase{{
		name: "handshake and commands",
		chunks: []appsChunk{cli(mongoHelloQuery), srv(mongoHelloReply), cli(mongoFind), srv(mongoMsgReply),
			cli(mongoInsert), srv(mongoMsgFail)},
		want: []string{
			`req mongodb Command="ISMASTER" Database="admin"`,
			`resp mongodb Status=0`,
			`req mongodb Command="FIND" Database="shop"`,
			`resp mongodb Status=0`,
			`req mongodb Command="INSERT" Database="shop"`,
			`resp mongodb Status=1`,
		},
		summary: `[{"command":"ISMASTER","database":"admin","op":"OP_QUERY"},{"command":"FIND","database":"shop","op":"OP_MSG"},
			{"command":"INSERT","database":"shop","op":"OP_MSG"}]`,
	}, {
		name:    "wrapped query",
		chunks:  []appsChunk{cli(mongoMsg(1, 0, 2004, "\x00\x00\x00\x00admin.$cmd\x00\x00\x00\x00\x00\x01\x00\x00\x00"+bsonDocOf("\x03$query\x00"+bsonDocOf(bsonInt("ping", 1)))))},
		want:    []string{`req mongodb Command="PING" Database="admin"`},
		summary: `[{"command":"PING","database":"admin","op":"OP_QUERY"}]`,
	}, {
		name:   "bad length",
		chunks: []appsChunk{cli("\x05\x00\x00\x00" + "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")},
		want:   []string{`error mongodb: client message length 5 out of range 16..50331648`},
	}})
}

func FuzzMongoDB(f *testing.F) {
	appsFuzz(f, MongoDB, TCP, []appsChunk{cli(mongoHelloQuery + mongoFind + mongoInsert), srv(mongoHelloReply + mongoMsgReply + mongoMsgFail)})
}
