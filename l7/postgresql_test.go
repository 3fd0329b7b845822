package l7

import (
	"encoding/binary"
	"testing"
)

// pgMsg frames a typed message; pgUntyped an untyped startup message.
func pgMsg(typ byte, body string) string {
	var h [5]byte
	h[0] = typ
	binary.BigEndian.PutUint32(h[1:], uint32(4+len(body)))
	return string(h[:]) + body
}

func pgUntyped(body string) string {
	var h [4]byte
	binary.BigEndian.PutUint32(h[:], uint32(4+len(body)))
	return string(h[:]) + body
}

// Messages as psql 15 and PostgreSQL 15 exchange them
// (a real exchange is recorded in l7/testdata/captures/postgresql.pcap).
var (
	pgSSLReq    = pgUntyped("\x04\xd2\x16\x2f")
	pgStartup   = pgUntyped("\x00\x03\x00\x00" + "user\x00shop\x00database\x00orders\x00application_name\x00psql\x00client_encoding\x00UTF8\x00\x00")
	pgAuthOKMsg = pgMsg('R', "\x00\x00\x00\x00")
	pgParams    = pgMsg('S', "server_version\x0015.18 (Debian 15.18-0+deb12u1)\x00") + pgMsg('Z', "I")
	pgQuery     = pgMsg('Q', "  SELECT count(*) FROM items;\x00")
	pgResult    = pgMsg('T', "\x00\x01count\x00\x00\x00\x00\x00\x00\x00\x00\x00\x14\x00\x08\xff\xff\xff\xff\x00\x00") +
		pgMsg('D', "\x00\x01\x00\x00\x00\x013") + pgMsg('C', "SELECT 1\x00") + pgMsg('Z', "I")
	pgParse = pgMsg('P', "s1\x00INSERT INTO items VALUES ($1)\x00\x00\x00") + pgMsg('B', "\x00s1\x00\x00\x00\x00\x00\x00\x00") +
		pgMsg('E', "\x00\x00\x00\x00\x00") + pgMsg('S', "")
	pgError = pgMsg('E', "SERROR\x00C42P01\x00Mrelation \"items\" does not exist\x00\x00") + pgMsg('Z', "I")
)

func TestPostgreSQLDetect(t *testing.T) {
	tests := []struct {
		dir  Dir
		in   string
		want Match
	}{
		{FromClient, pgSSLReq, Matched},
		{FromClient, pgStartup, Matched},
		{FromClient, pgStartup[:8], NeedMore},
		{FromClient, pgStartup[:3], NeedMore},
		{FromClient, pgUntyped("\x00\x03\x00\x00\x00\x00"), NoMatch},
		{FromClient, pgUntyped("\x04\xd2\x16\x2e" + "12345678"), Matched}, // CancelRequest
		{FromClient, "GET / HTTP/1.1\r\n", NoMatch},
		{FromServer, pgAuthOKMsg, Matched},
		{FromServer, pgMsg('R', "\x00\x00\x00\x0aSCRAM-SHA-256\x00\x00"), Matched},
		{FromServer, "RTSP/1.0 200 OK\r\n", NoMatch},
	}
	for _, tc := range tests {
		if got := detectPostgreSQL(tc.dir, []byte(tc.in)); got != tc.want {
			t.Errorf("detectPostgreSQL(%v, %q) = %v, want %v", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestPostgreSQLParse(t *testing.T) {
	appsRunCases(t, PostgreSQL, TCP, []appsCase{{
		name: "ssl refused, session",
		chunks: []appsChunk{cli(pgSSLReq), srv("N"), cli(pgStartup), srv(pgAuthOKMsg + pgParams), cli(pgQuery), srv(pgResult),
			cli(pgParse), srv(pgError), cli(pgMsg('X', ""))},
		want: []string{
			`note SSLRequest`,
			`req postgresql Command="STARTUP" User="shop" Database="orders" ClientID="psql"`,
			`resp postgresql Status=0`,
			`req postgresql Command="SELECT" User="shop" Database="orders" ClientID="psql"`,
			`resp postgresql Status=0`,
			`req postgresql Command="INSERT" User="shop" Database="orders" ClientID="psql"`,
			`resp postgresql Status=1`,
		},
		summary: `{"user":"shop","database":"orders","application_name":"psql","ssl_request":true,
			"server_version":"15.18 (Debian 15.18-0+deb12u1)","errors":1,
			"queries":[{"protocol":"simple","statement":"SELECT"},{"protocol":"extended","statement":"INSERT"}]}`,
	}, {
		name:    "ssl accepted",
		chunks:  []appsChunk{cli(pgSSLReq), srv("S"), cli("\x16\x03\x01\x02\x00"), srv("\x16\x03\x03")},
		want:    []string{`note SSLRequest`, `note SSL accepted`},
		summary: `{"ssl_request":true,"ssl":true}`,
	}, {
		name:    "database defaults to user",
		chunks:  []appsChunk{cli(pgUntyped("\x00\x03\x00\x00user\x00bob\x00\x00"))},
		want:    []string{`req postgresql Command="STARTUP" User="bob" Database="bob"`},
		summary: `{"user":"bob","database":"bob"}`,
	}, {
		name:   "bad startup code",
		chunks: []appsChunk{cli(pgUntyped("\x00\x02\x00\x00"))},
		want:   []string{`error postgresql: startup message with unknown code 131072`},
	}, {
		name:    "bad SSL answer",
		chunks:  []appsChunk{cli(pgSSLReq), srv("X")},
		want:    []string{`note SSLRequest`, `error postgresql: answer 0x58 to SSLRequest, want 'S' or 'N'`},
		summary: `{"ssl_request":true}`,
	}})
}

func FuzzPostgreSQL(f *testing.F) {
	appsFuzz(f, PostgreSQL, TCP,
		[]appsChunk{cli(pgSSLReq), srv("N"), cli(pgStartup + pgQuery + pgParse), srv(pgAuthOKMsg + pgParams + pgResult + pgError)})
}
