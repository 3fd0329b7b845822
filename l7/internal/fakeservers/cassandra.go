package fakeservers

import (
	"encoding/binary"
	"io"
	"net"
)

// Cassandra serves the CQL native protocol v4 on ln until ln is closed:
// OPTIONS gets SUPPORTED, STARTUP gets READY, REGISTER gets READY, QUERY and
// PREPARE get an empty "Void" RESULT, anything else an ERROR. Protocol
// versions other than 4 get the protocol-error answer that makes drivers
// fall back to v4.
func Cassandra(ln net.Listener) error { return serve(ln, cqlConn) }

const (
	cqlError     = 0x00
	cqlStartup   = 0x01
	cqlReady     = 0x02
	cqlOptions   = 0x05
	cqlSupported = 0x06
	cqlQuery     = 0x07
	cqlResult    = 0x08
	cqlPrepare   = 0x09
	cqlRegister  = 0x0b
)

func cqlConn(c net.Conn) {
	for {
		var h [9]byte
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(h[5:])
		if n > 1<<20 {
			return
		}
		if _, err := io.CopyN(io.Discard, c, int64(n)); err != nil {
			return
		}
		stream := binary.BigEndian.Uint16(h[2:])
		var op byte
		var body []byte
		switch {
		case h[0] != 4:
			op = cqlError
			body = cqlErrorBody(0x000a, "Invalid or unsupported protocol version; supported versions are (4/v4)")
		case h[4] == cqlOptions:
			op = cqlSupported
			body = cqlStringMultimap(map[string][]string{"CQL_VERSION": {"3.4.5"}, "COMPRESSION": {}})
		case h[4] == cqlStartup, h[4] == cqlRegister:
			op = cqlReady
		case h[4] == cqlQuery, h[4] == cqlPrepare:
			op = cqlResult
			body = []byte{0, 0, 0, 1} // Void
		default:
			op = cqlError
			body = cqlErrorBody(0x000a, "unsupported request")
		}
		out := []byte{0x84, 0}
		out = binary.BigEndian.AppendUint16(out, stream)
		out = append(out, op)
		out = binary.BigEndian.AppendUint32(out, uint32(len(body)))
		if _, err := c.Write(append(out, body...)); err != nil {
			return
		}
	}
}

func cqlString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func cqlStringMultimap(m map[string][]string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(m)))
	for _, k := range []string{"COMPRESSION", "CQL_VERSION"} {
		vs, ok := m[k]
		if !ok {
			continue
		}
		b = cqlString(b, k)
		b = binary.BigEndian.AppendUint16(b, uint16(len(vs)))
		for _, v := range vs {
			b = cqlString(b, v)
		}
	}
	return b
}

func cqlErrorBody(code uint32, msg string) []byte {
	return cqlString(binary.BigEndian.AppendUint32(nil, code), msg)
}
