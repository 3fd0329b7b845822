package l7

import (
	"strings"
	"testing"
)

// mysqlPkt frames payload as a MySQL packet with sequence number seq.
func mysqlPkt(seq byte, payload string) string {
	n := len(payload)
	return string([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}) + payload
}

// Byte sequences as MariaDB 10.11 and its mariadb client exchange them
// (a real exchange is recorded in l7/testdata/captures/mysql.pcap), auth data shortened.
var (
	mysqlServerHello = mysqlPkt(0, "\x0a5.5.5-10.11.19-MariaDB-0+deb12u1\x00"+
		"\x05\x00\x00\x00"+"abcdefgh"+"\x00"+"\xfe\xf7"+"\x2d"+"\x02\x00"+"\xff\x81"+"\x15"+
		"\x00\x00\x00\x00\x00\x00"+"\x1d\x00\x00\x00"+"ijklmnopqrst\x00"+"mysql_native_password\x00")
	// caps: LONG_PASSWORD|FOUND_ROWS|LONG_FLAG|CONNECT_WITH_DB|PROTOCOL_41|
	// TRANSACTIONS|SECURE_CONNECTION|MULTI_RESULTS|PLUGIN_AUTH|PLUGIN_AUTH_LENENC
	mysqlClientHello = mysqlPkt(1, "\x0f\xa2\x2a\x00"+"\x00\x00\x00\x01"+"\x2d"+strings.Repeat("\x00", 19)+"\x00\x00\x00\x00"+
		"shop\x00"+"\x14"+strings.Repeat("\x11", 20)+"orders\x00"+"mysql_native_password\x00")
	mysqlOK        = mysqlPkt(2, "\x00\x00\x00\x02\x00\x00\x00")
	mysqlQuery     = mysqlPkt(0, "\x03/* app */ select * from items where id = 1")
	mysqlResultSet = mysqlPkt(1, "\x01") + mysqlPkt(2, "\x03def\x00\x00\x00\x02id\x00\x0c\x3f\x00") + mysqlPkt(3, "\x00") + mysqlPkt(4, "\xfe\x00\x00\x02\x00")
	mysqlInitDB    = mysqlPkt(0, "\x02billing")
	mysqlErr       = mysqlPkt(1, "\xff\x19\x04#42000Unknown database 'billing'")
	mysqlSSLReq    = mysqlPkt(1, "\x0f\xaa\x2a\x00"+"\x00\x00\x00\x01"+"\x2d"+strings.Repeat("\x00", 23))
)

func TestMySQLDetect(t *testing.T) {
	tests := []struct {
		dir  Dir
		in   string
		want Match
	}{
		{FromServer, mysqlServerHello, Matched},
		{FromServer, mysqlServerHello[:12], NeedMore},
		{FromServer, mysqlPkt(0, "\xffj\x04Host '198.18.0.11' is not allowed"), Matched},
		{FromServer, mysqlPkt(0, "\x0aabc\x00"), NoMatch},
		{FromServer, mysqlPkt(1, "\x0a5.7\x00"), NoMatch},
		{FromClient, mysqlClientHello, Matched},
		{FromClient, mysqlClientHello[:20], NeedMore},
		{FromClient, mysqlSSLReq, Matched},
		{FromClient, mysqlPkt(1, "\x0f\xa0\x2a\x00"+strings.Repeat("\x00", 28)), NoMatch}, // no PROTOCOL_41
		{FromClient, mysqlPkt(1, "\x0f\xa2\x2a\x00"+"\x00\x00\x00\x01"+"\x2d"+"xxxxxxxxxxxxxxxxxxxxxxx"), NoMatch},
		{FromClient, "GET / HTTP/1.1\r\n", NoMatch},
	}
	for _, tc := range tests {
		if got := detectMySQL(tc.dir, []byte(tc.in)); got != tc.want {
			t.Errorf("detectMySQL(%v, %q) = %v, want %v", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestMySQLParse(t *testing.T) {
	big := mysqlPkt(0, "\x03INSERT INTO blobs VALUES ('"+strings.Repeat("x", 40000)+"')")
	appsRunCases(t, MySQL, TCP, []appsCase{{
		name: "session",
		chunks: []appsChunk{srv(mysqlServerHello), cli(mysqlClientHello), srv(mysqlOK), cli(mysqlQuery), srv(mysqlResultSet),
			cli(mysqlInitDB), srv(mysqlErr), cli(big), srv(mysqlPkt(1, "\x00\x01\x00\x02\x00\x00\x00")), cli(mysqlPkt(0, "\x01"))},
		want: []string{
			`resp mysql Status=-1 Version="5.5.5-10.11.19-MariaDB-0+deb12u1"`,
			`req mysql Command="CONNECT" User="shop" Database="orders"`,
			`resp mysql Status=0`,
			`req mysql Command="SELECT" User="shop" Database="orders"`,
			`resp mysql Status=0`,
			`req mysql Command="INIT_DB" User="shop" Database="billing"`,
			`resp mysql Status=1049`,
			`req mysql Command="INSERT" User="shop" Database="billing"`,
			`resp mysql Status=0`,
			`req mysql Command="QUIT" User="shop" Database="billing"`,
		},
		summary: `{"server_version":"5.5.5-10.11.19-MariaDB-0+deb12u1","user":"shop","database":"orders","commands":[
			{"command":"QUERY","statement":"SELECT"},{"command":"INIT_DB","database":"billing","error":1049},
			{"command":"QUERY","statement":"INSERT"},{"command":"QUIT"}]}`,
	}, {
		name:    "ssl",
		chunks:  []appsChunk{srv(mysqlServerHello), cli(mysqlSSLReq), cli("\x16\x03\x01\x02\x00\x01"), srv("\x16\x03\x03\x00\x7a")},
		want:    []string{`resp mysql Status=-1 Version="5.5.5-10.11.19-MariaDB-0+deb12u1"`, `note SSLRequest`},
		summary: `{"server_version":"5.5.5-10.11.19-MariaDB-0+deb12u1","ssl":true}`,
	}, {
		name:   "handshake response too short",
		chunks: []appsChunk{cli(mysqlPkt(1, "\x0f\xa2\x2a\x00"))},
		want:   []string{`error mysql: handshake response of 4 bytes, want at least 32`},
	}, {
		name:   "truncated",
		chunks: []appsChunk{srv(mysqlServerHello[:30]), cli(mysqlClientHello[:40])},
	}})
}

func FuzzMySQL(f *testing.F) {
	appsFuzz(f, MySQL, TCP,
		[]appsChunk{srv(mysqlServerHello + mysqlOK + mysqlResultSet + mysqlErr), cli(mysqlClientHello + mysqlQuery + mysqlInitDB)},
		[]appsChunk{cli(mysqlSSLReq)})
}
