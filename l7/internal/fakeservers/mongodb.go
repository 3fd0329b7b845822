package fakeservers

import (
	"encoding/binary"
	"io"
	"net"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// MongoDB serves the MongoDB wire protocol on ln until ln is closed: the
// legacy OP_QUERY hello/isMaster handshake and OP_MSG commands (hello,
// ping, insert, find, endSessions and anything else with {ok: 1}).
func MongoDB(ln net.Listener) error { return serve(ln, mongoConn) }

const (
	opReply = 1
	opQuery = 2004
	opMsg   = 2013
)

func mongoConn(c net.Conn) {
	var reqID int32
	for {
		var h [16]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return
		}
		n := int(binary.LittleEndian.Uint32(h[:]))
		if n < 16 || n > 48<<20 {
			return
		}
		body := make([]byte, n-16)
		if _, err := io.ReadFull(c, body); err != nil {
			return
		}
		id := int32(binary.LittleEndian.Uint32(h[4:]))
		reqID++
		var out []byte
		switch binary.LittleEndian.Uint32(h[12:]) {
		case opQuery:
			// flags, "db.$cmd", skip, return, query document.
			rest := body[4:]
			i := strings.IndexByte(string(rest), 0)
			if i < 0 || len(rest) < i+9 {
				return
			}
			doc := bson.Raw(rest[i+9:])
			reply := mongoReply(doc)
			out = binary.LittleEndian.AppendUint32(nil, 0) // responseFlags
			out = binary.LittleEndian.AppendUint64(out, 0) // cursorID
			out = binary.LittleEndian.AppendUint32(out, 0) // startingFrom
			out = binary.LittleEndian.AppendUint32(out, 1) // numberReturned
			out = append(out, reply...)
			out = mongoFrame(reqID, id, opReply, out)
		case opMsg:
			if len(body) < 5 || body[4] != 0 {
				return
			}
			reply := mongoReply(bson.Raw(body[5:]))
			out = append(binary.LittleEndian.AppendUint32(nil, 0), 0)
			out = mongoFrame(reqID, id, opMsg, append(out, reply...))
		default:
			return
		}
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

func mongoFrame(reqID, respTo int32, op uint32, body []byte) []byte {
	h := binary.LittleEndian.AppendUint32(nil, uint32(16+len(body)))
	h = binary.LittleEndian.AppendUint32(h, uint32(reqID))
	h = binary.LittleEndian.AppendUint32(h, uint32(respTo))
	h = binary.LittleEndian.AppendUint32(h, op)
	return append(h, body...)
}

// mongoReply answers the command document doc.
func mongoReply(doc bson.Raw) []byte {
	elems, err := doc.Elements()
	if err != nil || len(elems) == 0 {
		return mustMarshal(bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: "bad command"}})
	}
	cmd := strings.ToLower(elems[0].Key())
	db := "test"
	if v, err := doc.LookupErr("$db"); err == nil {
		db = v.StringValue()
	}
	var d bson.D
	switch cmd {
	case "ismaster", "hello":
		d = bson.D{
			{Key: "helloOk", Value: true}, {Key: "ismaster", Value: true}, {Key: "isWritablePrimary", Value: true},
			{Key: "topologyVersion", Value: bson.D{{Key: "processId", Value: bson.NewObjectID()}, {Key: "counter", Value: int64(0)}}},
			{Key: "maxBsonObjectSize", Value: int32(16 << 20)}, {Key: "maxMessageSizeBytes", Value: int32(48 << 20)},
			{Key: "maxWriteBatchSize", Value: int32(100000)}, {Key: "localTime", Value: bson.NewDateTimeFromTime(time.Now())},
			{Key: "logicalSessionTimeoutMinutes", Value: int32(30)}, {Key: "connectionId", Value: int32(1)},
			{Key: "minWireVersion", Value: int32(0)}, {Key: "maxWireVersion", Value: int32(21)},
			{Key: "readOnly", Value: false},
		}
	case "insert":
		d = bson.D{{Key: "n", Value: int32(1)}}
	case "find":
		coll, _ := elems[0].Value().StringValueOK()
		d = bson.D{{Key: "cursor", Value: bson.D{{Key: "firstBatch", Value: bson.A{}}, {Key: "id", Value: int64(0)},
			{Key: "ns", Value: db + "." + coll}}}}
	}
	return mustMarshal(append(d, bson.E{Key: "ok", Value: 1.0}))
}

func mustMarshal(d bson.D) []byte {
	b, err := bson.Marshal(d)
	if err != nil {
		panic(err)
	}
	return b
}
