package l7

import "testing"

// A session as curl 7.88 and Dovecot 2.3 have it
// (a real exchange is recorded in l7/testdata/captures/pop3.pcap).
const (
	pop3Greeting = "+OK Dovecot (Debian) ready.\r\n"
	pop3Capa     = "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nUSER\r\n.\r\n"
)

func TestPOP3Detect(t *testing.T) {
	tests := []struct {
		dir  Dir
		in   string
		want Match
	}{
		{FromServer, pop3Greeting, Matched},
		{FromServer, "+O", NeedMore},
		{FromServer, "+OK", NeedMore},
		{FromServer, "+OKAY", NoMatch},
		{FromServer, "+OK\r\n", Matched},
		{FromClient, "CAPA\r\n", Matched},
		{FromClient, "USER bob\r\n", Matched},
		{FromClient, "STLS\r\n", Matched},
		{FromClient, "EHLO x\r\n", NoMatch},
	}
	for _, tc := range tests {
		if got := detectPOP3(tc.dir, []byte(tc.in)); got != tc.want {
			t.Errorf("detectPOP3(%v, %q) = %v, want %v", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestPOP3Parse(t *testing.T) {
	appsRunCases(t, POP3, TCP, []appsCase{{
		name: "retrieve",
		chunks: []appsChunk{srv(pop3Greeting), cli("CAPA\r\n"), srv(pop3Capa), cli("USER alice\r\n"), srv("+OK\r\n"), cli("PASS pw\r\n"),
			srv("+OK Logged in.\r\n"), cli("LIST 1\r\nRETR 1\r\n"), srv("+OK 1 120\r\n+OK 120 octets\r\n+OK not a reply\r\n-ERR neither\r\n.\r\n"),
			cli("QUIT\r\n"), srv("-ERR bye\r\n")},
		want: []string{
			`resp pop3 Status=0`, `req pop3 Command="CAPA"`, `resp pop3 Status=0`, `req pop3 Command="USER" User="alice"`, `resp pop3 Status=0`,
			`req pop3 Command="PASS"`, `resp pop3 Status=0`, `req pop3 Command="LIST"`, `req pop3 Command="RETR"`, `resp pop3 Status=0`,
			`resp pop3 Status=0`, `req pop3 Command="QUIT"`, `resp pop3 Status=1`,
		},
		summary: `{"greeting":"+OK Dovecot (Debian) ready.","user":"alice","commands":["CAPA","USER","PASS","LIST","RETR","QUIT"]}`,
	}, {
		name:    "stls",
		chunks:  []appsChunk{srv(pop3Greeting), cli("STLS\r\n"), srv("+OK Begin TLS negotiation now.\r\n"), cli("\x16\x03\x01\x02\x00")},
		want:    []string{`resp pop3 Status=0`, `req pop3 Command="STLS"`, `resp pop3 Status=0`, `note STLS`},
		summary: `{"greeting":"+OK Dovecot (Debian) ready.","commands":["STLS"],"stls":true}`,
	}, {
		name:    "sasl",
		chunks:  []appsChunk{srv(pop3Greeting), cli("AUTH PLAIN\r\n"), srv("+ \r\n"), cli("AGFsaWNlAHB3\r\n"), srv("+OK Logged in.\r\n"), cli("STAT\r\n")},
		want:    []string{`resp pop3 Status=0`, `req pop3 Command="AUTH"`, `resp pop3 Status=0`, `req pop3 Command="STAT"`},
		summary: `{"greeting":"+OK Dovecot (Debian) ready.","commands":["AUTH","STAT"]}`,
	}})
}

func FuzzPOP3(f *testing.F) {
	appsFuzz(f, POP3, TCP, []appsChunk{srv(pop3Greeting + pop3Capa), cli("CAPA\r\nUSER a\r\nRETR 1\r\n")})
}
