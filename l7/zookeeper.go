package l7

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// ZooKeeper client protocol (jute). Every packet is an int32 length and a
// body. The client opens with a ConnectRequest (protocolVersion 0,
// lastZxidSeen, timeOut, sessionId, a 16-byte password, optionally
// readOnly); the server answers a ConnectResponse. Later requests are
// xid, opcode and a body that starts with the znode path for most
// operations; replies are xid, zxid and an error code. Four-letter admin
// words ("ruok", "mntr"…) are recognised when sent alone.
//
// Request: Command "CONNECT", the opcode name in upper case ("GETDATA",
// "CREATE", "CLOSESESSION"…) or the four-letter word ("MNTR"); Path the
// znode path when the operation has one.
// Response: ConnectResponse (Status 0, or -1 when the server refused with
// a zero timeout) and each reply (Status the error code, 0 = OK).

func init() {
	register(&Protocol{
		App:       ZooKeeper,
		Transport: TCP,
		Ports:     []uint16{2181},
		Detect:    detectZooKeeper,
		New:       appNew[zkParser],
	})
}

const (
	zkMaxPacket = 16 << 20
	// zkXidWatch marks a watch notification from the server.
	zkXidWatch = -1
)

var zkOpcodes = map[int32]string{
	0: "NOTIFICATION", 1: "CREATE", 2: "DELETE", 3: "EXISTS", 4: "GETDATA",
	5: "SETDATA", 6: "GETACL", 7: "SETACL", 8: "GETCHILDREN", 9: "SYNC",
	11: "PING", 12: "GETCHILDREN2", 13: "CHECK", 14: "MULTI", 15: "CREATE2",
	16: "RECONFIG", 17: "CHECKWATCHES", 18: "REMOVEWATCHES",
	19: "CREATECONTAINER", 20: "DELETECONTAINER", 21: "CREATETTL",
	22: "MULTIREAD", 100: "AUTH", 101: "SETWATCHES", 102: "SASL",
	103: "GETEPHEMERALS", 104: "GETALLCHILDRENNUMBER", 105: "SETWATCHES2",
	106: "ADDWATCH", 107: "WHOAMI", -10: "CREATESESSION", -11: "CLOSESESSION",
	-1: "ERROR",
}

// zkPathOps are the opcodes whose request body starts with a path.
func zkPathOp(op int32) bool {
	switch op {
	case 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 15, 17, 18, 19, 20, 21, 103, 104, 106:
		return true
	}
	return false
}

// zkFourLetter are admin commands sent as four bytes on their own; "stat",
// "conf" and "dump" are left out because they begin other protocols' text.
var zkFourLetter = []string{"ruok", "mntr", "srvr", "envi", "cons", "wchs", "wchc", "wchp", "crst", "srst", "isro", "gtmk", "dirs"}

func detectZooKeeper(dir Dir, data []byte) Match {
	if dir == FromClient && len(data) == 4 {
		for _, w := range zkFourLetter {
			if string(data) == w {
				return Matched
			}
		}
	}
	if len(data) < 8 {
		if len(data) >= 3 && (data[0] != 0 || data[1] != 0 || data[2] != 0) {
			return NoMatch
		}
		if len(data) > 0 && data[0] != 0 {
			return NoMatch
		}
		return NeedMore
	}
	n := binary.BigEndian.Uint32(data)
	proto := binary.BigEndian.Uint32(data[4:])
	if dir == FromClient {
		// ConnectRequest: 44 bytes (45 with readOnly), protocol version 0,
		// password length 16 at offset 4+24.
		if (n != 44 && n != 45) || proto != 0 {
			return NoMatch
		}
		if len(data) < 32 {
			return NeedMore
		}
		if binary.BigEndian.Uint32(data[28:]) != 16 {
			return NoMatch
		}
		return Matched
	}
	// ConnectResponse: 36 bytes (37), protocol version 0, password length 16
	// at offset 4+16.
	if (n != 36 && n != 37) || proto != 0 {
		return NoMatch
	}
	if len(data) < 24 {
		return NeedMore
	}
	if binary.BigEndian.Uint32(data[20:]) != 16 {
		return NoMatch
	}
	return Matched
}

