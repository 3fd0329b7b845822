package fakeservers

import (
	"encoding/binary"
	"io"
	"net"
)

// MSSQL serves the start of TDS 7.x on ln until ln is closed: it answers a
// PRELOGIN with its own (version 16.0.4000, encryption not supported), reads
// the LOGIN7 that the client then sends in clear, and refuses it with a
// login-failed ERROR token, so that a client with encryption disabled
// records PRELOGIN and LOGIN7 and gets a clean error.
func MSSQL(ln net.Listener) error { return serve(ln, mssqlConn) }

const (
	tdsResponse = 0x04
	tdsLogin7   = 0x10
	tdsPrelogin = 0x12
)

func mssqlConn(c net.Conn) {
	for {
		typ, _, err := tdsRead(c)
		if err != nil {
			return
		}
		switch typ {
		case tdsPrelogin:
			// VERSION (6 bytes) and ENCRYPTION (1 byte: 2 = not supported).
			body := []byte{0, 0, 11, 0, 6, 1, 0, 17, 0, 1, 0xff, 16, 0, 0x0f, 0xa0, 0, 0, 2}
			if err := tdsWrite(c, tdsResponse, body); err != nil {
				return
			}
		case tdsLogin7:
			msg := []rune("Login failed for user.")
			tok := []byte{0xaa, 0, 0} // ERROR token, length filled below
			tok = binary.LittleEndian.AppendUint32(tok, 18456)
			tok = append(tok, 1, 14) // state, class
			tok = binary.LittleEndian.AppendUint16(tok, uint16(len(msg)))
			for _, r := range msg {
				tok = binary.LittleEndian.AppendUint16(tok, uint16(r))
			}
			tok = append(tok, 0, 0) // server name, procedure name (empty B_VARCHARs)
			tok = binary.LittleEndian.AppendUint32(tok, 1)
			binary.LittleEndian.PutUint16(tok[1:], uint16(len(tok)-3))
			done := []byte{0xfd, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // DONE with error
			_ = tdsWrite(c, tdsResponse, append(tok, done...))
			return
		default:
			return
		}
	}
}

func tdsRead(r io.Reader) (typ byte, body []byte, err error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint16(h[2:]))
	if n < 8 {
		return 0, nil, io.ErrUnexpectedEOF
	}
	body = make([]byte, n-8)
	_, err = io.ReadFull(r, body)
	return h[0], body, err
}

func tdsWrite(w io.Writer, typ byte, body []byte) error {
	h := []byte{typ, 1}
	h = binary.BigEndian.AppendUint16(h, uint16(8+len(body)))
	h = append(h, 0, 0, 1, 0)
	_, err := w.Write(append(h, body...))
	return err
}
