package l7

import "testing"

// A session as curl 7.88 and Dovecot 2.3 have it
// (a real exchange is recorded in l7/testdata/captures/imap.pcap).
const (
	imapGreeting = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n"
)

func TestIMAPDetect(t *testing.T) {
	tests := []struct {
		dir  Dir
		in   string
		want Match
	}{
		{FromServer, imapGreeting, Matched},
		{FromServer, "* PREAUTH ready\r\n", Matched},
		{FromServer, "* O", NeedMore},
		{FromServer, "+OK\r\n", NoMatch},
		{FromClient, "A001 CAPABILITY\r\n", Matched},
		{FromClient, "a1 login bob pw\r\n", Matched},
		{FromClient, "A001", NeedMore},
		{FromClient, "A001 FROB\r\n", NoMatch},
		{FromClient, "GET / HTTP/1.1\r\n", NoMatch},
	}
	for _, tc := range tests {
		if got := detectIMAP(tc.dir, []byte(tc.in)); got != tc.want {
			t.Errorf("detectIMAP(%v, %q) = %v, want %v", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestIMAPParse(t *testing.T) {
	appsRunCases(t, IMAP, TCP, []appsCase{{
		name: "fetch",
		chunks: []appsChunk{srv(imapGreeting), cli("A001 CAPABILITY\r\n"), srv("* CAPABILITY IMAP4rev1 IDLE\r\nA001 OK done\r\n"),
			cli("A002 LOGIN \"alice\" pw\r\n"), srv("A002 OK Logged in\r\n"), cli("A003 SELECT INBOX\r\n"), srv("* 1 EXISTS\r\nA003 OK selected\r\n"),
			cli("A004 uid fetch 1 BODY[]\r\n"), srv("* 1 FETCH (UID 1 BODY[] {21}\r\nA999 OK not a reply\r\n)\r\nA004 OK Fetch completed\r\n"),
			cli("A005 APPEND INBOX {11+}\r\nA006 NOOP\r\n\r\nA007 IDLE\r\n"), srv("+ idling\r\n"), cli("DONE\r\n"), srv("A007 OK Idle completed\r\n"),
			cli("A008 LOGOUT\r\n"), srv("* BYE\r\nA008 NO what\r\n")},
		want: []string{
			`resp imap Status=0`, `req imap Command="CAPABILITY"`, `resp imap Status=0`,
			`req imap Command="LOGIN" User="alice"`, `resp imap Status=0`, `req imap Command="SELECT"`, `resp imap Status=0`,
			`req imap Command="UID FETCH"`, `resp imap Status=0`, `req imap Command="APPEND"`, `req imap Command="IDLE"`, `resp imap Status=0`,
			`req imap Command="LOGOUT"`, `resp imap Status=1`,
		},
		summary: `{"greeting":"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.",
			"user":"alice","commands":["CAPABILITY","LOGIN","SELECT","UID FETCH","APPEND","IDLE","LOGOUT"]}`,
	}, {
		name:    "starttls",
		chunks:  []appsChunk{srv(imapGreeting), cli("A1 STARTTLS\r\n"), srv("A1 OK Begin TLS negotiation now.\r\n"), cli("\x16\x03\x01\x02\x00")},
		want:    []string{`resp imap Status=0`, `req imap Command="STARTTLS"`, `resp imap Status=0`, `note STARTTLS`},
		summary: `{"greeting":"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.","commands":["STARTTLS"],"starttls":true}`,
	}, {
		name:    "authenticate",
		chunks:  []appsChunk{cli("a AUTHENTICATE PLAIN\r\n"), srv("+ \r\n"), cli("AGFsaWNlAHB3 x\r\n"), srv("a BAD no\r\n"), cli("b NOOP\r\n")},
		want:    []string{`req imap Command="AUTHENTICATE"`, `resp imap Status=2`, `req imap Command="NOOP"`},
		summary: `{"commands":["AUTHENTICATE","NOOP"]}`,
	}})
}

func FuzzIMAP(f *testing.F) {
	appsFuzz(f, IMAP, TCP, []appsChunk{srv(imapGreeting + "* 1 FETCH (BODY[] {5}\r\nhello)\r\nA1 OK\r\n"), cli("A1 LOGIN a b\r\nA2 APPEND X {3}\r\nabc\r\n")})
}
