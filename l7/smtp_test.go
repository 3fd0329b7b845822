package l7

import "testing"

// A session as curl 7.88 and OpenSMTPD 6.8 have it
// (a real exchange is recorded in l7/testdata/captures/smtp.pcap).
const (
	smtpGreeting = "220 mail.shop.test ESMTP OpenSMTPD\r\n"
	smtpEhlo     = "EHLO client.shop.test\r\n"
	smtpEhloResp = "250-mail.shop.test Hello client.shop.test [198.18.0.11], pleased to meet you\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-SIZE 36700160\r\n250-DSN\r\n250 HELP\r\n"
	smtpMail     = "MAIL FROM:<app@shop.test>\r\n"
	smtpRcpt     = "RCPT TO:<ops@shop.test>\r\n"
	smtpData     = "DATA\r\n"
	smtpBody     = "Subject: hi\r\n\r\nMAIL FROM:<not a command>\r\n.\r\n"
	smtpQuit     = "QUIT\r\n"
)

func TestSMTPDetect(t *testing.T) {
	tests := []struct {
		dir  Dir
		in   string
		want Match
	}{
		{FromServer, smtpGreeting, Matched},
		{FromServer, "220 mail.shop.test", NeedMore},
		{FromServer, "220 (vsFTPd 3.0.3)\r\n", NoMatch},
		{FromServer, "22", NeedMore},
		{FromServer, "220x", NoMatch},
		{FromClient, smtpEhlo, Matched},
		{FromClient, "helo x\r\n", Matched},
		{FromClient, "EH", NeedMore},
		{FromClient, "USER bob\r\n", NoMatch},
	}
	for _, tc := range tests {
		if got := detectSMTP(tc.dir, []byte(tc.in)); got != tc.want {
			t.Errorf("detectSMTP(%v, %q) = %v, want %v", tc.dir, tc.in, got, tc.want)
		}
	}
}

func TestSMTPParse(t *testing.T) {
	appsRunCases(t, SMTP, TCP, []appsCase{{
		name: "mail",
		chunks: []appsChunk{srv(smtpGreeting), cli(smtpEhlo), srv(smtpEhloResp), cli(smtpMail), srv("250 2.0.0 Ok\r\n"), cli(smtpRcpt),
			srv("250 2.1.5 Destination address valid\r\n"), cli(smtpData), srv("354 Enter mail\r\n"), cli(smtpBody),
			srv("250 2.0.0 Message accepted\r\n"), cli(smtpQuit), srv("221 Bye\r\n")},
		want: []string{
			`resp smtp Status=220`, `req smtp Command="EHLO"`, `resp smtp Status=250`, `req smtp Command="MAIL"`, `resp smtp Status=250`,
			`req smtp Command="RCPT"`, `resp smtp Status=250`, `req smtp Command="DATA"`, `resp smtp Status=354`,
			`resp smtp Status=250`, `req smtp Command="QUIT"`, `resp smtp Status=221`,
		},
		summary: `{"greeting":"220 mail.shop.test ESMTP OpenSMTPD","helo":"client.shop.test","commands":["EHLO","MAIL","RCPT","DATA","QUIT"]}`,
	}, {
		name:    "starttls",
		chunks:  []appsChunk{srv(smtpGreeting), cli(smtpEhlo), srv("250 STARTTLS\r\n"), cli("STARTTLS\r\n"), srv("220 2.0.0 Ready to start TLS\r\n"), cli("\x16\x03\x01\x02\x00"), srv("\x16\x03\x03")},
		want:    []string{`resp smtp Status=220`, `req smtp Command="EHLO"`, `resp smtp Status=250`, `req smtp Command="STARTTLS"`, `resp smtp Status=220`, `note STARTTLS`},
		summary: `{"greeting":"220 mail.shop.test ESMTP OpenSMTPD","helo":"client.shop.test","commands":["EHLO","STARTTLS"],"starttls":true}`,
	}, {
		name:    "starttls refused, bdat",
		chunks:  []appsChunk{cli("EHLO x\r\nSTARTTLS\r\n"), srv("250 ok\r\n454 TLS not available\r\n"), cli("BDAT 5 LAST\r\nhelloQUIT\r\n\r\n")},
		want:    []string{`req smtp Command="EHLO"`, `req smtp Command="STARTTLS"`, `resp smtp Status=250`, `resp smtp Status=454`, `req smtp Command="BDAT"`, `req smtp Command="QUIT"`},
		summary: `{"greeting":"250 ok","helo":"x","commands":["EHLO","STARTTLS","BDAT","QUIT"]}`,
	}, {
		name:   "reply without code",
		chunks: []appsChunk{srv("hello\r\n")},
		want:   []string{`error smtp: reply line "hello" has no status code`},
	}})
}

func FuzzSMTP(f *testing.F) {
	appsFuzz(f, SMTP, TCP, []appsChunk{srv(smtpGreeting + smtpEhloResp + "354 go\r\n"), cli(smtpEhlo + smtpMail + smtpRcpt + smtpData + smtpBody + smtpQuit)})
}
