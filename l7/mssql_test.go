package l7

import (
	"encoding/binary"
	"testing"
)

// tdsPkt frames a TDS packet of type typ (end of message).
func tdsPkt(typ byte, body string) string {
	h := []byte{typ, 1}
	h = binary.BigEndian.AppendUint16(h, uint16(8+len(body)))
	h = append(h, 0, 0, 1, 0)
	return string(h) + body
}

// tdsPrelogin builds a PRELOGIN body with VERSION and ENCRYPTION.
func tdsPreloginBody(ver string, enc byte) string {
	// Two options (5 bytes each) and the terminator: data at offset 11.
	return "\x00\x00\x0b\x00\x06" + "\x01\x00\x11\x00\x01" + "\xff" + ver + string([]byte{enc})
}

// utf16 encodes ASCII as UTF-16LE.
func utf16(s string) string {
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		b = append(b, s[i], 0)
	}
	return string(b)
}

// tdsLogin builds a LOGIN7 body with host, user, app and database.
func tdsLogin(host, user, app, db string) string {
	fields := []string{host, user, "", app, "", "", "", "", db}
	off := 36 + 4*len(fields)
	head := make([]byte, 36)
	var data string
	for _, f := range fields {
		head = binary.LittleEndian.AppendUint16(head, uint16(off+len(data)))
		head = binary.LittleEndian.AppendUint16(head, uint16(len(f)))
		data += utf16(f)
	}
	return string(head) + data
}

// Messages modelled on go-mssqldb v1.11 with encrypt=disable
// (a real exchange is recorded in l7/testdata/captures/mssql.pcap).
var (
	tdsClientPrelogin = tdsPkt(0x12, tdsPreloginBody("\x0c\x00\x07\xd0\x00\x00", 2))
	tdsServerPrelogin = tdsPkt(0x04, tdsPreloginBody("\x10\x00\x0f\xa0\x00\x00", 2))
	tdsLogin7Msg      = tdsPkt(0x10, tdsLogin("web-1", "sa", "go-mssqldb", "inventory"))
	tdsBatch          = tdsPkt(0x01, utf16("SELECT 1"))
)

func TestMSSQLDetect(t *testing.T) {
	tests := []struct {
		dir  Dir
		in   string
		want Match
	}{
		{FromClient, tdsClientPrelogin, Matched},
		{FromClient, tdsClientPrelogin[:6], NeedMore},
		{FromServer, tdsServerPrelogin, Matched},
		{FromServer, tdsClientPrelogin, NoMatch},
		{FromClient, tdsPkt(0x12, "\x01\x00\x0b\x00\x06"), NoMatch},
		{FromClient, "\x16\x03\x01\x00\xc8\x01\x00\x00", NoMatch},
	}
	for _, tc := range tests {
		if got := detectMSSQL(tc.dir, []byte(tc.in)); got != tc.want {
			t.Errorf("detectMSSQL(%v, %q) = %v, want %v", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestMSSQLParse(t *testing.T) {
	appsRunCases(t, MSSQL, TCP, []appsCase{{
		name:   "no encryption",
		chunks: []appsChunk{cli(tdsClientPrelogin), srv(tdsServerPrelogin), cli(tdsLogin7Msg), cli(tdsBatch)},
		want: []string{
			`req mssql Command="PRELOGIN" Version="12.0.2000"`,
			`resp mssql Status=-1 Version="16.0.4000"`,
			`req mssql Command="LOGIN" User="sa" Database="inventory" ClientID="go-mssqldb"`,
			`req mssql Command="SQL_BATCH"`,
		},
		summary: `{"client_version":"12.0.2000","server_version":"16.0.4000","client_encryption":"not_supported","server_encryption":"not_supported",
			"user":"sa","database":"inventory","app_name":"go-mssqldb","messages":["PRELOGIN","LOGIN","SQL_BATCH"]}`,
	}, {
		name: "encryption on",
		chunks: []appsChunk{cli(tdsPkt(0x12, tdsPreloginBody("\x0c\x00\x07\xd0\x00\x00", 1))), srv(tdsPkt(0x04, tdsPreloginBody("\x10\x00\x0f\xa0\x00\x00", 1))),
			cli(tdsPkt(0x12, "\x16\x03\x01\x00\x05hello"))},
		want: []string{
			`req mssql Command="PRELOGIN" Version="12.0.2000"`,
			`resp mssql Status=-1 Version="16.0.4000"`,
			`note TLS`,
		},
		summary: `{"client_version":"12.0.2000","server_version":"16.0.4000","client_encryption":"on","server_encryption":"on","messages":["PRELOGIN"]}`,
	}, {
		name:   "bad length",
		chunks: []appsChunk{cli("\x12\x01\x00\x04\x00\x00\x01\x00")},
		want:   []string{`error mssql: client packet length 4 shorter than its header`},
	}})
}

func FuzzMSSQL(f *testing.F) {
	appsFuzz(f, MSSQL, TCP, []appsChunk{cli(tdsClientPrelogin + tdsLogin7Msg + tdsBatch), srv(tdsServerPrelogin)})
}