// zookeeperSummary is the "zookeeper" object of analyze's flow JSON.
type zookeeperSummary struct {
	SessionTimeoutMS int          `json:"session_timeout_ms,omitempty"`
	Requests         []zkSumEntry `json:"requests,omitempty"`
}

type zkSumEntry struct {
	Op   string `json:"op"`
	Path string `json:"path,omitempty"`
}

type zkParser struct {
	connected [2]bool
	skip      [2]appSkip
	req       Request
	resp      Response
	buf       appBuf
	recs      appRecords[zkSumEntry]
	sum       zookeeperSummary
}

// Reset implements Resetter: p becomes what New(cfg) returns, and what
// Summary returned before is left alone.
func (p *zkParser) Reset(cfg *ParserConfig) {
	*p = zkParser{recs: newAppRecords[zkSumEntry](appCfg(cfg))}
}

func (p *zkParser) Parse(dir Dir, data []byte, sink Sink) (int, error) {
	return appFrames(dir, data, &p.skip[dir], p, sink)
}

func (p *zkParser) frameLen(dir Dir, rest []byte) (int64, error) {
	if dir == FromClient && !p.connected[dir] && rest[0] >= 'a' && rest[0] <= 'z' {
		if len(rest) < 4 {
			return 0, nil
		}
		return 4, nil // a four-letter word
	}
	if len(rest) < 4 {
		return 0, nil
	}
	n := int64(binary.BigEndian.Uint32(rest))
	if n > zkMaxPacket {
		return 0, fmt.Errorf("zookeeper: %v packet length %d exceeds %d", dir, n, zkMaxPacket)
	}
	return 4 + n, nil
}

func (p *zkParser) frame(dir Dir, msg []byte, sink Sink) error {
	if dir == FromClient && !p.connected[dir] && msg[0] >= 'a' && msg[0] <= 'z' {
		p.buf.reset()
		p.report(sink, p.buf.upper(msg[:4]), nil)
		return ErrDone
	}
	body := msg[4:]
	if !p.connected[dir] {
		p.connected[dir] = true
		if dir == FromClient {
			p.report(sink, "CONNECT", nil)
			return nil
		}
		status := 0
		if len(body) >= 8 {
			to := int32(binary.BigEndian.Uint32(body[4:]))
			if to <= 0 {
				status = -1
			}
			p.sum.SessionTimeoutMS = int(to)
		}
		p.resp = Response{App: ZooKeeper, Status: status}
		sink.Response(&p.resp)
		return nil
	}
	if len(body) < 8 {
		return nil
	}
	xid := int32(binary.BigEndian.Uint32(body))
	if dir == FromServer {
		if len(body) >= 16 && xid != zkXidWatch { // watch notifications are not replies
			p.resp = Response{App: ZooKeeper, Status: int(int32(binary.BigEndian.Uint32(body[12:])))}
			sink.Response(&p.resp)
		}
		return nil
	}
	op := int32(binary.BigEndian.Uint32(body[4:]))
	name, known := zkOpcodes[op]
	if !known {
		name = "UNKNOWN"
	}
	var path []byte
	if zkPathOp(op) && len(body) >= 12 {
		l := int32(binary.BigEndian.Uint32(body[8:]))
		if l >= 0 && int(l) <= len(body)-12 {
			path = body[12 : 12+l]
		}
	}
	p.report(sink, name, path)
	return nil
}

func (p *zkParser) report(sink Sink, cmd string, path []byte) {
	p.req = Request{App: ZooKeeper, Command: cmd, Path: bstr(path)}
	sink.Request(&p.req)
	if p.recs.on {
		p.recs.add(sink, zkSumEntry{Op: strings.Clone(cmd), Path: string(path)})
	}
}

func (p *zkParser) Summary() any {
	if !p.recs.on || (len(p.recs.list) == 0 && p.sum.SessionTimeoutMS == 0) {
		return nil
	}
	s := p.sum // a copy: Reset must leave what Summary returned alone
	s.Requests = p.recs.list
	return &s
}
